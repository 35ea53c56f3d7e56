// The standalone L4 load balancer's datapath (Cilium 1.10's XDP L4LB with DSR over IPIP):
// packets to a service (VIP, L4 destination port, TCP/UDP) are sent to a Maglev-chosen
// backend inside an outer IPv4 (protocol 4, IPIP) or IPv6 (next header 41, IP6IP6) header;
// the backend decapsulates (ipipDecapsulate below, on a normal Weft node), owns the VIP on its
// loopback and replies straight to the client (direct server return).
//
// Selection: hash = lbFlowHash(client address, client port, destination port, protocol) —
// not the destination address (Cilium hashes the tuple without the VIP too) — and
// LbReader.pickBackend(hash) gives the backend. The hash is MurmurHash3_x86_32's body and
// fmix32 over 32-bit words (Math.imul, no allocation).
//
// Outer header: destination the backend; source the node-wide prefix of the family
// (NodeSettings.setLbSourcePrefix) with its host bits from lbSourceHash(client address,
// client port), so one client socket always gets the same outer source and different sockets
// spread (the backend's RSS / ECMP see distinct flows); without a prefix, the egress port's
// address. Outer TTL / hop limit 64; outer IPv4: DF copied from the inner packet, ID copied
// from the inner packet, checksum computed; outer IPv6: traffic class and flow label 0.
// The outer destination is routed (on-link or via a gateway; anything else is
// dropLbNoRouteToBackend) and the frame goes to the neighbour like any forwarded frame: its
// outcome is forwarded / pendingQueued / dropTxFull..., with lbForwarded as information.
//
// Decisions:
// - The inner packet is not touched (no TTL / hop-limit decrement: the LB is a "bump in the
//   wire" toward the backend, as Cilium's XDP LB), except with SVC_FLAG_L4_XLATE: the inner
//   destination port becomes the backend's port, TCP/UDP checksum updated incrementally
//   (RFC 1624; a zero UDP checksum over IPv4 stays zero, a computed zero is sent as 0xffff).
// - Only TCP and UDP are balanced. Other protocols to a VIP are routed as usual (the VIP is not
//   ours: normally no route, the existing behaviour).
// - First fragments and unfragmented packets with a complete L4 header (TCP: data offset
//   valid; UDP: 8 bytes) are balanced. Later fragments to a VIP (recognised through the VIP
//   marker, SVC_VIP_MARKER, as they carry no ports) are dropLbFragment, as Cilium does
//   without its fragment tracking. A TCP/UDP packet to a VIP whose L4 header is truncated
//   (too short for the ports, or for the header) is dropL4Truncated. A TCP/UDP packet to a
//   VIP on a port without a service is routed as usual.
// - No backend (empty service, drained weights, lookups racing a rebuild): dropLbNoBackend.
//   A backend of the other address family: dropLbBackendFamily (Cilium 1.10 does not mix).
// - PMTU: inner length + 20 (IPv4) / + 40 (IPv6) above the egress MTU: IPv4 with DF and every
//   IPv6 packet get ICMP frag needed (MTU − 20) / packet too big (MTU − 40) from the VIP,
//   quoting the original packet, and count dropTooBig. IPv4 without DF is fragmented first
//   (fragment.ts, to MTU − 20; DF is clear so the outer headers are too) and every fragment
//   is encapsulated with the same outer source; the packet's outcome is `fragmented`.
// - Frames that came out of an IPIP / IP6IP6 decapsulation are never balanced (no loops).
// - Services with SVC_FLAG_CONNTRACK look the flow up in the shared connection table first
//   (src/lb/conntrack.ts: design, bounds, flood bypass); a valid entry's backend is used
//   instead of Maglev's. Counters (information): lbConntrackHit, lbConntrackInserted,
//   lbConntrackStale (entry's backend no longer in the service: re-picked and overwritten),
//   lbConntrackFull (insert refused), lbConntrackBypass (over the new-flow rate, not tracked).
//
// Backend side (ipipDecapsulate): IPv4 protocol 4 / IPv6 next header 41 (either outer family,
// the inner family is the protocol's), not a fragment, addressed to one of our addresses and
// received on an uplink port: the outer IP header is cut off (the Ethernet header moves up
// in front of the inner packet) and the inner packet runs through the pipeline as if received
// on the same port (routed by its destination with TTL decrement, ICMP errors back out of
// that port). Inner version not matching the protocol, or an empty inner packet:
// dropIpipMalformed; the inner packet's own checks count as usual. Nested tunnels (IPIP or
// VXLAN inside the decapsulated packet to our address) are not opened: dropLocalUnhandled.
import { Datapath } from './state.js';
import { mixWord, fmix32 } from '../wire/hash32.js';
import { C } from './counters.js';
import { sendToNeighbour } from './output.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { sendIcmp4Error, sendIcmp6Error } from './icmp-errors.js';
import { handleIpv4 } from './ipv4-path.js';
import { handleIpv6 } from './ipv6-path.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import {
  IPV4_MIN_HLEN, IPV4_SRC, IPV4_DST, IPV4_PROTO, IPV4_ID, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPIP, IPPROTO_IPV6,
  ipv4HeaderLen, ipv4TotalLen, ipv4DontFragment, ipv4IsLaterFragment, writeIpv4Header,
} from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_SRC, IPV6_DST, writeIpv6Header } from '../wire/ipv6.js';
import { ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED } from '../wire/icmp.js';
import { ICMPV6_PACKET_TOO_BIG } from '../wire/icmpv6.js';
import { TCP_DST_PORT, TCP_CSUM, tcpHeaderValid } from '../wire/tcp.js';
import { UDP_HLEN, UDP_CSUM, UDP_SRC_PORT } from '../wire/udp.js';
import { update16 } from '../wire/checksum.js';
import { get16, put16, copy, wordsToBytes } from '../wire/bytes.js';
import { fillServiceKey } from '../lb/tables.js';
import { fillConnKey, ctNowSec, CT_BACKEND, CT_BACKEND_ADDR, CT_BACKEND_PORT, CT_LAST_SEEN } from '../lb/conntrack.js';
import { PORT_HAS_IPV4, PORT_HAS_IPV6, PORT_KIND_UPLINK, PORT_DSR_BACKEND } from '../tables/port-table.js';
import {
  ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_CONNECTED, ROUTE_VIA, SVC_FLAGS, SVC_SLOT, SVC_VIP_MARKER,
  SVC_FLAG_L4_XLATE, SVC_FLAG_CONNTRACK, BACKEND_FAMILY, BACKEND_ADDR, BACKEND_PORT, SET_LB4_SRC, SET_LB6_SRC,
} from '../tables/layout.js';

