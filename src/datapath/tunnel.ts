// VXLAN node-to-node tunnelling (Cilium's tunnel mode), interoperable with a Linux `vxlan`
// device.
//
// Out: a ROUTE_TUNNEL route says "this prefix (another node's pod CIDR) is behind the VTEP at
// <remote underlay address>, out of <uplink>". The routed IPv4/IPv6 packet keeps its Ethernet
// header as the inner one (destination: the route's inner MAC, else the node's VXLAN MAC;
// source: the node's VXLAN MAC), and outer Ethernet + IPv4/IPv6 + UDP + VXLAN are written in
// the headroom in front of it. The outer next hop is the remote itself, or the gateway of a
// `via` route toward it out of the same uplink; its MAC comes from the neighbour table (the
// frame is parked and the neighbour solicited when unknown).
//
// In: a UDP datagram to one of our addresses, arriving on an uplink port, to the node's VXLAN
// port, is validated and its inner frame runs through the pipeline as a frame received on the
// tunnel pseudo-port TUNNEL_PORT: routed by longest prefix with TTL decrement, or answered by
// the router (ARP for our addresses, NS, echo), with ICMP errors as on any port. What the router
// queues on TUNNEL_PORT while the inner frame is processed goes back through the tunnel to the
// outer source address, to the previous hop's MAC, as ICMP errors do on ordinary ports.
//
// Linux interoperability. Weft node (underlay 198.18.0.1 on uplink `up0`, pod CIDR
// 198.19.1.0/24 and 2001:db8:19:1::/64, gateway 198.19.1.1 / 2001:db8:19:1::1, VXLAN MAC
// M_WEFT = vxlan.mac, by default 02:77:65:66:74:01) and a Linux node (underlay 198.18.0.2 on
// eth0, its "pod CIDR" 198.19.2.0/24 and 2001:db8:19:2::/64, vxlan device MAC M_LINUX):
//
//   Weft config:
//     vxlan: { vni: 2, port: 8472 }
//     routes:
//       - { prefix: 198.19.2.0/24, type: tunnel, remote: 198.18.0.2, port: up0, innerMac: <M_LINUX> }
//       - { prefix: "2001:db8:19:2::/64", type: tunnel, remote: 198.18.0.2, port: up0, innerMac: <M_LINUX> }
//
//   Linux (in its namespace):
//     ip link add vxlan0 type vxlan id 2 dstport 8472 local 198.18.0.2 dev eth0 nolearning
//     ip link set vxlan0 address <M_LINUX> mtu 1450 up       # 1500 - 50 on an IPv4 underlay
//     bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 198.18.0.1
//     ip addr add 198.19.2.1/32 dev vxlan0                     # addresses in its pod CIDR
//     ip addr add 2001:db8:19:2::1/128 dev vxlan0 nodad
//     ip route add 198.19.1.0/24 via 198.19.1.1 dev vxlan0 onlink
//     ip -6 route add 2001:db8:19:1::/64 via 2001:db8:19:1::1 dev vxlan0 onlink
//     sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1   # only to route on to its pods
//   M_LINUX must differ from M_WEFT (Linux drops tunnelled frames whose inner source MAC is its
//   own). Linux resolves 198.19.1.1 by ARP (IPv6: NS) through the tunnel — the all-zeros FDB
//   entry sends broadcast and multicast to 198.18.0.1 — and Weft answers for its own addresses
//   with M_WEFT. Instead of that, static entries work too:
//     ip neigh replace 198.19.1.1 lladdr 02:77:65:66:74:01 dev vxlan0 nud permanent
//     ip -6 neigh replace 2001:db8:19:1::1 lladdr 02:77:65:66:74:01 dev vxlan0 nud permanent
//   With an IPv6 underlay: `local <linux v6>`, `fdb ... dst <weft v6>`, MTU 1430 (1500 - 70),
//   and `remote: <linux v6>` in the Weft route.
//   Checksums: Linux checksums the outer UDP over IPv6 (noudp6zerocsumtx, the default), which
//   Weft requires, and accepts Weft's checksummed IPv6 datagrams; over IPv4 Linux checksums too
//   (udpcsum, the default of the kernels tested) and Weft verifies it, while Weft sends 0,
//   which Linux accepts. Verified against Linux 6.18 with both underlays by
//   test/fixtures/wire/capture_linux_vxlan.mjs (frames kept in vxlan-linux.json).
//
// Decisions:
// - Inner destination MACs accepted: the node's VXLAN MAC and group addresses (ARP broadcast,
//   IPv6 multicast); anything else is dropVxlanInnerMac (the Linux side's neighbour entry for
//   the gateway is wrong). Every Weft node uses the same VXLAN MAC by default, so Weft-to-Weft
//   routes need no inner MAC; toward Linux the route names the vxlan device's MAC.
// - Decapsulation only on uplink ports: a pod cannot inject frames "from the tunnel".
// - The source VTEP is not checked against the tunnel routes (as a Linux vxlan device with an
//   all-zeros FDB entry does not); the node registry can add that later.
// - Outer IPv4 fragments to the VXLAN port are not reassembled (dropLocalUnhandled): tunnelled
//   packets are sent with DF, and the PMTU check keeps them under the uplink MTU.
// - An inner IPv4 packet without DF above the room left by the encapsulation is fragmented
//   first (fragment.ts), as Linux fragments in front of a vxlan device: each fragment goes
//   through the tunnel on its own. With DF, and for IPv6, the sender gets frag needed / packet
//   too big with that room.
// - Replies through the tunnel use the outer source port hash of the reply, the node's VXLAN
//   port as destination (where Linux listens), and the address the frame was sent to as source.
import { Datapath } from './state.js';
import { C } from './counters.js';
import { sendToNeighbour } from './output.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { sendIcmp4Error, sendIcmp6Error } from './icmp-errors.js';
import { handleIpv4 } from './ipv4-path.js';
import { handleIpv6 } from './ipv6-path.js';
import { handleArp } from './arp-responder.js';
import { TX_PER_PORT } from './tx.js';
import {
  ETH_HLEN, ETH_DST, ETH_SRC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethType, isGroup,
} from '../wire/ethernet.js';
import { IPV4_SRC, IPV4_DST, ipv4TotalLen, ipv4DontFragment, ipv4DecrementTtl } from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_HOPS, IPV6_SRC, IPV6_DST, ipv6PayloadLen } from '../wire/ipv6.js';
import { ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED } from '../wire/icmp.js';
import { ICMPV6_PACKET_TOO_BIG } from '../wire/icmpv6.js';
import { UDP_HLEN, UDP_LEN, UDP_DST_PORT, udpLengthValid, udpChecksumOk4, udpChecksumOk6 } from '../wire/udp.js';
import {
  VXLAN_HLEN, VXLAN_OK, VXLAN_TRUNCATED, VXLAN_OVERHEAD4, VXLAN_OVERHEAD6, vxlanCheck, vxlanVni, vxlanFlowHash,
  vxlanSourcePort, writeVxlanEncap4, writeVxlanEncap6,
} from '../wire/vxlan.js';
import { get16, copy, equal, wordsToBytes } from '../wire/bytes.js';
import { PORT_HAS_IPV4, PORT_HAS_IPV6, PORT_KIND_UPLINK } from '../tables/port-table.js';
import {
  ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_AUX, ROUTE_INNER_MAC, ROUTE_AUX_FAMILY_MASK, ROUTE_AUX_INNER_MAC,
  ROUTE_VIA, TUNNEL_PORT,
} from '../tables/layout.js';

