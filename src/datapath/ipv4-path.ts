// IPv4: validate, deliver to the router itself (echo), or forward by longest prefix with
// TTL decrement, MTU check (fragmentation without DF, else ICMP frag needed) and ICMP errors.
import { reverseXlate } from './lb-reverse.js';
import { PORT_DSR_BACKEND } from '../tables/port-table.js';
import { type Datapath, VIA_TUNNEL } from './state.js';
import { C } from './counters.js';
import { sendIcmp4Error } from './icmp-errors.js';
import { sendToNeighbour, SEND_FRAGMENT } from './output.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { vxlanSend, isVxlanDatagram, vxlanDecapsulate } from './vxlan.js';
import { lbIpv4, isIpip, ipipDecapsulate, ipipToEndpoint } from './lb.js';
import { isWgDatagram, wgReceive, wgOpenTrain } from './wg-receive.js';
import { natEgress, natApply, natLocal } from './nat-stage.js';
import { isSuper, isGso, checksumPartial, superFrameCheck, superWireLen, resolveSuper } from './superframe.js';
import { ETH_HLEN, ETH_DST, ETH_SRC, isGroup } from '../wire/ethernet.js';
import {
  IPV4_OK,
  IPV4_TRUNCATED,
  IPV4_BAD_VERSION,
  IPV4_BAD_HLEN,
  IPV4_BAD_TOTLEN,
  IPV4_CSUM,
  IPV4_DST,
  IPV4_SRC,
  IPV4_TTL,
  IPV4_PROTO,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  ipv4Check,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4DontFragment,
  ipv4DecrementTtl,
  ipv4IsFragment,
  ipv4IsLaterFragment,
  ipv4IsMulticastOrBroadcast,
} from '../wire/ipv4.js';
import {
  ICMP_DEST_UNREACH,
  ICMP_TIME_EXCEEDED,
  ICMP_ECHO_REQUEST,
  ICMP_ECHO_REPLY,
  ICMP_CODE_NET_UNREACH,
  ICMP_CODE_HOST_UNREACH,
  ICMP_CODE_FRAG_NEEDED,
  ICMP_CODE_TTL_EXCEEDED,
} from '../wire/icmp.js';
import { checksum, update16 } from '../wire/checksum.js';
import { get16, put16, copy, swap, wordsToBytes } from '../wire/bytes.js';
import {
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_LOCAL,
  ROUTE_CONNECTED,
  ROUTE_VIA,
  ROUTE_BLACKHOLE,
  ROUTE_TUNNEL,
} from '../tables/layout.js';

const nexthop = new Uint8Array(4);

