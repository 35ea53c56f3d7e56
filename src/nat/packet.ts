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
// - First fragments (MF / M set with offset 0; an atomic IPv6 fragment is whole) carry the
//   L4 header and are translated (firstFragment says so): the L4 checksum covers the whole
//   datagram, but an incremental update only needs the words that change. Later fragments
//   have no ports: NAT_LATER_FRAGMENT. Without fragment tracking (a table from (source,
//   destination, IP id) to the translation, not built yet) the datapath must drop them and
//   count it, as Cilium does without its fragment map; never forward them untranslated
//   (that would leak the endpoint's address past the gateway).
// - IPv6 routing header with segments left > 0: NAT_ROUTING_HEADER (the checksum's
//   pseudo-header would use the final destination, not the address field we rewrite).
//   AH (walked past, like the pipeline does) and ESP: NAT_UNSUPPORTED_PROTO (a translated
//   packet would fail its integrity check).
// - ICMP errors that are themselves fragments, quote another family, a later fragment, an
//   unsupported protocol or too few bytes for the ports / identifier: NAT_ICMP_INNER_BAD.
// - Any other ICMP type (timestamps, redirects, router and neighbour discovery):
//   NAT_UNSUPPORTED_ICMP.
// - Malformed headers: NAT_TRUNCATED, NAT_BAD_IP, NAT_BAD_EXT_HEADER (a chain ipv6Walk
//   refuses), NAT_BAD_L4.
// Headers pass the views' checks first (ipv4HeaderCheck / ipv6Check; ipv4QuoteCheck /
// ipv6QuoteCheck for the quoted packet) and the IPv6 chain is the pipeline's own ipv6Walk, so
// the NAT and the pipeline never disagree about where a header ends. The IPv4 header checksum
// is the pipeline's ipv4Check's to verify, before the NAT stage; a wrong one stays wrong.
import { get16 } from '../wire/bytes.js';
import {
  IPV4_OK,
  IPV4_TRUNCATED,
  IPV4_FRAG,
  IPV4_PROTO,
  IPV4_SRC,
  IPV4_DST,
  IPV4_MF,
  IPV4_OFFSET_MASK,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_ICMPV6,
  ipv4HeaderCheck,
  ipv4QuoteCheck,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4IsLaterFragment,
} from '../wire/ipv4.js';
import {
  IPV6_OK,
  IPV6_TRUNCATED,
  IPV6_HLEN,
  IPV6_SRC,
  IPV6_DST,
  Ipv6Walk,
  ipv6Check,
  ipv6QuoteCheck,
  ipv6Walk,
  ipv6PayloadLen,
} from '../wire/ipv6.js';
import { TCP_SRC_PORT, TCP_DST_PORT, TCP_FLAGS, TCP_CSUM, L4_PORTS_LEN, tcpHeaderValid } from '../wire/tcp.js';
import { UDP_HLEN, UDP_LEN, UDP_CSUM, udpLengthValid } from '../wire/udp.js';
import {
  ICMP_HLEN,
  ICMP_CSUM,
  ICMP_ECHO_ID,
  ICMP_ECHO_REQUEST,
  ICMP_ECHO_REPLY,
  ICMP_DEST_UNREACH,
  ICMP_TIME_EXCEEDED,
  ICMP_PARAM_PROBLEM,
} from '../wire/icmp.js';
import {
  ICMPV6_HLEN,
  ICMPV6_CSUM,
  ICMPV6_ECHO_ID,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_DEST_UNREACH,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_PARAM_PROBLEM,
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
  'ok',
  'icmpError',
  'truncated',
  'badIp',
  'badL4',
  'laterFragment',
  'badExtHeader',
  'routingHeader',
  'unsupportedProto',
  'unsupportedIcmp',
  'icmpInnerBad',
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
  /** Scratch of ipv6Walk, for the packet and then for the quoted one. */
  readonly walk = new Ipv6Walk();
}

function icmpErrorType(family: number, t: number): boolean {
  return family === 4
    ? t === ICMP_DEST_UNREACH || t === ICMP_TIME_EXCEEDED || t === ICMP_PARAM_PROBLEM
    : t === ICMPV6_DEST_UNREACH ||
        t === ICMPV6_PACKET_TOO_BIG ||
        t === ICMPV6_TIME_EXCEEDED ||
        t === ICMPV6_PARAM_PROBLEM;
}

