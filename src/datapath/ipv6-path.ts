// IPv6: validate (including the extension-header chain), handle neighbour discovery and
// echo for the router's own addresses, or forward by longest prefix with hop-limit
// decrement, MTU check (routers never fragment IPv6) and ICMPv6 errors.
import { reverseXlate } from './lb-reverse.js';
import { PORT_DSR_BACKEND } from '../tables/port-table.js';
import { type Datapath, VIA_TUNNEL } from './state.js';
import { C } from './counters.js';
import { sendIcmp6Error } from './icmp-errors.js';
import { sendToNeighbour } from './output.js';
import { vxlanSend, isVxlanDatagram, vxlanDecapsulate } from './vxlan.js';
import { isWgDatagram, wgReceive, wgOpenTrain } from './wg-receive.js';
import { lbIpv6, isIpip, ipipDecapsulate, ipipToEndpoint } from './lb.js';
import { handleNdp, isLocal6 } from './ndp.js';
import { natEgress, natApply, natLocal } from './nat-stage.js';
import { isSuper, isGso, checksumPartial, superFrameCheck, superWireLen, resolveSuper } from './superframe.js';
import { ETH_HLEN, ETH_DST, ETH_SRC } from '../wire/ethernet.js';
import { IPPROTO_ICMPV6, IPPROTO_UDP } from '../wire/ipv4.js';
import {
  IPV6_OK,
  IPV6_TRUNCATED,
  IPV6_BAD_VERSION,
  IPV6_BAD_EXT_HEADER,
  IPV6_HLEN,
  IPV6_HOPS,
  IPV6_SRC,
  IPV6_DST,
  ipv6Check,
  ipv6Walk,
  ipv6PayloadLen,
  ipv6IsMulticast,
  ipv6IsLinkLocal,
  ipv6IsUnspecified,
  ipv6IsLoopback,
} from '../wire/ipv6.js';
import {
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_DEST_UNREACH,
  ICMPV6_CODE_NO_ROUTE,
  ICMPV6_CODE_ADDR_UNREACH,
  ND_NEIGHBOR_SOLICIT,
  ND_NEIGHBOR_ADVERT,
} from '../wire/icmpv6.js';
import { sum16, finish, pseudoSum6, update16 } from '../wire/checksum.js';
import { get16, put16, copy, swap, wordsToBytes } from '../wire/bytes.js';
import {
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_CONNECTED,
  ROUTE_VIA,
  ROUTE_BLACKHOLE,
  ROUTE_TUNNEL,
} from '../tables/layout.js';

const nexthop = new Uint8Array(16);