const OUTER_SRC = 0;
const OUTER_DST = 16;
const OUTER_MAC = 32;


/**
 * Forwards the routed packet at ip (frame at off, received on inPort) through the tunnel that
 * dp.route (a ROUTE_TUNNEL value) names. TTL / hop limit were checked by the caller and are
 * decremented here, after the PMTU check. `l4Proto`/`l4Off` are the IPv6 walk's (-1 for IPv4).
 */
export function sendThroughTunnel(dp: Datapath, inPort: number, off: number, ip: number, family: number, l4Proto: number, l4Off: number): void {
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
  // An IPv4 packet without DF above the room is fragmented (each fragment encapsulated).
  const fragment = total > room && family === 4 && !ipv4DontFragment(b, ip);
  if (total > room && !fragment) {
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
    sendToNeighbour(dp, out, ufam, nh, 0, o, fragLen[k] + overhead, 1);
  }
}

/** Writes the outer headers in front of the inner frame at off; returns the outer frame's offset. */
function encapsulate(dp: Datapath, out: number, ufam: number, remote: Uint8Array, off: number, innerLen: number, sport: number): number {
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
  return s.vxlanEnabled() && l4avail >= UDP_HLEN && get16(dp.arena.bytes, u + UDP_DST_PORT) === s.vxlanPort() &&
    dp.ports.kind(port) === PORT_KIND_UPLINK;
}

/**
 * Validates the VXLAN datagram at u (l4avail bytes of the IPv4/IPv6 packet at ip, frame at off,
 * received on port) and runs its inner frame through the pipeline on TUNNEL_PORT. Every frame
 * ends in one dropVxlan* counter or in the inner frame's outcome.
 */
export function decapsulate(dp: Datapath, port: number, off: number, ip: number, family: number, u: number, l4avail: number): void {
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
  if (isGroup(b, inner + ETH_SRC) || (!isGroup(b, inner + ETH_DST) && !equal(b, inner + ETH_DST, pb, dp.ports.macOff(TUNNEL_PORT), 6))) {
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
  if (type === ETHERTYPE_IPV4) handleIpv4(dp, TUNNEL_PORT, inner, innerLen);
  else if (type === ETHERTYPE_IPV6) handleIpv6(dp, TUNNEL_PORT, inner, innerLen);
  else handleArp(dp, TUNNEL_PORT, inner, innerLen);
  if (dp.tx.count[TUNNEL_PORT] !== 0) sendBack(dp);
}

/** Encapsulates what the router queued on TUNNEL_PORT back toward the VTEP the frame came from. */
function sendBack(dp: Datapath): void {
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
    const e = fam === 4
      ? writeVxlanEncap4(b, f, len, o, OUTER_DST, o, OUTER_SRC, sport, s.vxlanPort(), s.vxlanVni())
      : writeVxlanEncap6(b, f, len, o, OUTER_DST, o, OUTER_SRC, sport, s.vxlanPort(), s.vxlanVni());
    copy(b, e + ETH_DST, o, OUTER_MAC, 6);
    copy(b, e + ETH_SRC, pb, dp.ports.macOff(out), 6);
    if (tx.push(out, e, len + overhead)) dp.ctr[C.vxlanEncapsulated]++;
    else dp.ctr[C.vxlanRepliesLost]++;
  }
  tx.clear(TUNNEL_PORT);
}