/** Parses the packet at ipOff (avail bytes of frame from there); returns a NAT_* verdict. */
export function natParse(b: Uint8Array, ipOff: number, avail: number, p: NatPacket): number {
  if ((ipOff | 0) !== ipOff || ipOff < 0 || avail < 1 || ipOff + avail > b.length) return NAT_TRUNCATED;
  p.ipOff = ipOff;
  p.firstFragment = false;
  p.tcpFlags = 0;
  p.icmpType = 0;
  const version = b[ipOff]! >>> 4;
  let l4: number, proto: number, end: number;
  if (version === 4) {
    const checked = ipv4HeaderCheck(b, ipOff, avail);
    if (checked !== IPV4_OK) return checked === IPV4_TRUNCATED ? NAT_TRUNCATED : NAT_BAD_IP;
    // The flags and offset read once: on this per-packet path every named constant is a load.
    const frag = get16(b, ipOff + IPV4_FRAG);
    if ((frag & IPV4_OFFSET_MASK) !== 0) return NAT_LATER_FRAGMENT;
    p.firstFragment = (frag & IPV4_MF) !== 0;
    p.family = 4;
    p.srcOff = ipOff + IPV4_SRC;
    p.dstOff = ipOff + IPV4_DST;
    end = ipOff + ipv4TotalLen(b, ipOff);
    l4 = ipOff + ipv4HeaderLen(b, ipOff);
    proto = b[ipOff + IPV4_PROTO]!;
  } else if (version === 6) {
    const checked = ipv6Check(b, ipOff, avail);
    if (checked !== IPV6_OK) return checked === IPV6_TRUNCATED ? NAT_TRUNCATED : NAT_BAD_IP;
    end = ipOff + IPV6_HLEN + ipv6PayloadLen(b, ipOff);
    const w = p.walk;
    if (ipv6Walk(b, ipOff, end, w) !== IPV6_OK) return NAT_BAD_EXT_HEADER;
    if (w.routingPending) return NAT_ROUTING_HEADER;
    if (w.authHeader) return NAT_UNSUPPORTED_PROTO;
    if (w.laterFragment) return NAT_LATER_FRAGMENT;
    p.firstFragment = w.moreFragments;
    p.family = 6;
    p.srcOff = ipOff + IPV6_SRC;
    p.dstOff = ipOff + IPV6_DST;
    l4 = w.l4Off;
    proto = w.proto;
  } else {
    return NAT_BAD_IP;
  }
  p.end = end;
  p.l4Off = l4;
  p.proto = proto;
  const l4avail = end - l4;
  if (proto === IPPROTO_TCP) {
    if (!tcpHeaderValid(b, l4, l4avail)) return NAT_TRUNCATED;
    setPorts(p, b, l4, CSUM_TCP, l4 + TCP_CSUM);
    p.tcpFlags = b[l4 + TCP_FLAGS]!;
    return NAT_OK;
  }
  if (proto === IPPROTO_UDP) {
    if (l4avail < UDP_HLEN) return NAT_TRUNCATED;
    // A first fragment holds only the start of the datagram its length describes.
    const lengthOk = p.firstFragment ? get16(b, l4 + UDP_LEN) >= UDP_HLEN : udpLengthValid(b, l4, l4avail);
    if (!lengthOk) return NAT_BAD_L4;
    setPorts(p, b, l4, CSUM_UDP, l4 + UDP_CSUM);
    return NAT_OK;
  }
  if (p.family === 4 ? proto !== IPPROTO_ICMP : proto !== IPPROTO_ICMPV6) return NAT_UNSUPPORTED_PROTO;
  return parseIcmp(b, l4, end, p);
}

