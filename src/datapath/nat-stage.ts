// The egress gateway and masquerading in the pipeline (issue 6), over the NAT core in
// src/nat/. Three hooks, each one line in ipv4-path.ts / ipv6-path.ts:
//
//   natEgress  before the route lookup of a packet being forwarded. Looks the packet up in the
//              egress table and decides (NatSettings.decide): REDIRECT sends it unchanged to
//              the gateway node (VXLAN when the node's VXLAN is on, else straight to the
//              gateway's underlay address as next hop) and returns true; DROP_NO_GATEWAY drops;
//              SNAT_EGRESS / MASQUERADE parse it and leave `pending` set, so that the normal
//              path does its route lookup, TTL and PMTU checks first (an ICMP error about a
//              packet too big must reach the endpoint's own address, not the egress IP).
//   natApply   after the TTL decrement, before transmission or fragmentation: conntrack and the
//              source rewrite; false = dropped (counted by its reason).
//   natLocal   a packet to one of our addresses: a reply to a translated flow (or an ICMP error
//              about one) is reverse-translated and routed again toward the endpoint, through
//              its node (the dispatcher runs it again: receive.ts). To an egress IP without an entry: dropped as
// unsolicited; to the node's
//              own address: local delivery goes on.
//
// "From an endpoint" (masquerading applies only to those) means: received on an endpoint
// port with that endpoint's own source address (a DSR reply from a VIP is not masqueraded).
// Later fragments are dropped and counted (no reassembly yet). Nothing here allocates.
import { type Datapath, VIA_NAT } from './state.js';
import { C } from './counters.js';
import { sendToNeighbour, SEND_FORWARD, SEND_FRAGMENT } from './output.js';
import { wgSendToPeer } from './wg-send.js';
import { wgPeerOfNode } from './wg-keys.js';
import { sendIcmp4Error, sendIcmp6Error } from './icmp-errors.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { vxlanSend } from './vxlan.js';
import { checksumPartial, isGso, superWireLen, resolveSuper } from './superframe.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import {
  IPV4_SRC,
  IPV4_DST,
  IPV4_TTL,
  IPPROTO_ICMPV6,
  ipv4TotalLen,
  ipv4DontFragment,
  ipv4DecrementTtl,
} from '../wire/ipv4.js';
import { IPV6_SRC, IPV6_DST, IPV6_HOPS, IPV6_HLEN, ipv6PayloadLen } from '../wire/ipv6.js';
import { ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, ICMP_CODE_FRAG_NEEDED, ICMP_CODE_TTL_EXCEEDED } from '../wire/icmp.js';
import { ICMPV6_TIME_EXCEEDED, ICMPV6_PACKET_TOO_BIG, ND_ROUTER_SOLICIT, ND_REDIRECT } from '../wire/icmpv6.js';
import { PORT_KIND_ENDPOINT } from '../tables/port-table.js';
import {
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_AUX,
  ROUTE_CONNECTED,
  ROUTE_VIA,
  ROUTE_TUNNEL,
  WG_PORT,
} from '../tables/layout.js';
import { wordsToBytes } from '../wire/bytes.js';
import { ctNowSec } from '../lb/conntrack.js';
import { CT_HIT, CT_NEW, CT_PORTS_EXHAUSTED, CT_TABLE_FULL, CT_INSERT_FAILED } from '../nat/conntrack.js';
import { EV_FLAGS, EGRESS_GATEWAY_V6 } from '../nat/egress-table.js';
import {
  NAT_DECIDE_NONE,
  NAT_DECIDE_REDIRECT,
  NAT_DECIDE_DROP_NO_GATEWAY,
  NAT_DECIDE_MASQUERADE,
} from '../nat/masquerade.js';
import { natParse, NAT_OK, NAT_ICMP_ERROR, NAT_LATER_FRAGMENT } from '../nat/packet.js';
import { natRewriteSource, natRewriteDestination, natRewriteIcmpError, SIDE_SRC, SIDE_DST } from '../nat/snat.js';
import { LOCAL_NONE, LOCAL_EGRESS_IP } from '../nat/local-ips.js';

/** The source is the endpoint's own address: its host route leads to the port the packet came in on. */
function ownSource(dp: Datapath, port: number, family: number, b: Uint8Array, srcOff: number): boolean {
  const r = dp.route;
  return (
    dp.routes.lookup(family === 4 ? 4 : 6, b, srcOff, r) === (family === 4 ? 32 : 128) &&
    r[ROUTE_TYPE] === ROUTE_CONNECTED &&
    r[ROUTE_PORT] === port
  );
}

