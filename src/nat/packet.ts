// What a NAT needs to know about a packet, read from hostile bytes without allocating or
// throwing: natParse fills a caller-owned NatPacket and returns a NAT_* verdict.
//
// Ports: for TCP and UDP, sport / dport are the ports. For ICMP / ICMPv6 echo the identifier
// plays the part of the port on the side that owns it: an echo request carries it as its
// source "port" (sport = id, dport = 0), an echo reply as its destination (sport = 0,
// dport = id). So a request leaving the cluster is SNATed by "source port" and the reply
// coming back is matched and reverse-translated by "destination port", like UDP.
//
// Verdicts (decisions):
// - NAT_OK: TCP, UDP or ICMP echo with its header complete; translatable.
// - NAT_ICMP_ERROR: an ICMP / ICMPv6 error (destination unreachable incl. fragmentation
//   needed, time exceeded, parameter problem; ICMPv6 packet too big) whose quoted packet is
//   of the same family and carries TCP/UDP ports or an echo identifier: the inner* fields
//   describe the quoted flow as it was sent (its source is the side that sent it).
// - First fragments (IPv4 MF set with offset 0; IPv6 fragment header with offset 0) carry the
//   L4 header and are translated (firstFragment says so): the L4 checksum covers the whole
//   datagram, but an incremental update only needs the words that change. Later fragments
//   have no ports: NAT_LATER_FRAGMENT. Without fragment tracking (a table from (source,
//   destination, IP id) to the translation, not built yet) the datapath must drop them and
//   count it, as Cilium does without its fragment map; never forward them untranslated
//   (that would leak the endpoint's address past the gateway).
// - IPv6 routing header with segments left > 0: NAT_ROUTING_HEADER (the checksum's
//   pseudo-header would use the final destination, not the address field we rewrite).
//   AH and ESP: NAT_UNSUPPORTED_PROTO (a translated packet would fail its integrity check).
// - ICMP errors that are themselves fragments, quote another family, a later fragment, an
//   unsupported protocol or too few bytes for the ports / identifier: NAT_ICMP_INNER_BAD.
// - Any other ICMP type (timestamps, redirects, router and neighbour discovery):
//   NAT_UNSUPPORTED_ICMP.
import { get16 } from '../wire/bytes.js';
import {
  IPV4_MIN_HLEN, IPV4_TOTLEN, IPV4_FRAG, IPV4_PROTO, IPV4_SRC, IPV4_DST, IPV4_MF, IPV4_OFFSET_MASK,
  IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6,
} from '../wire/ipv4.js';
import {
  IPV6_HLEN, IPV6_PAYLOAD_LEN, IPV6_NEXT, IPV6_SRC, IPV6_DST, IPV6_MAX_EXT_HEADERS,
  NH_HOP_BY_HOP, NH_ROUTING, NH_FRAGMENT, NH_DEST_OPTS, NH_MOBILITY,
} from '../wire/ipv6.js';
import { TCP_FLAGS, tcpHeaderValid } from '../wire/tcp.js';
import { UDP_HLEN, UDP_LEN } from '../wire/udp.js';
import { ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM } from '../wire/icmp.js';
import {
  ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_DEST_UNREACH, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAM_PROBLEM,
} from '../wire/icmpv6.js';

export const NAT_OK = 0;
export const NAT_ICMP_ERROR = 1;
export const NAT_TRUNCATED = 2;
export const NAT_BAD_IP = 3;
export const NAT_BAD_L4 = 4;
export const NAT_LATER_FRAGMENT = 5;
export const NAT_BAD_EXT_HEADER = 6;
export const NAT_ROUTING_HEADER = 7;
export const NAT_UNSUPPORTED_PROTO = 8;
export const NAT_UNSUPPORTED_ICMP = 9;
export const NAT_ICMP_INNER_BAD = 10;

