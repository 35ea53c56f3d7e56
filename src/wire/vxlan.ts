// VXLAN (RFC 7348) as Linux's `vxlan` device and Cilium's tunnel mode speak it: an inner
// Ethernet frame behind outer Ethernet + IPv4/IPv6 + UDP + this 8-byte header:
//
//   0      1      2      3      4      5      6      7
//   flags  reserved (24 bits)   VNI (24 bits)        reserved
//
// flags: only the I bit (0x08, "VNI valid") is defined; it must be set. The reserved bits are
// zero on transmission and ignored on receipt (RFC 7348 §5).
//
// The encapsulation writers put the outer headers in front of an inner frame that is already in
// place, in the buffer's headroom: the caller passes the inner frame's offset and gets back the
// outer frame's offset (inner - VXLAN_OVERHEAD4/6). The payload is never copied.
import { fmix32 } from './hash32.js';
import { get16, put16 } from './bytes.js';
import { sum16, finish, pseudoSum6 } from './checksum.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import { IPV4_MIN_HLEN, IPPROTO_TCP, IPPROTO_UDP, writeIpv4Header } from './ipv4.js';
import { IPV6_HLEN, writeIpv6Header } from './ipv6.js';
import { UDP_HLEN, UDP_CSUM, writeUdpHeader } from './udp.js';

export const VXLAN_HLEN = 8;
export const VXLAN_FLAGS = 0;
export const VXLAN_VNI = 4;
export const VXLAN_FLAG_I = 0x08;

/** Cilium's (and Linux's historical) VXLAN port; IANA's is 4789. */
export const VXLAN_DEFAULT_PORT = 8472;
export const VXLAN_DEFAULT_VNI = 2;
export const VXLAN_MAX_VNI = 0xffffff;

/** Outer Ethernet + IPv4 (no options) + UDP + VXLAN: what a tunnelled frame grows by. */
export const VXLAN_OVERHEAD4 = ETH_HLEN + IPV4_MIN_HLEN + UDP_HLEN + VXLAN_HLEN; // 50
/** Outer Ethernet + IPv6 (no extension headers) + UDP + VXLAN. */
export const VXLAN_OVERHEAD6 = ETH_HLEN + IPV6_HLEN + UDP_HLEN + VXLAN_HLEN; // 70

/** Outer TTL / hop limit of encapsulated packets. */
export const VXLAN_OUTER_TTL = 64;

/**
 * Outer UDP source ports: Linux's udp_flow_src_port() over the default local port range
 * maps a flow hash into [min, max): ((hash * (max - min)) >> 32) + min, i.e. 32768..60999.
 */
export const VXLAN_SPORT_MIN = 32768;
export const VXLAN_SPORT_MAX = 61000;

export const VXLAN_OK = 0;
export const VXLAN_TRUNCATED = 1;
export const VXLAN_BAD_FLAGS = 2;

const IPPROTO_SCTP = 132;

/** Validates the VXLAN header at o with avail bytes of UDP payload; returns a VXLAN_* verdict. */
export function vxlanCheck(b: Uint8Array, o: number, avail: number): number {
  if (avail < VXLAN_HLEN) return VXLAN_TRUNCATED;
  if ((b[o + VXLAN_FLAGS] & VXLAN_FLAG_I) === 0) return VXLAN_BAD_FLAGS;
  return VXLAN_OK;
}

export function vxlanVni(b: Uint8Array, o: number): number {
  return (b[o + VXLAN_VNI] << 16) | (b[o + VXLAN_VNI + 1] << 8) | b[o + VXLAN_VNI + 2];
}

export function writeVxlanHeader(b: Uint8Array, o: number, vni: number): void {
  b[o] = VXLAN_FLAG_I;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = 0;
  b[o + 4] = (vni >>> 16) & 0xff;
  b[o + 5] = (vni >>> 8) & 0xff;
  b[o + 6] = vni & 0xff;
  b[o + 7] = 0;
}

function fnv(h: number, b: Uint8Array, o: number, n: number): number {
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[o + i], 0x01000193);
  return h;
}

/**
 * A deterministic hash of the inner frame's flow, so that one flow always takes the same
 * outer source port (and the underlay's ECMP keeps it on one path) while different flows
 * spread. FNV-1a (32 bit) over
 *   IPv4: source, destination, protocol [, source and destination port]
 *   IPv6: source, destination, next header [, source and destination port]
 *   anything else (ARP): the two MAC addresses,
 * ports only for TCP/UDP/SCTP directly behind the IP header and never for fragments (every
 * fragment of a datagram then hashes alike), followed by MurmurHash3's fmix32 finaliser.
 * test/fixtures/wire/gen_vxlan.py computes the same function.
 */