/** Hook 1 (forwarding, before the route lookup). True: the packet is dealt with (sent or dropped). */
export function natEgress(dp: Datapath, port: number, off: number, ip: number, family: number): boolean {
  const n = dp.nat!;
  n.pending = 0;
  const b = dp.arena.bytes;
  const srcOff = ip + (family === 4 ? IPV4_SRC : IPV6_SRC);
  const dstOff = ip + (family === 4 ? IPV4_DST : IPV6_DST);
  const len = n.eg.lookup(family, b, srcOff, dstOff, n.ev);
  const fromEp = dp.ports.kind(port) === PORT_KIND_ENDPOINT;
  if (len < 0 && !fromEp) return false;
  const d = n.st.decide(family, b, dstOff, fromEp, len, n.ev, n.addr);
  if (d === NAT_DECIDE_NONE || (d === NAT_DECIDE_MASQUERADE && !ownSource(dp, port, family, b, srcOff))) return false;
  if (d === NAT_DECIDE_DROP_NO_GATEWAY) {
    dp.ctr[C.dropNatNoGateway]++;
    return true;
  }
  if (d === NAT_DECIDE_REDIRECT) {
    redirect(dp, port, off, ip, family);
    return true;
  }
  const end = family === 4 ? ip + ipv4TotalLen(b, ip) : ip + IPV6_HLEN + ipv6PayloadLen(b, ip);
  const v = natParse(b, ip, end - ip, n.p);
  if (v === NAT_OK || v === NAT_ICMP_ERROR) {
    n.pending = d;
    n.verdict = v;
    return false;
  }
  dp.ctr[v === NAT_LATER_FRAGMENT ? C.dropNatLaterFragment : C.dropNatUnsupported]++;
  return true;
}

/** Hook 2 (after the TTL decrement): conntrack + source rewrite. False: dropped and counted. */
export function natApply(dp: Datapath): boolean {
  const n = dp.nat!;
  const d = n.pending;
  n.pending = 0;
  const b = dp.arena.bytes,
    p = n.p,
    ct = n.ct;
  if (n.verdict === NAT_ICMP_ERROR) {
    if (ct.icmpErrorOutbound(p, b) !== CT_HIT) {
      dp.ctr[C.dropNatNoEntry]++;
      return false;
    }
    natRewriteIcmpError(b, p, SIDE_SRC, ct.xlate, 0, ct.xlate[4]);
    dp.ctr[C.natIcmpErrors]++;
    return true;
  }
  const r = ct.outbound(p, b, n.addr, 0, ctNowSec(dp.now));
  if (r === CT_HIT || r === CT_NEW) {
    natRewriteSource(b, p, ct.xlate, 0, ct.xlate[4], checksumPartial(dp));
    dp.ctr[d === NAT_DECIDE_MASQUERADE ? C.natMasqueraded : C.natTranslated]++;
    return true;
  }
  if (r === CT_PORTS_EXHAUSTED) dp.ctr[C.dropNatPortsExhausted]++;
  else if (r === CT_TABLE_FULL || r === CT_INSERT_FAILED) dp.ctr[C.dropNatTableFull]++;
  else dp.ctr[C.dropNatNoEntry]++;
  return false;
}

/** Hook 3 (a packet to one of our addresses). True: dealt with (reverse-translated and routed, or dropped). */
export function natLocal(dp: Datapath, port: number, off: number, ip: number, family: number): boolean {
  const n = dp.nat!;
  if ((dp.via & VIA_NAT) !== 0) return false;
  const b = dp.arena.bytes;
  const kind = n.local.kindOf(family, b, ip + (family === 4 ? IPV4_DST : IPV6_DST));
  if (kind === LOCAL_NONE) return false;
  // Neighbour discovery for our addresses is the router's business.
  const w = dp.walk6;
  if (
    family === 6 &&
    w.proto === IPPROTO_ICMPV6 &&
    !w.laterFragment &&
    b[w.l4Off]! >= ND_ROUTER_SOLICIT &&
    b[w.l4Off]! <= ND_REDIRECT
  )
    return false;
  const end = family === 4 ? ip + ipv4TotalLen(b, ip) : ip + IPV6_HLEN + ipv6PayloadLen(b, ip);
  const p = n.p,
    ct = n.ct;
  const v = natParse(b, ip, end - ip, p);
  let hit = false;
  if (v === NAT_OK) {
    if (ct.inbound(p, b, ctNowSec(dp.now)) === CT_HIT) {
      natRewriteDestination(b, p, ct.xlate, 0, ct.xlate[4], checksumPartial(dp));
      hit = true;
    }
  } else if (v === NAT_ICMP_ERROR) {
    if (ct.icmpErrorInbound(p, b) === CT_HIT) {
      natRewriteIcmpError(b, p, SIDE_DST, ct.xlate, 0, ct.xlate[4]);
      dp.ctr[C.natIcmpErrors]++;
      hit = true;
    }
  }
  if (!hit) {
    if (kind !== LOCAL_EGRESS_IP) return false;
    dp.ctr[v === NAT_LATER_FRAGMENT ? C.dropNatLaterFragment : C.dropNatUnsolicited]++;
    return true;
  }
  dp.ctr[C.natReversed]++;
  dp.reenter(VIA_NAT, port, off, ETH_HLEN + (end - ip));
  return true;
}

