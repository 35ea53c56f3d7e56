// VXLAN node-to-node tunnelling (Cilium's tunnel mode), interoperable with a Linux `vxlan`
// device; docs/vxlan.md has the design decisions and a Linux peer's configuration.
// Out (vxlanSend): a ROUTE_TUNNEL route names the remote VTEP; the routed packet keeps its
// Ethernet header as the inner one and the outer headers are written in the headroom.
// In (vxlanDecapsulate): a datagram to our VXLAN port on an uplink is checked and its inner
// frame handed back to the dispatcher (receive.ts) to run on the tunnel pseudo-port
// TUNNEL_PORT; what the router answers there goes back through the tunnel (vxlanSendBack).
import { type Datapath, VIA_VXLAN } from './state.js';
import { C } from './counters.js';
import { sendToNeighbour, SEND_FORWARD, SEND_FRAGMENT, SEND_SEGMENT } from './output.js';
import { isSuper, isGso, superWireLen, resolveSuper, segOff, segLen } from './superframe.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { sendIcmp4Error, sendIcmp6Error } from './icmp-errors.js';
import { TX_PER_PORT } from './tx.js';
import {
  ETH_HLEN,
  ETH_DST,
  ETH_SRC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ethType,
  isGroup,
} from '../wire/ethernet.js';
import { IPV4_SRC, IPV4_DST, ipv4TotalLen, ipv4DontFragment, ipv4DecrementTtl } from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_HOPS, IPV6_SRC, IPV6_DST, ipv6PayloadLen } from '../wire/ipv6.js';
import { ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED } from '../wire/icmp.js';
import { ICMPV6_PACKET_TOO_BIG } from '../wire/icmpv6.js';
import { UDP_HLEN, UDP_LEN, UDP_DST_PORT, udpLengthValid, udpChecksumOk4, udpChecksumOk6 } from '../wire/udp.js';
import {
  VXLAN_HLEN,
  VXLAN_OK,
  VXLAN_TRUNCATED,
  VXLAN_OVERHEAD4,
  VXLAN_OVERHEAD6,
  vxlanCheck,
  vxlanVni,
  vxlanFlowHash,
  vxlanSourcePort,
  writeVxlanEncap4,
  writeVxlanEncap6,
} from '../wire/vxlan.js';
import { get16, copy, equal, wordsToBytes } from '../wire/bytes.js';
import { PORT_HAS_IPV4, PORT_HAS_IPV6, PORT_KIND_UPLINK } from '../tables/port-table.js';
import {
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_AUX,
  ROUTE_INNER_MAC,
  ROUTE_AUX_FAMILY_MASK,
  ROUTE_AUX_INNER_MAC,
  ROUTE_VIA,
  TUNNEL_PORT,
} from '../tables/layout.js';

const OUTER_SRC = 0;
const OUTER_DST = 16;
const OUTER_MAC = 32;

/**
 * Forwards the routed packet at ip (frame at off, received on inPort) through the tunnel that
 * dp.route (a ROUTE_TUNNEL value) names. TTL / hop limit were checked by the caller and are
 * decremented here, after the PMTU check. `l4Proto`/`l4Off` are the IPv6 walk's (-1 for IPv4).
 */
