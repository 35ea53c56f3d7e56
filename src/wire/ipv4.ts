// IPv4 header view (RFC 791). Options are allowed and carried; fragments are recognised.
import { get16, put16, copy } from './bytes.js';
import { checksum, update16 } from './checksum.js';

export const IPV4_MIN_HLEN = 20;
export const IPV4_TOTLEN = 2;
export const IPV4_ID = 4;
export const IPV4_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;

export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;

export const IPV4_RESERVED_FLAG = 0x8000;
export const IPV4_DF = 0x4000;
export const IPV4_MF = 0x2000;
export const IPV4_OFFSET_MASK = 0x1fff;

// Options (RFC 791 §3.1): EOL ends the list, NOP is one byte, every other option is
// type, length (≥ 2, counting both), data. The copied flag says an option goes into every fragment.
export const IPV4_OPT_EOL = 0;
export const IPV4_OPT_NOP = 1;
export const IPV4_OPT_COPIED = 0x80;

// Verdicts of ipv4Check, so callers can count each malformation by name.
export const IPV4_OK = 0;
export const IPV4_TRUNCATED = 1;
export const IPV4_BAD_VERSION = 2;
export const IPV4_BAD_HLEN = 3;
export const IPV4_BAD_TOTLEN = 4;
export const IPV4_BAD_CHECKSUM = 5;

// Three checks of one header, each written out flat: calling one from another costs every packet
// a verdict hand-over and more loads of named constants (measured). test/wire/ipv4.test.ts
// holds them to agreeing.

/** Validates a header at o with avail bytes of frame left; returns an IPV4_* verdict. */
export function ipv4Check(b: Uint8Array, o: number, avail: number): number {
  if (avail < IPV4_MIN_HLEN) return IPV4_TRUNCATED;
  if (b[o] >>> 4 !== 4) return IPV4_BAD_VERSION;
  const hlen = (b[o] & 0x0f) << 2;
  if (hlen < IPV4_MIN_HLEN || hlen > avail) return IPV4_BAD_HLEN;
  const total = get16(b, o + IPV4_TOTLEN);
  if (total < hlen || total > avail) return IPV4_BAD_TOTLEN;
  if (checksum(b, o, hlen) !== 0) return IPV4_BAD_CHECKSUM;
  return IPV4_OK;
}

/**
 * ipv4Check without the header checksum: every field is where the header says, within avail.
 * For readers behind the pipeline's own ipv4Check (the NAT: summing the header twice per
 * packet buys nothing) or that must see damaged packets too (the recorder).
 */
export function ipv4HeaderCheck(b: Uint8Array, o: number, avail: number): number {
  if (avail < IPV4_MIN_HLEN) return IPV4_TRUNCATED;
  if (b[o] >>> 4 !== 4) return IPV4_BAD_VERSION;
  const hlen = (b[o] & 0x0f) << 2;
  if (hlen < IPV4_MIN_HLEN || hlen > avail) return IPV4_BAD_HLEN;
  const total = get16(b, o + IPV4_TOTLEN);
  if (total < hlen || total > avail) return IPV4_BAD_TOTLEN;
  return IPV4_OK;
}

/**
 * The same for the header of a packet quoted in an ICMP error, which is cut short of its
 * total length (RFC 792 quotes 8 bytes of data) and whose checksum was the quoting router's
 * to verify. The header itself must be whole.
 */
export function ipv4QuoteCheck(b: Uint8Array, o: number, avail: number): number {
  if (avail < IPV4_MIN_HLEN) return IPV4_TRUNCATED;
  if (b[o] >>> 4 !== 4) return IPV4_BAD_VERSION;
  const hlen = (b[o] & 0x0f) << 2;
  if (hlen < IPV4_MIN_HLEN || hlen > avail) return IPV4_BAD_HLEN;
  if (get16(b, o + IPV4_TOTLEN) < hlen) return IPV4_BAD_TOTLEN;
  return IPV4_OK;
}