/** Sends the packet unchanged toward the gateway node whose underlay address natEgress put in n.addr. */
function redirect(dp: Datapath, port: number, off: number, ip: number, family: number): void {
  const n = dp.nat!;
  const b = dp.arena.bytes;
  const gfam = n.ev[EV_FLAGS]! & EGRESS_GATEWAY_V6 ? 6 : 4;
  wordsToBytes(n.addr, 0, n.gw, gfam === 4 ? 1 : 4);
  const r = dp.route;
  const walk = dp.walk6;
  const l4Proto = family === 6 && !walk.laterFragment ? walk.proto : -1;
  const l4Off = family === 6 && !walk.laterFragment ? walk.l4Off : -1;
  if (dp.routes.lookup(gfam, n.gw, 0, r) < 0 || (r[ROUTE_TYPE] !== ROUTE_CONNECTED && r[ROUTE_TYPE] !== ROUTE_VIA)) {
    dp.ctr[C.dropNatNoGateway]++;
    return;
  }
  if (family === 4 ? b[ip + IPV4_TTL]! <= 1 : b[ip + IPV6_HOPS]! <= 1) {
    dp.ctr[C.dropTtlExceeded]++;
    if (family === 4) sendIcmp4Error(dp, port, off, ip, ICMP_TIME_EXCEEDED, ICMP_CODE_TTL_EXCEEDED, 0);
    else sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_TIME_EXCEEDED, 0, 0);
    return;
  }
  const out = r[ROUTE_PORT]!;
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return;
  }
  // With cluster encryption the gateway node is a WireGuard peer: the redirect rides the tunnel.
  const peer = dp.wg?.enabled() ? wgPeerOfNode(dp.wg, gfam, n.gw) : -1;
  if (peer >= 0) {
    redirectOut(dp, port, off, ip, family, l4Proto, l4Off, WG_PORT, gfam, n.gw, peer);
    return;
  }
  if (dp.settings.vxlanEnabled()) {
    dp.ctr[C.natRedirected]++;
    // The node-to-node path of a VXLAN cluster: encapsulated to the gateway's VTEP.
    r[ROUTE_TYPE] = ROUTE_TUNNEL;
    r[ROUTE_AUX] = gfam;
    for (let i = 0; i < 4; i++) r[ROUTE_NEXTHOP + i] = n.addr[i]!;
    vxlanSend(dp, port, off, ip, family, l4Proto, l4Off);
    return;
  }
  let nh = n.gw;
  if (r[ROUTE_TYPE] === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, n.nh, gfam === 4 ? 1 : 4);
    nh = n.nh;
  }
  redirectOut(dp, port, off, ip, family, l4Proto, l4Off, out, gfam, nh, -1);
}

/**
 * The redirect's last step toward the gateway: out of `out` to neighbour nh (peer −1), or into
 * the WireGuard device toward `peer` — the egress port's MTU (frag needed / packet too big, or
 * fragments without DF), TTL decrement, send.
 */
function redirectOut(
  dp: Datapath,
  port: number,
  off: number,
  ip: number,
  family: number,
  l4Proto: number,
  l4Off: number,
  out: number,
  gfam: number,
  nh: Uint8Array,
  peer: number,
): void {
  const b = dp.arena.bytes;
  const total = family === 4 ? ipv4TotalLen(b, ip) : IPV6_HLEN + ipv6PayloadLen(b, ip);
  const mtu = dp.ports.mtu(out);
  // A super-frame is measured by its segments, never fragmented.
  const wire = superWireLen(dp, total);
  if (wire > mtu && (family === 6 || ipv4DontFragment(b, ip) || isGso(dp))) {
    dp.ctr[C.dropTooBig]++;
    if (family === 4) sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, mtu);
    else sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_PACKET_TOO_BIG, 0, mtu);
    return;
  }
  dp.ctr[C.natRedirected]++;
  if (family === 4) ipv4DecrementTtl(b, ip);
  else b[ip + IPV6_HOPS]--;
  if (wire <= mtu) {
    if (peer >= 0) wgSendToPeer(dp, peer, off, ETH_HLEN + total, SEND_FORWARD);
    else sendToNeighbour(dp, out, gfam, nh, 0, off, ETH_HLEN + total);
    return;
  }
  resolveSuper(dp, off, ETH_HLEN + total); // fragments carry finished checksums
  const k = fragmentIpv4(dp, off, ip, mtu);
  if (k === 0) return;
  dp.ctr[C.fragmented]++;
  for (let i = 0; i < k; i++) {
    if (peer >= 0) wgSendToPeer(dp, peer, fragOff[i], fragLen[i], SEND_FRAGMENT);
    else sendToNeighbour(dp, out, gfam, nh, 0, fragOff[i], fragLen[i], SEND_FRAGMENT);
  }
}