export function handleIpv4(dp: Datapath, port: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  const ip = off + ETH_HLEN;
  const verdict = ipv4Check(b, ip, len - ETH_HLEN);
  if (verdict !== IPV4_OK) {
    if (verdict === IPV4_TRUNCATED) dp.ctr[C.dropIpv4Truncated]++;
    else if (verdict === IPV4_BAD_VERSION) dp.ctr[C.dropIpv4BadVersion]++;
    else if (verdict === IPV4_BAD_HLEN) dp.ctr[C.dropIpv4BadHeaderLen]++;
    else if (verdict === IPV4_BAD_TOTLEN) dp.ctr[C.dropIpv4BadTotalLen]++;
    else dp.ctr[C.dropIpv4BadChecksum]++;
    return;
  }
  if (ipv4IsMulticastOrBroadcast(b, ip + IPV4_SRC) || b[ip + IPV4_SRC] === 0 || b[ip + IPV4_SRC] === 127) {
    dp.ctr[C.dropIpv4Martian]++;
    return;
  }
  const d0 = b[ip + IPV4_DST];
  if (d0 === 0 || d0 === 127) {
    // "This network" and loopback destinations must never be forwarded (RFC 1812 §5.3.7).
    dp.ctr[C.dropIpv4Martian]++;
    return;
  }
  if (ipv4IsMulticastOrBroadcast(b, ip + IPV4_DST) || isGroup(b, off + ETH_DST)) {
    dp.ctr[C.dropMulticastIgnored]++;
    return;
  }
  // Super-frames: the virtio header agrees with the packet (superframe.ts).
  if (isSuper(dp)) {
    const l4 = ip + ipv4HeaderLen(b, ip);
    const proto = ipv4IsFragment(b, ip) ? -1 : b[ip + IPV4_PROTO];
    if (!superFrameCheck(dp, off, 4, proto, l4, ip + ipv4TotalLen(b, ip))) return;
  }
  // L4 load balancer: packets to a service go to a backend inside IPIP (lb.ts).
  if (dp.lb !== null && lbIpv4(dp, port, off, ip)) return;
  // DSR replies of a backend under l4Xlate get the service port back (lb-reverse.ts).
  if ((dp.ports.flags(port) & PORT_DSR_BACKEND) !== 0 && !ipv4IsLaterFragment(b, ip)) {
    const hl = ipv4HeaderLen(b, ip);
    if (reverseXlate(b, 4, ip + IPV4_SRC, b[ip + IPV4_PROTO], ip + hl, ipv4TotalLen(b, ip) - hl, checksumPartial(dp))) {
      dp.ctr[C.lbReverseXlated]++;
    }
  }
  if (dp.nat !== null && natEgress(dp, port, off, ip, 4)) return;
  const r = dp.route;
  if (dp.routes.lookup(4, b, ip + IPV4_DST, r) < 0) {
    dp.ctr[C.dropNoRoute]++;
    sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_NET_UNREACH, 0);
    return;
  }
  const type = r[ROUTE_TYPE];
  if (type === ROUTE_LOCAL) {
    deliverLocal4(dp, port, off, ip);
    return;
  }
  if (b[ip + IPV4_TTL] <= 1) {
    dp.ctr[C.dropTtlExceeded]++;
    sendIcmp4Error(dp, port, off, ip, ICMP_TIME_EXCEEDED, ICMP_CODE_TTL_EXCEEDED, 0);
    return;
  }
  if (type === ROUTE_BLACKHOLE) {
    dp.ctr[C.dropBlackhole]++;
    return;
  }
  if (type === ROUTE_TUNNEL) {
    vxlanSend(dp, port, off, ip, 4, -1, -1);
    return;
  }
  if (type !== ROUTE_CONNECTED && type !== ROUTE_VIA) {
    dp.ctr[C.dropNoRoute]++;
    sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_HOST_UNREACH, 0);
    return;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return;
  }
  const total = ipv4TotalLen(b, ip);
  const hlen = ipv4HeaderLen(b, ip);
  if (
    type === ROUTE_CONNECTED &&
    !ipv4IsFragment(b, ip) &&
    ipipToEndpoint(dp, out, off, ip + IPV4_DST, 4, b[ip + IPV4_PROTO], ip + hlen, total - hlen)
  )
    return;
  const mtu = dp.ports.mtu(out);
  // A super-frame is too big when its segments are; they are never fragmented (as if DF).
  const wire = superWireLen(dp, total);
  if (wire > mtu && (ipv4DontFragment(b, ip) || isGso(dp))) {
    dp.ctr[C.dropTooBig]++;
    sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, mtu);
    return;
  }
  ipv4DecrementTtl(b, ip);
  if (dp.nat !== null && dp.nat.pending !== 0 && !natApply(dp)) return;
  let nh = b;
  let nhOff = ip + IPV4_DST;
  if (type === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, nexthop, 1);
    nh = nexthop;
    nhOff = 0;
  }
  if (wire <= mtu) {
    sendToNeighbour(dp, out, 4, nh, nhOff, off, ETH_HLEN + total);
    return;
  }
  // Too big without DF: fragments (RFC 1812 §5.2.6), built after the TTL decrement.
  if (isSuper(dp)) resolveSuper(dp, off, ETH_HLEN + total); // fragments carry finished checksums
  const n = fragmentIpv4(dp, off, ip, mtu);
  if (n === 0) return;
  dp.ctr[C.fragmented]++;
  for (let k = 0; k < n; k++) sendToNeighbour(dp, out, 4, nh, nhOff, fragOff[k], fragLen[k], SEND_FRAGMENT);
}

