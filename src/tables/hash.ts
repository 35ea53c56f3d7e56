// 32-bit hash of Int32 key words (murmur3 body + fmix): fast, allocation-free, and
// good enough avalanche that `hash & mask` spreads sequential keys across slots.

export function hashWords(key: Int32Array, off: number, n: number): number {
  let h = 0x9747b28c | 0;
  for (let i = 0; i < n; i++) {
    let k = Math.imul(key[off + i]! | 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= n;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