export function vxlanSend(
  dp: Datapath,
  inPort: number,
  off: number,
  ip: number,
  family: number,
  l4Proto: number,
  l4Off: number,
): void {
  const b = dp.arena.bytes;
  const r = dp.route;
  const s = dp.settings;
  if (!s.vxlanEnabled()) {
    dp.ctr[C.dropVxlanDisabled]++;
    return;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return;
  }
  const aux = r[ROUTE_AUX];
  const ufam = aux & ROUTE_AUX_FAMILY_MASK;
  if (ufam !== 4 && ufam !== 6) {
    dp.ctr[C.dropNoRoute]++;
    return;
  }
  const overhead = ufam === 4 ? VXLAN_OVERHEAD4 : VXLAN_OVERHEAD6;
  const total = family === 4 ? ipv4TotalLen(b, ip) : IPV6_HLEN + ipv6PayloadLen(b, ip);
  // The outer IP packet is the inner one plus the inner Ethernet header, VXLAN, UDP and the
  // outer IP header: exactly `overhead` bytes more.
  const room = dp.ports.mtu(out) - overhead;
  // An IPv4 packet without DF above the room is fragmented (each fragment encapsulated); a
  // super-frame is measured by its segments, never fragmented.
  const wire = superWireLen(dp, total);
  const fragment = wire > room && family === 4 && !ipv4DontFragment(b, ip) && !isGso(dp);
  if (wire > room && !fragment) {
    dp.ctr[C.dropTooBig]++;
    if (family === 4) sendIcmp4Error(dp, inPort, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, room);
    else sendIcmp6Error(dp, inPort, off, ip, l4Proto, l4Off, ICMPV6_PACKET_TOO_BIG, 0, room);
    return;
  }
  const pb = dp.ports.bytes;
  if ((dp.ports.flags(out) & (ufam === 4 ? PORT_HAS_IPV4 : PORT_HAS_IPV6)) === 0) {
    dp.ctr[C.dropVxlanNoSourceAddress]++;
    return;
  }
  const remote = dp.tunnelRemote;
  wordsToBytes(r, ROUTE_NEXTHOP, remote, ufam === 4 ? 1 : 4);
  // Inner Ethernet: to the remote's router MAC, from ours.
  const vtepMac = dp.ports.macOff(TUNNEL_PORT);
  if (aux & ROUTE_AUX_INNER_MAC) {
    const hi = r[ROUTE_INNER_MAC];
    b[off] = hi >>> 24;
    b[off + 1] = (hi >>> 16) & 0xff;
    b[off + 2] = (hi >>> 8) & 0xff;
    b[off + 3] = hi & 0xff;
    b[off + 4] = aux >>> 24;
    b[off + 5] = (aux >>> 16) & 0xff;
  } else {
    copy(b, off + ETH_DST, pb, vtepMac, 6);
  }
  copy(b, off + ETH_SRC, pb, vtepMac, 6);
  if (family === 4) ipv4DecrementTtl(b, ip);
  else b[ip + IPV6_HOPS]--;
  // The remote VTEP is the neighbour, unless a `via` route out of the same uplink leads to it.
  let nh = remote;
  const u = dp.underlayRoute;
  if (dp.routes.lookup(ufam, remote, 0, u) >= 0 && u[ROUTE_TYPE] === ROUTE_VIA && u[ROUTE_PORT] === out) {
    wordsToBytes(u, ROUTE_NEXTHOP, dp.tunnelNexthop, ufam === 4 ? 1 : 4);
    nh = dp.tunnelNexthop;
  }
  if (isSuper(dp)) {
    // Segments (or the frame with its checksum finished) are encapsulated one by one.
    const gso = isGso(dp);
    const n = resolveSuper(dp, off, ETH_HLEN + total);
    if (n === 0) return;
    if (gso) dp.ctr[C.segmented]++;
    const sport = vxlanSourcePort(vxlanFlowHash(b, segOff[0], segLen[0]));
    for (let k = 0; k < n; k++) {
      const o = encapsulate(dp, out, ufam, remote, segOff[k], segLen[k], sport);
      sendToNeighbour(dp, out, ufam, nh, 0, o, segLen[k] + overhead, gso ? SEND_SEGMENT : SEND_FORWARD);
    }
    return;
  }
  if (!fragment) {
    const innerLen = ETH_HLEN + total;
    const o = encapsulate(dp, out, ufam, remote, off, innerLen, vxlanSourcePort(vxlanFlowHash(b, off, innerLen)));
    sendToNeighbour(dp, out, ufam, nh, 0, o, innerLen + overhead);
    return;
  }
  // Fragments of the inner packet (with its rewritten Ethernet header), each in its own
  // generated slot and encapsulated there. They hash alike (addresses and protocol only), so
  // they share one outer source port.
  const n = fragmentIpv4(dp, off, ip, room);
  if (n === 0) return;
  dp.ctr[C.fragmented]++;
  const sport = vxlanSourcePort(vxlanFlowHash(b, fragOff[0], fragLen[0]));
  for (let k = 0; k < n; k++) {
    const o = encapsulate(dp, out, ufam, remote, fragOff[k], fragLen[k], sport);
    sendToNeighbour(dp, out, ufam, nh, 0, o, fragLen[k] + overhead, SEND_FRAGMENT);
  }
}

/** Writes the outer headers in front of the inner frame at off; returns the outer frame's offset. */
function encapsulate(
  dp: Datapath,
  out: number,
  ufam: number,
  remote: Uint8Array,
  off: number,
  innerLen: number,
  sport: number,
): number {
  const b = dp.arena.bytes;
  const pb = dp.ports.bytes;
  const s = dp.settings;
  dp.ctr[C.vxlanEncapsulated]++;
  return ufam === 4
    ? writeVxlanEncap4(b, off, innerLen, pb, dp.ports.ipv4Off(out), remote, 0, sport, s.vxlanPort(), s.vxlanVni())
    : writeVxlanEncap6(b, off, innerLen, pb, dp.ports.ipv6Off(out), remote, 0, sport, s.vxlanPort(), s.vxlanVni());
}

/**
 * True when the UDP datagram at u (l4avail bytes, to one of our addresses, received on port)
 * is for the VXLAN port and VXLAN is on. Only uplink ports decapsulate.
 */
export function isVxlanDatagram(dp: Datapath, port: number, u: number, l4avail: number): boolean {
  const s = dp.settings;
  return (
    s.vxlanEnabled() &&
    l4avail >= UDP_HLEN &&
    get16(dp.arena.bytes, u + UDP_DST_PORT) === s.vxlanPort() &&
    dp.ports.kind(port) === PORT_KIND_UPLINK
  );
}