/** Outer TTL / hop limit of what the load balancer sends. */
export const LB_OUTER_TTL = 64;

/** Seeds of the two hashes (any constants; fixed so every worker and node agrees). */
const SEED_SELECT = 0x4c42534c; // "LBSL"
const SEED_SOURCE = 0x4c425352; // "LBSR"

// Scratch, reused for every packet.
const backendAddr = new Uint8Array(16);
const outerSrc = new Uint8Array(16);
const nexthop = new Uint8Array(16);


function hashAddr(h: number, b: Uint8Array, o: number, alen: number): number {
  for (let i = 0; i < alen; i += 4) h = mixWord(h, (b[o + i] << 24) | (b[o + i + 1] << 16) | (b[o + i + 2] << 8) | b[o + i + 3]);
  return h;
}

/**
 * The backend selection hash: client address (alen = 4 or 16 bytes at b[o]), client port,
 * service port, IP protocol. Unsigned 32 bits.
 */
export function lbFlowHash(b: Uint8Array, o: number, alen: number, sport: number, dport: number, proto: number): number {
  let h = hashAddr(SEED_SELECT, b, o, alen);
  h = mixWord(h, ((sport & 0xffff) << 16) | (dport & 0xffff));
  h = mixWord(h, proto & 0xff);
  return fmix32(h ^ (alen + 5));
}

/** The outer source hash: client address and client port. Unsigned 32 bits. */
export function lbSourceHash(b: Uint8Array, o: number, alen: number, sport: number): number {
  let h = hashAddr(SEED_SOURCE, b, o, alen);
  h = mixWord(h, sport & 0xffff);
  return fmix32(h ^ (alen + 2));
}

/**
 * Writes the outer source for a client (source hash `sh`) into dst[0..4|16): the prefix of
 * the family with host bits from the hash (every 32-bit word of host bits from its own mix of
 * it). False when no prefix is set.
 */
export function lbOuterSource(dp: Datapath, family: number, sh: number, dst: Uint8Array): boolean {
  const w = dp.settings.words;
  const plen = dp.settings.lbSourcePrefixLen(family);
  if (plen < 0) return false;
  const n = family === 4 ? 1 : 4;
  const base = family === 4 ? SET_LB4_SRC : SET_LB6_SRC;
  for (let i = 0; i < n; i++) {
    const bits = plen - 32 * i;
    const mask = bits <= 0 ? 0 : bits >= 32 ? -1 : ~(0xffffffff >>> bits);
    const host = i === n - 1 ? sh : fmix32(sh ^ Math.imul(i + 1, 0x9e3779b9) ^ 4);
    const x = (w[base + i] & mask) | (host & ~mask);
    dst[4 * i] = x >>> 24;
    dst[4 * i + 1] = (x >>> 16) & 0xff;
    dst[4 * i + 2] = (x >>> 8) & 0xff;
    dst[4 * i + 3] = x & 0xff;
  }
  return true;
}