export function vxlanFlowHash(b: Uint8Array, o: number, len: number): number {
  let h = 0x811c9dc5 | 0;
  const type = len >= ETH_HLEN ? get16(b, o + ETH_TYPE) : 0;
  const ip = o + ETH_HLEN;
  if (type === ETHERTYPE_IPV4 && len >= ETH_HLEN + IPV4_MIN_HLEN) {
    const proto = b[ip + 9];
    h = fnv(h, b, ip + 12, 8);
    h = fnv(h, b, ip + 9, 1);
    const hlen = (b[ip] & 0x0f) << 2;
    const total = get16(b, ip + 2);
    const fragment = (get16(b, ip + 6) & 0x3fff) !== 0;
    if (
      (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) &&
      !fragment &&
      hlen >= IPV4_MIN_HLEN &&
      hlen + 4 <= total &&
      ETH_HLEN + hlen + 4 <= len
    ) {
      h = fnv(h, b, ip + hlen, 4);
    }
  } else if (type === ETHERTYPE_IPV6 && len >= ETH_HLEN + IPV6_HLEN) {
    const next = b[ip + 6];
    h = fnv(h, b, ip + 8, 32);
    h = fnv(h, b, ip + 6, 1);
    if (
      (next === IPPROTO_TCP || next === IPPROTO_UDP || next === IPPROTO_SCTP) &&
      get16(b, ip + 4) >= 4 &&
      ETH_HLEN + IPV6_HLEN + 4 <= len
    ) {
      h = fnv(h, b, ip + IPV6_HLEN, 4);
    }
  } else if (len >= 12) {
    h = fnv(h, b, o, 12);
  }
  return fmix32(h);
}

/** The outer UDP source port for a flow hash, in [VXLAN_SPORT_MIN, VXLAN_SPORT_MAX). */
export function vxlanSourcePort(hash: number): number {
  // hash < 2^32 and the range < 2^15: the product is exact in a double.
  return VXLAN_SPORT_MIN + Math.floor(((hash >>> 0) * (VXLAN_SPORT_MAX - VXLAN_SPORT_MIN)) / 4294967296);
}

/**
 * Writes outer IPv4 (DF, TTL 64, ID 0, checksum), UDP (checksum 0, allowed over IPv4 by RFC
 * 7348 §5 and what Linux sends by default) and VXLAN in front of the inner frame at innerOff
 * (innerLen bytes), plus the outer ethertype. The outer MAC addresses are the caller's.
 * Returns the outer frame's offset, innerOff - VXLAN_OVERHEAD4.
 */
export function writeVxlanEncap4(
  b: Uint8Array,
  innerOff: number,
  innerLen: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  srcPort: number,
  dstPort: number,
  vni: number,
): number {
  const o = innerOff - VXLAN_OVERHEAD4;
  const ip = o + ETH_HLEN;
  const u = ip + IPV4_MIN_HLEN;
  const ulen = UDP_HLEN + VXLAN_HLEN + innerLen;
  put16(b, o + ETH_TYPE, ETHERTYPE_IPV4);
  writeIpv4Header(b, ip, IPV4_MIN_HLEN + ulen, 0, true, VXLAN_OUTER_TTL, IPPROTO_UDP, src, srcOff, dst, dstOff);
  writeUdpHeader(b, u, srcPort, dstPort, ulen, 0);
  writeVxlanHeader(b, u + UDP_HLEN, vni);
  return o;
}

/**
 * Writes outer IPv6 (traffic class and flow label 0, hop limit 64), UDP with its checksum
 * (mandatory over IPv6) and VXLAN in front of the inner frame. Returns innerOff - VXLAN_OVERHEAD6.
 */
export function writeVxlanEncap6(
  b: Uint8Array,
  innerOff: number,
  innerLen: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  srcPort: number,
  dstPort: number,
  vni: number,
): number {
  const o = innerOff - VXLAN_OVERHEAD6;
  const ip = o + ETH_HLEN;
  const u = ip + IPV6_HLEN;
  const ulen = UDP_HLEN + VXLAN_HLEN + innerLen;
  put16(b, o + ETH_TYPE, ETHERTYPE_IPV6);
  writeIpv6Header(b, ip, ulen, IPPROTO_UDP, VXLAN_OUTER_TTL, src, srcOff, dst, dstOff);
  writeUdpHeader(b, u, srcPort, dstPort, ulen, 0);
  writeVxlanHeader(b, u + UDP_HLEN, vni);
  const c = finish(sum16(b, u, ulen, pseudoSum6(b, ip, IPPROTO_UDP, ulen)));
  put16(b, u + UDP_CSUM, c === 0 ? 0xffff : c);
  return o;
}
