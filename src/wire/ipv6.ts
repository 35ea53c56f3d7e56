// IPv6 header view (RFC 8200) with a bounded walk over extension headers.
import { get16, put16, copy } from './bytes.js';
import { parseIpv4 } from './ipv4.js';

export const IPV6_HLEN = 40;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT = 6;
export const IPV6_HOPS = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;

export const NH_HOP_BY_HOP = 0;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_AH = 51;
export const NH_DEST_OPTS = 60;
export const NH_MOBILITY = 135;

/** Fields inside extension headers: the routing header's segments left; the fragment header's offset and M flag. */
export const IPV6_RH_SEGMENTS_LEFT = 3;
export const IPV6_FRAG_OFFSET_FLAGS = 2;
export const IPV6_FRAG_OFFSET_MASK = 0xfff8;
export const IPV6_FRAG_M = 1;

/** More extension headers than this is treated as an attack, not a packet. */
export const IPV6_MAX_EXT_HEADERS = 8;

export const IPV6_OK = 0;
export const IPV6_TRUNCATED = 1;
export const IPV6_BAD_VERSION = 2;
export const IPV6_BAD_PAYLOAD_LEN = 3;
export const IPV6_BAD_EXT_HEADER = 4;
export const IPV6_TOO_MANY_EXT_HEADERS = 5;

/** Where the upper-layer header starts, filled by ipv6Walk (preallocated by the caller). */
export class Ipv6Walk {
  l4Off = 0;
  proto = 0;
  extHeaders = 0;
  fragment = false;
  /** A fragment with a non-zero offset: there is no upper-layer header to read. */
  laterFragment = false;
  /** The fragment header's M flag: more fragments follow (an atomic fragment, RFC 6946, has none). */
  moreFragments = false;
  /**
   * A routing header still has segments left: the destination field is not the final
   * destination, which upper-layer checksums use instead (RFC 8200 §8.1).
   */
  routingPending = false;
  /** An authentication header (RFC 4302) is in the chain: its integrity check covers the addresses. */
  authHeader = false;
}

export function ipv6Check(b: Uint8Array, o: number, avail: number): number {
  if (avail < IPV6_HLEN) return IPV6_TRUNCATED;
  if (b[o] >>> 4 !== 6) return IPV6_BAD_VERSION;
  if (IPV6_HLEN + get16(b, o + IPV6_PAYLOAD_LEN) > avail) return IPV6_BAD_PAYLOAD_LEN;
  return IPV6_OK;
}

/**
 * ipv6Check for the header of a packet quoted in an ICMPv6 error, which is cut short of its
 * payload length (RFC 4443 §2.4 (c)): walk it with ipv6Walk up to the end of the quote. A flat
 * copy of ipv6Check's first two lines (test/wire/ipv6.test.ts holds them to agreeing).
 */
export function ipv6QuoteCheck(b: Uint8Array, o: number, avail: number): number {
  if (avail < IPV6_HLEN) return IPV6_TRUNCATED;
  if (b[o] >>> 4 !== 6) return IPV6_BAD_VERSION;
  return IPV6_OK;
}

export function ipv6PayloadLen(b: Uint8Array, o: number): number {
  return get16(b, o + IPV6_PAYLOAD_LEN);
}

/**
 * Walks the extension-header chain of a checked packet (end = o + 40 + payload length, or the
 * end of a quote). Hop-by-hop must come first; every header must fit; the chain is bounded.
 */