export function handleIpv6(dp: Datapath, port: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  const ip = off + ETH_HLEN;
  const verdict = ipv6Check(b, ip, len - ETH_HLEN);
  if (verdict !== IPV6_OK) {
    if (verdict === IPV6_TRUNCATED) dp.ctr[C.dropIpv6Truncated]++;
    else if (verdict === IPV6_BAD_VERSION) dp.ctr[C.dropIpv6BadVersion]++;
    else dp.ctr[C.dropIpv6BadPayloadLen]++;
    return;
  }
  const end = ip + IPV6_HLEN + ipv6PayloadLen(b, ip);
  const w = dp.walk6;
  const walked = ipv6Walk(b, ip, end, w);
  if (walked !== IPV6_OK) {
    if (walked === IPV6_BAD_EXT_HEADER) dp.ctr[C.dropIpv6BadExtHeader]++;
    else dp.ctr[C.dropIpv6TooManyExtHeaders]++;
    return;
  }
  if (ipv6IsMulticast(b, ip + IPV6_SRC)) {
    dp.ctr[C.dropIpv6Martian]++;
    return;
  }
  // Super-frames: the virtio header agrees with the packet (superframe.ts).
  if (isSuper(dp) && !superFrameCheck(dp, off, 6, w.fragment ? -1 : w.proto, w.l4Off, end)) return;
  if (ipv6IsMulticast(b, ip + IPV6_DST)) {
    // Only neighbour solicitations for our addresses concern a router's multicast input.
    if (w.proto === IPPROTO_ICMPV6 && !w.laterFragment && end - w.l4Off >= 8 && b[w.l4Off] === ND_NEIGHBOR_SOLICIT) {
      deliverIcmp6(dp, port, off, ip, end);
    } else {
      dp.ctr[C.dropMulticastIgnored]++;
    }
    return;
  }
  if (
    ipv6IsUnspecified(b, ip + IPV6_SRC) ||
    ipv6IsLoopback(b, ip + IPV6_SRC) ||
    ipv6IsLoopback(b, ip + IPV6_DST) ||
    ipv6IsUnspecified(b, ip + IPV6_DST)
  ) {
    // RFC 4291 §2.5.2-3: never forwarded, never answered (NS from :: was handled above).
    dp.ctr[C.dropIpv6Martian]++;
    return;
  }
  if (isLocal6(dp, port, b, ip + IPV6_DST)) {
    deliverIcmp6(dp, port, off, ip, end);
    return;
  }
  if (ipv6IsLinkLocal(b, ip + IPV6_DST) || ipv6IsLinkLocal(b, ip + IPV6_SRC)) {
    // Link-local traffic never leaves its link (RFC 4291 §2.5.6).
    dp.ctr[C.dropNotForUs]++;
    return;
  }
  // L4 load balancer: packets to a service go to a backend inside IP6IP6 (lb.ts).
  if (dp.lb !== null && lbIpv6(dp, port, off, ip, end)) return;
  // DSR replies of a backend under l4Xlate get the service port back (lb-reverse.ts).
  if (
    (dp.ports.flags(port) & PORT_DSR_BACKEND) !== 0 &&
    !w.laterFragment &&
    reverseXlate(b, 6, ip + IPV6_SRC, w.proto, w.l4Off, end - w.l4Off, checksumPartial(dp))
  ) {
    dp.ctr[C.lbReverseXlated]++;
  }
  if (dp.nat !== null && natEgress(dp, port, off, ip, 6)) return;
  const l4Proto = w.laterFragment ? -1 : w.proto;
  const l4Off = w.laterFragment ? -1 : w.l4Off;
  const r = dp.route;
  if (dp.routes.lookup(6, b, ip + IPV6_DST, r) < 0) {
    dp.ctr[C.dropNoRoute]++;
    sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_DEST_UNREACH, ICMPV6_CODE_NO_ROUTE, 0);
    return;
  }
  const type = r[ROUTE_TYPE];
  if (b[ip + IPV6_HOPS] <= 1) {
    dp.ctr[C.dropTtlExceeded]++;
    sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_TIME_EXCEEDED, 0, 0);
    return;
  }
  if (type === ROUTE_BLACKHOLE) {
    dp.ctr[C.dropBlackhole]++;
    return;
  }
  if (type === ROUTE_TUNNEL) {
    vxlanSend(dp, port, off, ip, 6, l4Proto, l4Off);
    return;
  }
  if (type !== ROUTE_CONNECTED && type !== ROUTE_VIA) {
    dp.ctr[C.dropNoRoute]++;
    sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_DEST_UNREACH, ICMPV6_CODE_ADDR_UNREACH, 0);
    return;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return;
  }
  const total = end - ip;
  if (
    type === ROUTE_CONNECTED &&
    !w.fragment &&
    ipipToEndpoint(dp, out, off, ip + IPV6_DST, 6, w.proto, w.l4Off, end - w.l4Off)
  )
    return;
  const mtu = dp.ports.mtu(out);
  if (superWireLen(dp, total) > mtu) {
    dp.ctr[C.dropTooBig]++;
    sendIcmp6Error(dp, port, off, ip, l4Proto, l4Off, ICMPV6_PACKET_TOO_BIG, 0, mtu);
    return;
  }
  b[ip + IPV6_HOPS]--;
  if (dp.nat !== null && dp.nat.pending !== 0 && !natApply(dp)) return;
  if (type === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, nexthop, 4);
    sendToNeighbour(dp, out, 6, nexthop, 0, off, ETH_HLEN + total);
  } else {
    sendToNeighbour(dp, out, 6, b, ip + IPV6_DST, off, ETH_HLEN + total);
  }
}

