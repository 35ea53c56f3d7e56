// Big-endian field access over frame bytes; every wire view builds on these.

export function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

export function copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  // A byte loop beats subarray()+set() for header-sized copies and allocates nothing.
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}

export function equal(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** Exchanges n bytes at x and y of b (addresses and MACs of a frame turned around). */
export function swap(b: Uint8Array, x: number, y: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = b[x + i];
    b[x + i] = b[y + i];
    b[y + i] = t;
  }
}

/** Unpacks big-endian 32-bit words (a table value) into address bytes. */
export function wordsToBytes(w: Int32Array, at: number, dst: Uint8Array, words: number): void {
  for (let i = 0; i < words; i++) {
    const x = w[at + i];
    dst[4 * i] = x >>> 24;
    dst[4 * i + 1] = (x >>> 16) & 0xff;
    dst[4 * i + 2] = (x >>> 8) & 0xff;
    dst[4 * i + 3] = x & 0xff;
  }
}

/** True when the big-endian words w[at..at+words) hold the bytes b[o..o+4*words). */
export function wordsEqualBytes(w: Int32Array, at: number, b: Uint8Array, o: number, words: number): boolean {
  for (let i = 0; i < words; i++) if (w[at + i] !== (get32(b, o + 4 * i) | 0)) return false;
  return true;
}