/** Packets to the router's own addresses: answer echo requests, count the rest. */
function deliverLocal4(dp: Datapath, port: number, off: number, ip: number): void {
  const b = dp.arena.bytes;
  const hlen = ipv4HeaderLen(b, ip);
  const total = ipv4TotalLen(b, ip);
  const icmpLen = total - hlen;
  const m = ip + hlen;
  if (isSuper(dp)) {
    // Of super-frames for us only a reply to translate back is expected; checksums left to us are finished.
    if (isGso(dp)) {
      // A train of WireGuard messages (another Weft's UDP GSO), or a reply to translate back.
      if (b[ip + IPV4_PROTO] === IPPROTO_UDP && isWgDatagram(dp, port, m, icmpLen))
        wgOpenTrain(dp, ip, 4, m, ip + total);
      else if (dp.nat === null || !natLocal(dp, port, off, ip, 4)) dp.ctr[C.dropSuperFrameLocal]++;
      return;
    }
    resolveSuper(dp, off, ETH_HLEN + total);
  }
  if (b[ip + IPV4_PROTO] === IPPROTO_UDP && !ipv4IsFragment(b, ip) && isWgDatagram(dp, port, m, icmpLen)) {
    wgReceive(dp, port, off, ip, 4, m, icmpLen);
    return;
  }
  if (
    b[ip + IPV4_PROTO] === IPPROTO_UDP &&
    !ipv4IsFragment(b, ip) &&
    (dp.via & VIA_TUNNEL) === 0 &&
    isVxlanDatagram(dp, port, m, icmpLen)
  ) {
    vxlanDecapsulate(dp, port, off, ip, 4, m, icmpLen);
    return;
  }
  if (!ipv4IsFragment(b, ip) && isIpip(dp, port, b[ip + IPV4_PROTO])) {
    ipipDecapsulate(dp, port, off, b[ip + IPV4_PROTO], m, icmpLen);
    return;
  }
  if (dp.nat !== null && natLocal(dp, port, off, ip, 4)) return;
  if (b[ip + IPV4_PROTO] !== IPPROTO_ICMP || ipv4IsFragment(b, ip)) {
    dp.ctr[C.dropLocalUnhandled]++;
    return;
  }
  if (icmpLen < 8) {
    dp.ctr[C.dropL4Truncated]++;
    return;
  }
  if (checksum(b, m, icmpLen) !== 0) {
    dp.ctr[C.dropIcmpBadChecksum]++;
    return;
  }
  if (b[m] !== ICMP_ECHO_REQUEST || b[m + 1] !== 0) {
    dp.ctr[C.dropIcmpUnhandled]++;
    return;
  }
  // Turn the request around in place: swap addresses, fresh TTL, type 8 → 0.
  swap(b, off + ETH_DST, off + ETH_SRC, 6);
  copy(b, off + ETH_SRC, dp.ports.bytes, dp.ports.macOff(port), 6);
  swap(b, ip + IPV4_SRC, ip + IPV4_DST, 4);
  b[ip + IPV4_TTL] = 64;
  put16(b, ip + IPV4_CSUM, 0);
  put16(b, ip + IPV4_CSUM, checksum(b, ip, hlen));
  const old = get16(b, m);
  b[m] = ICMP_ECHO_REPLY;
  put16(b, m + 2, update16(get16(b, m + 2), old, get16(b, m)));
  if (dp.tx.push(port, off, ETH_HLEN + total)) {
    dp.ctr[C.consumed]++;
    dp.ctr[C.echoReplied]++;
  } else dp.ctr[C.dropTxFull]++;
}