/**
 * The load-balancer stage of the IPv4 path, before routing (frame at off received on port,
 * checked IPv4 header at ip). Returns true when it took the packet (its outcome is counted),
 * false to route it as usual.
 */
export function lbIpv4(dp: Datapath, port: number, off: number, ip: number): boolean {
  const lb = dp.lb;
  if (lb === null || dp.ipipDepth !== 0) return false;
  const b = dp.arena.bytes;
  const proto = b[ip + IPV4_PROTO];
  if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return false;
  const hlen = ipv4HeaderLen(b, ip);
  const total = ipv4TotalLen(b, ip);
  return balance(dp, port, off, ip, 4, proto, ip + hlen, total - hlen, ipv4IsLaterFragment(b, ip), total);
}

/** The same for IPv6, after the extension-header walk (dp.walk6) and the local checks. */
export function lbIpv6(dp: Datapath, port: number, off: number, ip: number, end: number): boolean {
  const lb = dp.lb;
  if (lb === null || dp.ipipDepth !== 0) return false;
  const w = dp.walk6;
  const proto = w.proto;
  if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return false;
  return balance(dp, port, off, ip, 6, proto, w.l4Off, end - w.l4Off, w.laterFragment, end - ip);
}

function balance(
  dp: Datapath, port: number, off: number, ip: number, family: 4 | 6, proto: number, l4: number, l4avail: number,
  later: boolean, total: number,
): boolean {
  const lb = dp.lb!;
  const b = dp.arena.bytes;
  const vip = ip + (family === 4 ? IPV4_DST : IPV6_DST);
  if (later || l4avail < 4) {
    // No ports to look at: is the destination a VIP at all?
    fillServiceKey(lb.key, family, b, vip, 0, proto);
    if (!lb.findService() || lb.service[SVC_SLOT] !== SVC_VIP_MARKER) return false;
    if (later) dp.ctr[C.dropLbFragment]++;
    else dp.ctr[C.dropL4Truncated]++;
    return true;
  }
  const dport = get16(b, l4 + 2);
  fillServiceKey(lb.key, family, b, vip, dport, proto);
  if (!lb.findService() || lb.service[SVC_SLOT] === SVC_VIP_MARKER) return false;
  if (proto === IPPROTO_TCP ? !tcpHeaderValid(b, l4, l4avail) : l4avail < UDP_HLEN) {
    dp.ctr[C.dropL4Truncated]++;
    return true;
  }
  const src = ip + (family === 4 ? IPV4_SRC : IPV6_SRC);
  const alen = family === 4 ? 4 : 16;
  const sport = get16(b, l4 + UDP_SRC_PORT);
  // Connection table (SVC_FLAG_CONNTRACK, src/lb/conntrack.ts): a tracked flow keeps its backend
  // while that backend stays in the service; 0 untracked, 1 hit, 2 to insert, 3 to overwrite.
  let ct = 0;
  let nowSec = 0;
  const cr = lb.conntrack;
  if ((lb.service[SVC_FLAGS] & SVC_FLAG_CONNTRACK) !== 0) {
    nowSec = ctNowSec(dp.now);
    fillConnKey(cr.key, family, b, src, vip, sport, dport, proto);
    const v = cr.value;
    ct = 2;
    if (cr.map.lookup(cr.key, 0, v, 0)) {
      if (lb.useBackend(v[CT_BACKEND], family, v, CT_BACKEND_ADDR, v[CT_BACKEND_PORT])) {
        ct = 1;
        dp.ctr[C.lbConntrackHit]++;
        if (v[CT_LAST_SEEN] !== nowSec) {
          v[CT_LAST_SEEN] = nowSec;
          cr.map.update(cr.key, 0, v, 0);
        }
      } else {
        ct = 3;
        dp.ctr[C.lbConntrackStale]++;
      }
    }
  }
  let id = -1;
  if (ct !== 1 && (id = lb.pickBackend(lbFlowHash(b, src, alen, sport, dport, proto))) < 0) {
    dp.ctr[C.dropLbNoBackend]++;
    return true;
  }
  const be = lb.backend;
  if (be[BACKEND_FAMILY] !== family) {
    dp.ctr[C.dropLbBackendFamily]++;
    return true;
  }
  lb.countPacket(id >= 0 ? id : lb.conntrack.value[CT_BACKEND], total);
  if (ct === 2 && !cr.takeNewFlowToken(dp.now)) {
    dp.ctr[C.lbConntrackBypass]++;
  } else if (ct >= 2) {
    const v = cr.value;
    v[CT_BACKEND] = id;
    for (let i = 0; i < 4; i++) v[CT_BACKEND_ADDR + i] = be[BACKEND_ADDR + i];
    v[CT_BACKEND_PORT] = be[BACKEND_PORT];
    v[CT_LAST_SEEN] = nowSec;
    if (cr.map.insert(cr.key, 0, v, 0)) dp.ctr[C.lbConntrackInserted]++;
    else dp.ctr[C.lbConntrackFull]++;
  }
  for (let i = 0; i < 4; i++) {
    const x = be[BACKEND_ADDR + i];
    backendAddr[4 * i] = x >>> 24;
    backendAddr[4 * i + 1] = (x >>> 16) & 0xff;
    backendAddr[4 * i + 2] = (x >>> 8) & 0xff;
    backendAddr[4 * i + 3] = x & 0xff;
  }
  // The route toward the backend (outer destination).
  const r = dp.underlayRoute;
  if (dp.routes.lookup(family, backendAddr, 0, r) < 0) {
    dp.ctr[C.dropLbNoRouteToBackend]++;
    return true;
  }
  const type = r[ROUTE_TYPE];
  if (type !== ROUTE_CONNECTED && type !== ROUTE_VIA) {
    dp.ctr[C.dropLbNoRouteToBackend]++;
    return true;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return true;
  }
  const pb = dp.ports.bytes;
  const sh = lbSourceHash(b, src, alen, sport);
  let srcBytes: Uint8Array = outerSrc;
  let srcOff = 0;
  if (!lbOuterSource(dp, family, sh, outerSrc)) {
    if ((dp.ports.flags(out) & (family === 4 ? PORT_HAS_IPV4 : PORT_HAS_IPV6)) === 0) {
      dp.ctr[C.dropLbNoRouteToBackend]++;
      return true;
    }
    srcBytes = pb;
    srcOff = family === 4 ? dp.ports.ipv4Off(out) : dp.ports.ipv6Off(out);
  }
  const overhead = family === 4 ? IPV4_MIN_HLEN : IPV6_HLEN;
  const mtu = dp.ports.mtu(out);
  const room = mtu - overhead;
  const df = family === 4 && ipv4DontFragment(b, ip);
  const fragment = total > room && family === 4 && !df;
  if (total > room && !fragment) {
    dp.ctr[C.dropTooBig]++;
    if (family === 4) sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, room, b, vip);
    else sendIcmp6Error(dp, port, off, ip, proto, l4, ICMPV6_PACKET_TOO_BIG, 0, room, b, vip);
    return true;
  }
  if (lb.service[SVC_FLAGS] & SVC_FLAG_L4_XLATE) xlatePort(dp, family, proto, l4, be[BACKEND_PORT]);
  // The next hop toward the backend.
  let nh = backendAddr;
  if (type === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, nexthop, 4);
    nh = nexthop;
  }
  dp.ctr[C.lbForwarded]++;
  if (!fragment) {
    const o = encapsulate(b, off, ip, family, total, df, srcBytes, srcOff);
    sendToNeighbour(dp, out, family, nh, 0, o, ETH_HLEN + overhead + total);
    return true;
  }
  const n = fragmentIpv4(dp, off, ip, room);
  if (n === 0) return true;
  dp.ctr[C.fragmented]++;
  for (let k = 0; k < n; k++) {
    const f = fragOff[k];
    const o = encapsulate(b, f, f + ETH_HLEN, 4, fragLen[k] - ETH_HLEN, false, srcBytes, srcOff);
    sendToNeighbour(dp, out, 4, nh, 0, o, fragLen[k] + overhead, 1);
  }
  return true;
}