/** Names for counters and logs, indexed by verdict. */
export const NAT_VERDICT_NAMES: readonly string[] = [
  'ok', 'icmpError', 'truncated', 'badIp', 'badL4', 'laterFragment', 'badExtHeader', 'routingHeader',
  'unsupportedProto', 'unsupportedIcmp', 'icmpInnerBad',
];

/** Where the L4 checksum is, per kind. */
export const CSUM_NONE = 0;
export const CSUM_TCP = 1;
export const CSUM_UDP = 2;
/** ICMPv4: no pseudo-header. */
export const CSUM_ICMP4 = 3;
/** ICMPv6: pseudo-header included. */
export const CSUM_ICMP6 = 4;

/** Filled by natParse; one per worker, reused for every packet. Offsets are absolute. */
export class NatPacket {
  family = 0;
  ipOff = 0;
  /** End of the IP packet (ipOff + total length), not of the frame. */
  end = 0;
  proto = 0;
  l4Off = 0;
  srcOff = 0;
  dstOff = 0;
  sport = 0;
  dport = 0;
  /** Offset of the port (or echo identifier) fields: sportOff / dportOff; -1 when the side has none. */
  sportOff = -1;
  dportOff = -1;
  csumKind = CSUM_NONE;
  csumOff = -1;
  tcpFlags = 0;
  icmpType = 0;
  firstFragment = false;
  // The quoted packet of an ICMP error (NAT_ICMP_ERROR).
  innerIpOff = 0;
  innerProto = 0;
  innerL4Off = 0;
  innerSrcOff = 0;
  innerDstOff = 0;
  innerSport = 0;
  innerDport = 0;
  innerSportOff = -1;
  innerDportOff = -1;
  innerCsumKind = CSUM_NONE;
  /** -1 when the quote ends before the inner L4 checksum (RFC 792 quotes only 8 bytes of L4). */
  innerCsumOff = -1;
  // Scratch of the IPv6 walk.
  walkL4 = 0;
  walkProto = 0;
  walkFirstFragment = false;
}

function icmpErrorType(family: number, t: number): boolean {
  return family === 4
    ? t === ICMP_DEST_UNREACH || t === ICMP_TIME_EXCEEDED || t === ICMP_PARAM_PROBLEM
    : t === ICMPV6_DEST_UNREACH || t === ICMPV6_PACKET_TOO_BIG || t === ICMPV6_TIME_EXCEEDED || t === ICMPV6_PARAM_PROBLEM;
}

/** IPv6 extension-header walk from the fixed header at o to end; fills walk* of p. */
function walk6(b: Uint8Array, o: number, end: number, p: NatPacket): number {
  let next = b[o + IPV6_NEXT]!;
  let q = o + IPV6_HLEN;
  p.walkFirstFragment = false;
  for (let n = 0; ; n++) {
    if (n > IPV6_MAX_EXT_HEADERS) return NAT_BAD_EXT_HEADER;
    if (next === NH_HOP_BY_HOP && n !== 0) return NAT_BAD_EXT_HEADER; // hop-by-hop must come first
    let hlen: number;
    switch (next) {
      case NH_HOP_BY_HOP:
      case NH_DEST_OPTS:
      case NH_MOBILITY:
        if (q + 8 > end) return NAT_BAD_EXT_HEADER;
        hlen = (b[q + 1]! + 1) << 3;
        break;
      case NH_ROUTING:
        if (q + 8 > end) return NAT_BAD_EXT_HEADER;
        if (b[q + 3] !== 0) return NAT_ROUTING_HEADER;
        hlen = (b[q + 1]! + 1) << 3;
        break;
      case NH_FRAGMENT: {
        if (q + 8 > end) return NAT_BAD_EXT_HEADER;
        const fo = get16(b, q + 2);
        if ((fo & 0xfff8) !== 0) return NAT_LATER_FRAGMENT;
        if (fo & 1) p.walkFirstFragment = true;
        hlen = 8;
        break;
      }
      default:
        p.walkL4 = q;
        p.walkProto = next;
        return NAT_OK;
    }
    if (q + hlen > end) return NAT_BAD_EXT_HEADER;
    next = b[q]!;
    q += hlen;
  }
}