/** ICMP / ICMPv6 at l4: an echo (its identifier is the port) or an error about a flow. */
function parseIcmp(b: Uint8Array, l4: number, end: number, p: NatPacket): number {
  const v4 = p.family === 4;
  if (end - l4 < (v4 ? ICMP_HLEN : ICMPV6_HLEN)) return NAT_TRUNCATED;
  const t = b[l4]!;
  const id = l4 + (v4 ? ICMP_ECHO_ID : ICMPV6_ECHO_ID);
  p.icmpType = t;
  p.csumKind = v4 ? CSUM_ICMP4 : CSUM_ICMP6;
  p.csumOff = l4 + (v4 ? ICMP_CSUM : ICMPV6_CSUM);
  if (t === (v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
    p.sport = get16(b, id);
    p.dport = 0;
    p.sportOff = id;
    p.dportOff = -1;
    return NAT_OK;
  }
  if (t === (v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) {
    p.sport = 0;
    p.dport = get16(b, id);
    p.sportOff = -1;
    p.dportOff = id;
    return NAT_OK;
  }
  if (!icmpErrorType(p.family, t)) return NAT_UNSUPPORTED_ICMP;
  if (p.firstFragment) return NAT_ICMP_INNER_BAD;
  p.sport = 0;
  p.dport = 0;
  p.sportOff = -1;
  p.dportOff = -1;
  return parseInner(b, l4 + (v4 ? ICMP_HLEN : ICMPV6_HLEN), end, p);
}

/** TCP or UDP ports (UDP's sit where TCP's do). */
function setPorts(p: NatPacket, b: Uint8Array, l4: number, kind: number, csumOff: number): void {
  p.sportOff = l4 + TCP_SRC_PORT;
  p.dportOff = l4 + TCP_DST_PORT;
  p.sport = get16(b, p.sportOff);
  p.dport = get16(b, p.dportOff);
  p.csumKind = kind;
  p.csumOff = csumOff;
}

/** The quoted packet from q to end (the end of the outer packet). */
function parseInner(b: Uint8Array, q: number, end: number, p: NatPacket): number {
  let l4: number, proto: number;
  p.innerIpOff = q;
  if (p.family === 4) {
    if (ipv4QuoteCheck(b, q, end - q) !== IPV4_OK || ipv4IsLaterFragment(b, q)) return NAT_ICMP_INNER_BAD;
    p.innerSrcOff = q + IPV4_SRC;
    p.innerDstOff = q + IPV4_DST;
    l4 = q + ipv4HeaderLen(b, q);
    proto = b[q + IPV4_PROTO]!;
  } else {
    // The quote is usually cut short: walk within what is there.
    const w = p.walk;
    if (ipv6QuoteCheck(b, q, end - q) !== IPV6_OK || ipv6Walk(b, q, end, w) !== IPV6_OK) return NAT_ICMP_INNER_BAD;
    if (w.laterFragment || w.routingPending || w.authHeader) return NAT_ICMP_INNER_BAD;
    p.innerSrcOff = q + IPV6_SRC;
    p.innerDstOff = q + IPV6_DST;
    l4 = w.l4Off;
    proto = w.proto;
  }
  p.innerProto = proto;
  p.innerL4Off = l4;
  const iavail = end - l4;
  let csumRel: number;
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
    if (iavail < L4_PORTS_LEN) return NAT_ICMP_INNER_BAD;
    p.innerSportOff = l4 + TCP_SRC_PORT;
    p.innerDportOff = l4 + TCP_DST_PORT;
    p.innerSport = get16(b, p.innerSportOff);
    p.innerDport = get16(b, p.innerDportOff);
    p.innerCsumKind = proto === IPPROTO_TCP ? CSUM_TCP : CSUM_UDP;
    csumRel = proto === IPPROTO_TCP ? TCP_CSUM : UDP_CSUM;
  } else if (p.family === 4 ? proto === IPPROTO_ICMP : proto === IPPROTO_ICMPV6) {
    const v4 = p.family === 4;
    if (iavail < (v4 ? ICMP_HLEN : ICMPV6_HLEN)) return NAT_ICMP_INNER_BAD;
    const t = b[l4]!;
    const id = l4 + (v4 ? ICMP_ECHO_ID : ICMPV6_ECHO_ID);
    if (t === (v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
      p.innerSport = get16(b, id);
      p.innerDport = 0;
      p.innerSportOff = id;
      p.innerDportOff = -1;
    } else if (t === (v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) {
      p.innerSport = 0;
      p.innerDport = get16(b, id);
      p.innerSportOff = -1;
      p.innerDportOff = id;
    } else {
      return NAT_ICMP_INNER_BAD;
    }
    p.innerCsumKind = v4 ? CSUM_ICMP4 : CSUM_ICMP6;
    csumRel = v4 ? ICMP_CSUM : ICMPV6_CSUM;
  } else {
    return NAT_ICMP_INNER_BAD;
  }
  // The quote may end before the checksum field (2 bytes): then there is none to patch.
  p.innerCsumOff = l4 + csumRel + 2 <= end ? l4 + csumRel : -1;
  return NAT_ICMP_ERROR;
}