/** ICMPv6 addressed to the router: neighbour discovery and echo. */
function deliverIcmp6(dp: Datapath, port: number, off: number, ip: number, end: number): void {
  const b = dp.arena.bytes;
  const w = dp.walk6;
  if (isSuper(dp)) {
    // Of super-frames for us only a reply to translate back is expected; checksums left to us are finished.
    if (isGso(dp)) {
      // A train of WireGuard messages (another Weft's UDP GSO), or a reply to translate back.
      if (w.proto === IPPROTO_UDP && isWgDatagram(dp, port, w.l4Off, end - w.l4Off))
        wgOpenTrain(dp, ip, 6, w.l4Off, end);
      else if (dp.nat === null || !natLocal(dp, port, off, ip, 6)) dp.ctr[C.dropSuperFrameLocal]++;
      return;
    }
    resolveSuper(dp, off, end - off);
  }
  if (w.proto === IPPROTO_UDP && !w.fragment && isWgDatagram(dp, port, w.l4Off, end - w.l4Off)) {
    wgReceive(dp, port, off, ip, 6, w.l4Off, end - w.l4Off);
    return;
  }
  if (
    w.proto === IPPROTO_UDP &&
    !w.fragment &&
    (dp.via & VIA_TUNNEL) === 0 &&
    isVxlanDatagram(dp, port, w.l4Off, end - w.l4Off)
  ) {
    vxlanDecapsulate(dp, port, off, ip, 6, w.l4Off, end - w.l4Off);
    return;
  }
  if (!w.fragment && isIpip(dp, port, w.proto)) {
    ipipDecapsulate(dp, port, off, w.proto, w.l4Off, end - w.l4Off);
    return;
  }
  if (dp.nat !== null && natLocal(dp, port, off, ip, 6)) return;
  if (w.proto !== IPPROTO_ICMPV6 || w.fragment) {
    dp.ctr[C.dropLocalUnhandled]++;
    return;
  }
  const m = w.l4Off;
  const icmpLen = end - m;
  if (icmpLen < 8) {
    dp.ctr[C.dropL4Truncated]++;
    return;
  }
  if (finish(sum16(b, m, icmpLen, pseudoSum6(b, ip, IPPROTO_ICMPV6, icmpLen))) !== 0) {
    dp.ctr[C.dropIcmpBadChecksum]++;
    return;
  }
  const type = b[m];
  if (type === ND_NEIGHBOR_SOLICIT || type === ND_NEIGHBOR_ADVERT) {
    handleNdp(dp, port, off, ip, m, icmpLen);
    return;
  }
  if (type !== ICMPV6_ECHO_REQUEST || b[m + 1] !== 0 || ipv6IsMulticast(b, ip + IPV6_DST)) {
    dp.ctr[C.dropIcmpUnhandled]++;
    return;
  }
  if (w.extHeaders !== 0) {
    // Echoing a packet's extension headers back (a routing header!) is not safe.
    dp.ctr[C.dropLocalUnhandled]++;
    return;
  }
  swap(b, off + ETH_DST, off + ETH_SRC, 6);
  copy(b, off + ETH_SRC, dp.ports.bytes, dp.ports.macOff(port), 6);
  swap(b, ip + IPV6_SRC, ip + IPV6_DST, 16);
  b[ip + IPV6_HOPS] = 64;
  // Swapping the addresses leaves the pseudo-header sum unchanged; only the type moves.
  const old = get16(b, m);
  b[m] = ICMPV6_ECHO_REPLY;
  put16(b, m + 2, update16(get16(b, m + 2), old, get16(b, m)));
  if (dp.tx.push(port, off, end - off)) {
    dp.ctr[C.consumed]++;
    dp.ctr[C.echoReplied]++;
  } else dp.ctr[C.dropTxFull]++;
}