export function ipv6Walk(b: Uint8Array, o: number, end: number, out: Ipv6Walk): number {
  let next = b[o + IPV6_NEXT];
  let p = o + IPV6_HLEN;
  out.extHeaders = 0;
  out.fragment = false;
  out.laterFragment = false;
  out.moreFragments = false;
  out.routingPending = false;
  out.authHeader = false;
  // One bounds check and one length for most headers, the exceptions after them (told apart by
  // locals: each named constant is a load). Keeps the function under TurboFan's inlining limit
  // of 460 bytes of bytecode (428 now; the recorder's classify inlines it).
  for (;;) {
    let routing = false,
      fragment = false,
      auth = false;
    switch (next) {
      case NH_HOP_BY_HOP:
        if (out.extHeaders !== 0) return IPV6_BAD_EXT_HEADER;
        break;
      case NH_DEST_OPTS:
      case NH_MOBILITY:
        break;
      case NH_ROUTING:
        routing = true;
        break;
      case NH_FRAGMENT:
        fragment = true;
        break;
      case NH_AH:
        auth = true;
        break;
      default:
        out.l4Off = p;
        out.proto = next;
        return IPV6_OK;
    }
    if (p + 8 > end) return IPV6_BAD_EXT_HEADER;
    let hlen = (b[p + 1] + 1) << 3;
    if (auth) {
      hlen = (b[p + 1] + 2) << 2;
      out.authHeader = true;
    } else if (fragment) {
      hlen = 8;
      out.fragment = true;
      const offsetFlags = get16(b, p + IPV6_FRAG_OFFSET_FLAGS);
      if ((offsetFlags & IPV6_FRAG_OFFSET_MASK) !== 0) out.laterFragment = true;
      if ((offsetFlags & IPV6_FRAG_M) !== 0) out.moreFragments = true;
    } else if (routing && b[p + IPV6_RH_SEGMENTS_LEFT] !== 0) {
      out.routingPending = true;
    }
    if (p + hlen > end) return IPV6_BAD_EXT_HEADER;
    if (++out.extHeaders > IPV6_MAX_EXT_HEADERS) return IPV6_TOO_MANY_EXT_HEADERS;
    next = b[p];
    p += hlen;
    if (out.laterFragment) {
      // Nothing after a non-first fragment header is parseable.
      out.l4Off = p;
      out.proto = next;
      return IPV6_OK;
    }
  }
}

export function writeIpv6Header(
  b: Uint8Array,
  o: number,
  payloadLen: number,
  next: number,
  hops: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  b[o] = 0x60;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = 0;
  put16(b, o + IPV6_PAYLOAD_LEN, payloadLen);
  b[o + IPV6_NEXT] = next;
  b[o + IPV6_HOPS] = hops;
  copy(b, o + IPV6_SRC, src, srcOff, 16);
  copy(b, o + IPV6_DST, dst, dstOff, 16);
}

export function ipv6IsMulticast(b: Uint8Array, addrOff: number): boolean {
  return b[addrOff] === 0xff;
}

export function ipv6IsLinkLocal(b: Uint8Array, addrOff: number): boolean {
  return b[addrOff] === 0xfe && (b[addrOff + 1] & 0xc0) === 0x80;
}

export function ipv6IsLoopback(b: Uint8Array, addrOff: number): boolean {
  for (let i = 0; i < 15; i++) if (b[addrOff + i] !== 0) return false;
  return b[addrOff + 15] === 1;
}

export function ipv6IsUnspecified(b: Uint8Array, addrOff: number): boolean {
  for (let i = 0; i < 16; i++) if (b[addrOff + i] !== 0) return false;
  return true;
}

/** Solicited-node multicast group ff02::1:ffXX:XXXX for a target (RFC 4291 §2.7.1). */
export function writeSolicitedNode(b: Uint8Array, o: number, target: Uint8Array, targetOff: number): void {
  b.fill(0, o, o + 16);
  b[o] = 0xff;
  b[o + 1] = 0x02;
  b[o + 11] = 0x01;
  b[o + 12] = 0xff;
  copy(b, o + 13, target, targetOff + 13, 3);
}

// Control-plane helpers.

export function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    if (text.indexOf('::', dbl + 1) >= 0) return null;
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  // A dotted quad may only stand in the last 32 bits of the whole address (RFC 4291 §2.2).
  const words = (s: string, lastPart: boolean): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (lastPart && i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const h = words(head, dbl < 0);
  const t = words(tail, true);
  if (!h || !t) return null;
  const fill = 8 - h.length - t.length;
  if (dbl >= 0 ? fill < 1 : fill !== 0) return null;
  const all = [...h, ...new Array<number>(dbl >= 0 ? fill : 0).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >>> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** RFC 5952 text form. */
export function formatIpv6(b: Uint8Array, o = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(get16(b, o + 2 * i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}