/** Rewrites the inner destination port with an incremental L4 checksum update (RFC 1624). */
function xlatePort(dp: Datapath, family: number, proto: number, l4: number, newPort: number): void {
  const b = dp.arena.bytes;
  const old = get16(b, l4 + TCP_DST_PORT);
  if (old === newPort) return;
  put16(b, l4 + TCP_DST_PORT, newPort);
  dp.ctr[C.lbL4Xlated]++;
  if (proto === IPPROTO_TCP) {
    put16(b, l4 + TCP_CSUM, update16(get16(b, l4 + TCP_CSUM), old, newPort));
    return;
  }
  const c = get16(b, l4 + UDP_CSUM);
  if (c === 0 && family === 4) return;
  const n = update16(c, old, newPort);
  put16(b, l4 + UDP_CSUM, n === 0 ? 0xffff : n);
}

/**
 * Writes the outer Ethernet type and IP header in front of the packet at ip (frame at off,
 * `total` bytes of IP); returns the outer frame's offset. The outer MACs are sendToNeighbour's.
 */
function encapsulate(
  b: Uint8Array, off: number, ip: number, family: number, total: number, df: boolean, src: Uint8Array, srcOff: number,
): number {
  if (family === 4) {
    const oip = ip - IPV4_MIN_HLEN;
    const id = get16(b, ip + IPV4_ID);
    writeIpv4Header(b, oip, IPV4_MIN_HLEN + total, id, df, LB_OUTER_TTL, IPPROTO_IPIP, src, srcOff, backendAddr, 0);
    put16(b, oip - ETH_HLEN + ETH_TYPE, ETHERTYPE_IPV4);
    return off - IPV4_MIN_HLEN;
  }
  const oip = ip - IPV6_HLEN;
  writeIpv6Header(b, oip, total, IPPROTO_IPV6, LB_OUTER_TTL, src, srcOff, backendAddr, 0);
  put16(b, oip - ETH_HLEN + ETH_TYPE, ETHERTYPE_IPV6);
  return off - IPV6_HLEN;
}