export function ipv4HeaderLen(b: Uint8Array, o: number): number {
  return (b[o] & 0x0f) << 2;
}

export function ipv4TotalLen(b: Uint8Array, o: number): number {
  return get16(b, o + IPV4_TOTLEN);
}

export function ipv4DontFragment(b: Uint8Array, o: number): boolean {
  return (b[o + IPV4_FRAG] & 0x40) !== 0;
}

/** True for any fragment: MF set or a non-zero offset. */
export function ipv4IsFragment(b: Uint8Array, o: number): boolean {
  return (get16(b, o + IPV4_FRAG) & (IPV4_MF | IPV4_OFFSET_MASK)) !== 0;
}

/** True for fragments after the first (no L4 header inside). */
export function ipv4IsLaterFragment(b: Uint8Array, o: number): boolean {
  return (get16(b, o + IPV4_FRAG) & IPV4_OFFSET_MASK) !== 0;
}

/**
 * Walks the options of the header at o and copies those with the copied flag to dst[dstOff]
 * (unpadded); returns how many bytes it copied, or -1 when an option's length byte is missing,
 * below 2 or runs past the header. Stops at EOL; dst needs room for 40 bytes.
 */
export function ipv4CopiedOptions(b: Uint8Array, o: number, dst: Uint8Array, dstOff: number): number {
  const end = o + ((b[o] & 0x0f) << 2);
  let p = o + IPV4_MIN_HLEN;
  let n = 0;
  while (p < end) {
    const type = b[p];
    if (type === IPV4_OPT_EOL) break;
    if (type === IPV4_OPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) return -1;
    const len = b[p + 1];
    if (len < 2 || p + len > end) return -1;
    if (type & IPV4_OPT_COPIED) {
      copy(dst, dstOff + n, b, p, len);
      n += len;
    }
    p += len;
  }
  return n;
}

/** Decrements TTL and patches the header checksum incrementally (RFC 1624). */
export function ipv4DecrementTtl(b: Uint8Array, o: number): void {
  const oldWord = get16(b, o + IPV4_TTL);
  b[o + IPV4_TTL] = b[o + IPV4_TTL] - 1;
  put16(b, o + IPV4_CSUM, update16(get16(b, o + IPV4_CSUM), oldWord, get16(b, o + IPV4_TTL)));
}

/** Writes a 20-byte header (no options) with a fresh checksum. src/dst are 4 bytes each. */
export function writeIpv4Header(
  b: Uint8Array,
  o: number,
  totalLen: number,
  id: number,
  dontFragment: boolean,
  ttl: number,
  proto: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  b[o] = 0x45;
  b[o + 1] = 0;
  put16(b, o + IPV4_TOTLEN, totalLen);
  put16(b, o + IPV4_ID, id);
  put16(b, o + IPV4_FRAG, dontFragment ? IPV4_DF : 0);
  b[o + IPV4_TTL] = ttl;
  b[o + IPV4_PROTO] = proto;
  put16(b, o + IPV4_CSUM, 0);
  copy(b, o + IPV4_SRC, src, srcOff, 4);
  copy(b, o + IPV4_DST, dst, dstOff, 4);
  put16(b, o + IPV4_CSUM, checksum(b, o, IPV4_MIN_HLEN));
}

export function ipv4IsMulticastOrBroadcast(b: Uint8Array, addrOff: number): boolean {
  const first = b[addrOff];
  return (
    (first >= 224 && first <= 239) ||
    (first === 255 && b[addrOff + 1] === 255 && b[addrOff + 2] === 255 && b[addrOff + 3] === 255)
  );
}

// Control-plane helpers.

export function parseIpv4(text: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255 || (m[i + 1].length > 1 && m[i + 1][0] === '0')) return null;
    out[i] = v;
  }
  return out;
}

export function formatIpv4(b: Uint8Array, o = 0): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}
