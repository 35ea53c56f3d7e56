// Incremental checksum building blocks for NAT rewrites (RFC 1624 eqn. 3 over several words):
// a rewrite collects delta = Σ (~old + new) over the 16-bit words it changes, then every
// checksum covering those words gets HC' = ~(~HC + delta). Deltas add, so one rewrite that
// touches an address, a port and an inner checksum patches an outer checksum once.
// Every field a NAT touches sits at an even offset from the start of each checksummed area
// (headers are multiples of 4 or 8 bytes), so word alignment always holds.
import { get16, put16 } from '../wire/bytes.js';

/** HC' for a checksum HC after words changed by `delta` (a sum of ~old + new terms). */
export function applyDelta(csum: number, delta: number): number {
  let s = (~csum & 0xffff) + delta;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Writes a 16-bit field and returns its delta. */
export function writeWord(b: Uint8Array, off: number, v: number): number {
  const old = get16(b, off);
  put16(b, off, v);
  return (~old & 0xffff) + (v & 0xffff);
}

/**
 * Writes an address (nb = 4 or 16 bytes) from big-endian 32-bit words w[at..] and returns the
 * delta of its 16-bit words.
 */
export function writeAddr(b: Uint8Array, off: number, nb: number, w: Int32Array, at: number): number {
  let d = 0;
  for (let i = 0; i < nb; i += 4) {
    const x = w[at + (i >>> 2)]!;
    d += writeWord(b, off + i, x >>> 16) + writeWord(b, off + i + 2, x & 0xffff);
  }
  return d;
}

/** Patches the checksum at off by delta; returns the delta of the checksum field itself. */
export function patchChecksum(b: Uint8Array, off: number, delta: number): number {
  return writeWord(b, off, applyDelta(get16(b, off), delta));
}

/**
 * A checksum left to the device (virtio NEEDS_CSUM) holds the pseudo-header sum itself, not
 * complemented: changed words are added as they are (field' = field + delta), and only the
 * pseudo-header's words (the addresses) count — the device sums ports and payload later.
 */
export function patchPartialChecksum(b: Uint8Array, off: number, addrDelta: number): void {
  let s = get16(b, off) + addrDelta;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  put16(b, off, s);
}

/**
 * The same for a UDP checksum: over IPv4 a zero checksum means "none" and stays zero (RFC 768);
 * a computed zero is sent as 0xffff.
 */
export function patchUdpChecksum(b: Uint8Array, off: number, delta: number, v4: boolean): number {
  const old = get16(b, off);
  if (old === 0 && v4) return 0;
  const c = applyDelta(old, delta);
  return writeWord(b, off, c === 0 ? 0xffff : c);
}