/**
 * True when the packet to one of our addresses (protocol / next header `proto`, not a
 * fragment) is an IPIP / IP6IP6 packet this node decapsulates.
 */
export function isIpip(dp: Datapath, port: number, proto: number): boolean {
  return (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) && dp.ipipDepth === 0 && dp.ports.kind(port) === PORT_KIND_UPLINK;
}

/**
 * Decapsulates the IPIP / IP6IP6 packet whose inner packet is at inner (innerLen bytes; frame
 * at off, received on port) and runs the inner packet through the pipeline on the same port.
 */
export function ipipDecapsulate(dp: Datapath, port: number, off: number, proto: number, inner: number, innerLen: number): void {
  const b = dp.arena.bytes;
  const version = proto === IPPROTO_IPIP ? 4 : 6;
  if (innerLen < 1 || b[inner] >>> 4 !== version) {
    dp.ctr[C.dropIpipMalformed]++;
    return;
  }
  // The Ethernet header moves up in front of the inner packet (it cannot overlap: the outer
  // IP header is at least 20 bytes).
  const f = inner - ETH_HLEN;
  copy(b, f, b, off, 12);
  put16(b, f + ETH_TYPE, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dp.ctr[C.ipipDecapsulated]++;
  dp.ipipDepth = 1;
  if (version === 4) handleIpv4(dp, port, f, ETH_HLEN + innerLen);
  else handleIpv6(dp, port, f, ETH_HLEN + innerLen);
  dp.ipipDepth = 0;
}


const endpointAddr = new Uint8Array(16);

/**
 * IPIP / IP6IP6 whose outer destination is a local endpoint serving VIPs (a DSR backend):
 * endpoints cannot decapsulate (this kernel has no ipip module), so the dataplane does and
 * hands the inner packet (destination: the VIP on the endpoint's loopback) to that endpoint.
 * Returns false when this is not such a packet.
 */
export function ipipToEndpoint(dp: Datapath, out: number, off: number, outerDstOff: number, outerFamily: number, proto: number, inner: number, innerLen: number): boolean {
  if ((proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6) || dp.ipipDepth !== 0 || (dp.ports.flags(out) & PORT_DSR_BACKEND) === 0) return false;
  const b = dp.arena.bytes;
  const version = proto === IPPROTO_IPIP ? 4 : 6;
  if (innerLen < (version === 4 ? 20 : 40) || b[inner] >>> 4 !== version) {
    dp.ctr[C.dropIpipMalformed]++;
    return true;
  }
  // The outer destination is overwritten by the moved Ethernet header: keep it first.
  copy(endpointAddr, 0, b, outerDstOff, outerFamily === 4 ? 4 : 16);
  const f = inner - ETH_HLEN;
  copy(b, f, b, off, 12);
  put16(b, f + ETH_TYPE, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dp.ctr[C.ipipDecapsulated]++;
  sendToNeighbour(dp, out, outerFamily, endpointAddr, 0, f, ETH_HLEN + innerLen);
  return true;
}
