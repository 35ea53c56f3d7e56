// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
// All functions work on (bytes, offset) so the fast path allocates nothing.

/** One's-complement sum of 16-bit big-endian words, not yet folded. */
export function sum16(b: Uint8Array, off: number, len: number, initial: number): number {
  let s = initial;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  return s;
}

/** Folds a 32-bit sum to 16 bits and complements it. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function checksum(b: Uint8Array, off: number, len: number): number {
  return finish(sum16(b, off, len, 0));
}

/** Sum of the IPv4 pseudo header for TCP/UDP (src/dst read from the IPv4 header at ipOff). */
export function pseudoSum4(b: Uint8Array, ipOff: number, proto: number, l4len: number): number {
  return sum16(b, ipOff + 12, 8, proto + l4len);
}

/** Sum of the IPv6 pseudo header for TCP/UDP/ICMPv6 (src/dst read from the IPv6 header at ipOff). */
export function pseudoSum6(b: Uint8Array, ipOff: number, proto: number, l4len: number): number {
  return sum16(b, ipOff + 8, 32, proto + (l4len >>> 16) + (l4len & 0xffff));
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one changed 16-bit word. */
export function update16(csum: number, oldWord: number, newWord: number): number {
  let s = (~csum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Incremental update for a 32-bit field (an IPv4 address) as two 16-bit words. */
export function update32(csum: number, oldHi: number, oldLo: number, newHi: number, newLo: number): number {
  return update16(update16(csum, oldHi, newHi), oldLo, newLo);
}
