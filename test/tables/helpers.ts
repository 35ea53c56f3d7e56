// Test helpers (not a test file).
import { type SharedHashMap, HASHMAP_HEADER_WORDS } from '../../src/tables/index.js';

/** Raw scan of the slots: used keys (as strings) and the count of each state. */
export function scan(m: SharedHashMap): { used: string[]; tomb: number; oddSeq: number } {
  const w = new Int32Array(m.sab, m.byteOffset);
  const used: string[] = [];
  let tomb = 0,
    oddSeq = 0;
  for (let s = 0; s < m.slots; s++) {
    const b = HASHMAP_HEADER_WORDS + s * m.stride;
    if (w[b]! & 1) oddSeq++;
    if (w[b + 1] === 1) used.push(Array.from(w.subarray(b + 2, b + 2 + m.keyWords)).join(','));
    else if (w[b + 1] === 2) tomb++;
  }
  return { used, tomb, oddSeq };
}

/** Value word derived from a hashmap test key (ties a value to its key). */
export function keyTag(k: number): number {
  return Math.imul(k + 1, 0x9e3779b1) ^ 0x5bd1e995;
}

/** Mask of the first `len` bits of 32-bit word `i` of an address. */
export function wordMask(len: number, i: number): number {
  const bits = len - 32 * i;
  return bits >= 32 ? -1 : bits <= 0 ? 0 : -1 << (32 - bits);
}

/** Value word derived from a route (family, len, masked address words): ties a route's value to its key. */
export function routeTag(family: number, len: number, a0: number, a1: number, a2: number, a3: number): number {
  let h = Math.imul((family << 8) | len, 0x85ebca6b);
  h = Math.imul(h ^ (a0 & wordMask(len, 0)), 0xc2b2ae35);
  h = Math.imul(h ^ (a1 & wordMask(len, 1)), 0x85ebca6b);
  h = Math.imul(h ^ (a2 & wordMask(len, 2)), 0xc2b2ae35);
  h = Math.imul(h ^ (a3 & wordMask(len, 3)), 0x85ebca6b);
  return h ^ (h >>> 15);
}

/** Big-endian 32-bit word i of an address byte array. */
export function addrWord(b: Uint8Array, i: number): number {
  const o = 4 * i;
  return o + 4 > b.length ? 0 : (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}