/**
 * Validates the VXLAN datagram at u (l4avail bytes of the IPv4/IPv6 packet at ip, frame at off,
 * received on port) and hands its inner frame back to the dispatcher, to run on TUNNEL_PORT.
 * Every frame ends in one dropVxlan* counter or in the inner frame's outcome.
 */
export function vxlanDecapsulate(
  dp: Datapath,
  port: number,
  off: number,
  ip: number,
  family: number,
  u: number,
  l4avail: number,
): void {
  const b = dp.arena.bytes;
  if (!udpLengthValid(b, u, l4avail)) {
    dp.ctr[C.dropVxlanMalformed]++;
    return;
  }
  const ulen = get16(b, u + UDP_LEN);
  if (family === 4 ? !udpChecksumOk4(b, ip, u, ulen) : !udpChecksumOk6(b, ip, u, ulen)) {
    dp.ctr[C.dropVxlanBadChecksum]++;
    return;
  }
  const v = u + UDP_HLEN;
  const verdict = vxlanCheck(b, v, ulen - UDP_HLEN);
  if (verdict !== VXLAN_OK) {
    if (verdict === VXLAN_TRUNCATED) dp.ctr[C.dropVxlanMalformed]++;
    else dp.ctr[C.dropVxlanBadFlags]++;
    return;
  }
  if (vxlanVni(b, v) !== dp.settings.vxlanVni()) {
    dp.ctr[C.dropVxlanBadVni]++;
    return;
  }
  const inner = v + VXLAN_HLEN;
  const innerLen = ulen - UDP_HLEN - VXLAN_HLEN;
  if (innerLen < ETH_HLEN) {
    dp.ctr[C.dropVxlanMalformed]++;
    return;
  }
  const pb = dp.ports.bytes;
  if (
    isGroup(b, inner + ETH_SRC) ||
    (!isGroup(b, inner + ETH_DST) && !equal(b, inner + ETH_DST, pb, dp.ports.macOff(TUNNEL_PORT), 6))
  ) {
    dp.ctr[C.dropVxlanInnerMac]++;
    return;
  }
  const type = ethType(b, inner);
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6 && type !== ETHERTYPE_ARP) {
    dp.ctr[C.dropVxlanInnerEthertype]++;
    return;
  }
  // The way back: the outer addresses swapped, to the previous hop, out of this port.
  const o = dp.outer;
  const alen = family === 4 ? 4 : 16;
  copy(o, OUTER_SRC, b, ip + (family === 4 ? IPV4_SRC : IPV6_SRC), alen);
  copy(o, OUTER_DST, b, ip + (family === 4 ? IPV4_DST : IPV6_DST), alen);
  copy(o, OUTER_MAC, b, off + ETH_SRC, 6);
  dp.outerFamily = family;
  dp.outerPort = port;
  dp.ctr[C.vxlanDecapsulated]++;
  dp.reenter(VIA_VXLAN, TUNNEL_PORT, inner, innerLen);
}

/**
 * Encapsulates what the router queued on TUNNEL_PORT, while it processed a decapsulated frame,
 * back toward the VTEP that frame came from (dp.outer).
 */
export function vxlanSendBack(dp: Datapath): void {
  const b = dp.arena.bytes;
  const tx = dp.tx;
  const s = dp.settings;
  const o = dp.outer;
  const out = dp.outerPort;
  const fam = dp.outerFamily;
  const overhead = fam === 4 ? VXLAN_OVERHEAD4 : VXLAN_OVERHEAD6;
  const mtu = dp.ports.mtu(out);
  const pb = dp.ports.bytes;
  const n = tx.count[TUNNEL_PORT];
  const base = TUNNEL_PORT * TX_PER_PORT * 2;
  for (let i = 0; i < n; i++) {
    const f = tx.desc[base + 2 * i];
    const len = tx.desc[base + 2 * i + 1];
    if (len - ETH_HLEN + overhead > mtu) {
      dp.ctr[C.vxlanRepliesLost]++;
      continue;
    }
    const sport = vxlanSourcePort(vxlanFlowHash(b, f, len));
    const e =
      fam === 4
        ? writeVxlanEncap4(b, f, len, o, OUTER_DST, o, OUTER_SRC, sport, s.vxlanPort(), s.vxlanVni())
        : writeVxlanEncap6(b, f, len, o, OUTER_DST, o, OUTER_SRC, sport, s.vxlanPort(), s.vxlanVni());
    copy(b, e + ETH_DST, o, OUTER_MAC, 6);
    copy(b, e + ETH_SRC, pb, dp.ports.macOff(out), 6);
    if (tx.push(out, e, len + overhead)) dp.ctr[C.vxlanEncapsulated]++;
    else dp.ctr[C.vxlanRepliesLost]++;
  }
  tx.clear(TUNNEL_PORT);
}