/** Parses the packet at ipOff (avail bytes of frame from there); returns a NAT_* verdict. */
export function natParse(b: Uint8Array, ipOff: number, avail: number, p: NatPacket): number {
  if ((ipOff | 0) !== ipOff || ipOff < 0 || avail < 1 || ipOff + avail > b.length) return NAT_TRUNCATED;
  p.ipOff = ipOff;
  p.firstFragment = false;
  p.tcpFlags = 0;
  p.icmpType = 0;
  const v = b[ipOff]! >>> 4;
  let l4: number, proto: number, end: number;
  if (v === 4) {
    if (avail < IPV4_MIN_HLEN) return NAT_TRUNCATED;
    const hlen = (b[ipOff]! & 0x0f) << 2;
    const total = get16(b, ipOff + IPV4_TOTLEN);
    if (hlen < IPV4_MIN_HLEN || hlen > avail || total < hlen || total > avail) return NAT_BAD_IP;
    const frag = get16(b, ipOff + IPV4_FRAG);
    if ((frag & IPV4_OFFSET_MASK) !== 0) return NAT_LATER_FRAGMENT;
    p.firstFragment = (frag & IPV4_MF) !== 0;
    p.family = 4;
    p.srcOff = ipOff + IPV4_SRC;
    p.dstOff = ipOff + IPV4_DST;
    end = ipOff + total;
    l4 = ipOff + hlen;
    proto = b[ipOff + IPV4_PROTO]!;
  } else if (v === 6) {
    if (avail < IPV6_HLEN) return NAT_TRUNCATED;
    end = ipOff + IPV6_HLEN + get16(b, ipOff + IPV6_PAYLOAD_LEN);
    if (end > ipOff + avail) return NAT_BAD_IP;
    const w = walk6(b, ipOff, end, p);
    if (w !== NAT_OK) return w;
    p.firstFragment = p.walkFirstFragment;
    p.family = 6;
    p.srcOff = ipOff + IPV6_SRC;
    p.dstOff = ipOff + IPV6_DST;
    l4 = p.walkL4;
    proto = p.walkProto;
  } else {
    return NAT_BAD_IP;
  }
  p.end = end;
  p.l4Off = l4;
  p.proto = proto;
  const l4avail = end - l4;
  if (proto === IPPROTO_TCP) {
    if (!tcpHeaderValid(b, l4, l4avail)) return NAT_TRUNCATED;
    setPorts(p, b, l4, CSUM_TCP, l4 + 16);
    p.tcpFlags = b[l4 + TCP_FLAGS]!;
    return NAT_OK;
  }
  if (proto === IPPROTO_UDP) {
    if (l4avail < UDP_HLEN) return NAT_TRUNCATED;
    const ulen = get16(b, l4 + UDP_LEN);
    // A first fragment holds only the start of the datagram its length describes.
    if (ulen < UDP_HLEN || (!p.firstFragment && ulen > l4avail)) return NAT_BAD_L4;
    setPorts(p, b, l4, CSUM_UDP, l4 + 6);
    return NAT_OK;
  }
  const icmp4 = proto === IPPROTO_ICMP && p.family === 4, icmp6 = proto === IPPROTO_ICMPV6 && p.family === 6;
  if (!icmp4 && !icmp6) return NAT_UNSUPPORTED_PROTO;
  if (l4avail < 8) return NAT_TRUNCATED;
  const t = b[l4]!;
  p.icmpType = t;
  p.csumKind = icmp4 ? CSUM_ICMP4 : CSUM_ICMP6;
  p.csumOff = l4 + 2;
  if (t === (icmp4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
    p.sport = get16(b, l4 + 4); p.dport = 0; p.sportOff = l4 + 4; p.dportOff = -1;
    return NAT_OK;
  }
  if (t === (icmp4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) {
    p.sport = 0; p.dport = get16(b, l4 + 4); p.sportOff = -1; p.dportOff = l4 + 4;
    return NAT_OK;
  }
  if (!icmpErrorType(p.family, t)) return NAT_UNSUPPORTED_ICMP;
  if (p.firstFragment) return NAT_ICMP_INNER_BAD;
  p.sport = 0; p.dport = 0; p.sportOff = -1; p.dportOff = -1;
  return parseInner(b, l4 + 8, end, p);
}

function setPorts(p: NatPacket, b: Uint8Array, l4: number, kind: number, csumOff: number): void {
  p.sport = get16(b, l4);
  p.dport = get16(b, l4 + 2);
  p.sportOff = l4;
  p.dportOff = l4 + 2;
  p.csumKind = kind;
  p.csumOff = csumOff;
}

/** The quoted packet from q to end (the end of the outer packet). */
function parseInner(b: Uint8Array, q: number, end: number, p: NatPacket): number {
  const qavail = end - q;
  let l4: number, proto: number;
  p.innerIpOff = q;
  if (p.family === 4) {
    if (qavail < IPV4_MIN_HLEN || b[q]! >>> 4 !== 4) return NAT_ICMP_INNER_BAD;
    const hlen = (b[q]! & 0x0f) << 2;
    if (hlen < IPV4_MIN_HLEN || hlen > qavail) return NAT_ICMP_INNER_BAD;
    if ((get16(b, q + IPV4_FRAG) & IPV4_OFFSET_MASK) !== 0) return NAT_ICMP_INNER_BAD;
    p.innerSrcOff = q + IPV4_SRC;
    p.innerDstOff = q + IPV4_DST;
    l4 = q + hlen;
    proto = b[q + IPV4_PROTO]!;
  } else {
    if (qavail < IPV6_HLEN || b[q]! >>> 4 !== 6) return NAT_ICMP_INNER_BAD;
    // The quote is usually cut short: walk within what is there.
    if (walk6(b, q, end, p) !== NAT_OK) return NAT_ICMP_INNER_BAD;
    p.innerSrcOff = q + IPV6_SRC;
    p.innerDstOff = q + IPV6_DST;
    l4 = p.walkL4;
    proto = p.walkProto;
  }
  p.innerProto = proto;
  p.innerL4Off = l4;
  const iavail = end - l4;
  let csumRel: number;
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
    if (iavail < 4) return NAT_ICMP_INNER_BAD;
    p.innerSport = get16(b, l4); p.innerDport = get16(b, l4 + 2);
    p.innerSportOff = l4; p.innerDportOff = l4 + 2;
    p.innerCsumKind = proto === IPPROTO_TCP ? CSUM_TCP : CSUM_UDP;
    csumRel = proto === IPPROTO_TCP ? 16 : 6;
  } else if ((proto === IPPROTO_ICMP && p.family === 4) || (proto === IPPROTO_ICMPV6 && p.family === 6)) {
    if (iavail < 8) return NAT_ICMP_INNER_BAD;
    const t = b[l4]!;
    if (t === (p.family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
      p.innerSport = get16(b, l4 + 4); p.innerDport = 0; p.innerSportOff = l4 + 4; p.innerDportOff = -1;
    } else if (t === (p.family === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) {
      p.innerSport = 0; p.innerDport = get16(b, l4 + 4); p.innerSportOff = -1; p.innerDportOff = l4 + 4;
    } else {
      return NAT_ICMP_INNER_BAD;
    }
    p.innerCsumKind = p.family === 4 ? CSUM_ICMP4 : CSUM_ICMP6;
    csumRel = 2;
  } else {
    return NAT_ICMP_INNER_BAD;
  }
  p.innerCsumOff = l4 + csumRel + 2 <= end ? l4 + csumRel : -1;
  return NAT_ICMP_ERROR;
}
