// 32-bit hash of Int32 key words (murmur3 body + fmix): fast, allocation-free, and
// good enough avalanche that `hash & mask` spreads sequential keys across slots.

import { mixWord, fmix32 } from '../wire/hash32.js';

export function hashWords(key: Int32Array, off: number, n: number): number {
  let h = 0x9747b28c | 0;
  for (let i = 0; i < n; i++) h = mixWord(h, key[off + i]! | 0);
  return fmix32(h ^ n) | 0;
}
