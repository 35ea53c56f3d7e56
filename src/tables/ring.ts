/*
 * SpscRing: single-producer single-consumer ring of variable-length records in a
 * SharedArrayBuffer. Never blocks: push fails (and counts `dropped`) when full.
 *
 * Layout: header (192 bytes: head and tail on separate 64-byte lines to avoid
 * false sharing), then `capacity` data bytes (multiple of 8).
 * Record: [i32 length, i32 tag, payload padded to 8 bytes]. Everything is 8-aligned,
 * so the gap before the end of the buffer is either 0 or >= 8 bytes; when a record
 * doesn't fit in that gap the producer writes a padding marker (length -1) there
 * and puts the record at offset 0.
 *
 * head/tail are byte positions modulo 2*capacity (so full and empty differ
 * without wasting a slot, for any capacity). Only the producer stores head, only
 * the consumer stores tail. Payload is written with plain stores BEFORE
 * Atomics.store(head) and read AFTER Atomics.load(head), which the JS memory model
 * orders (synchronizes-with), so no per-byte atomics are needed.
 */

const R_MAGIC = 0,
  R_CAP = 1,
  R_DROPPED = 2,
  R_HEAD = 16,
  R_TAIL = 32;
const HEADER_BYTES = 192;
const MAGIC = 0x57524e31; // "WRN1"
const PAD = -1;
const NO_META = new Int32Array(0);

export class SpscRing {
  readonly capacity: number;
  /** Tag (u32) of the record returned by the last successful pop(). */
  lastTag = 0;
  private readonly h: Int32Array;
  private readonly d8: Uint8Array;
  private readonly d32: Int32Array;
  // Word views over the caller's last src (push) / dst (pop) buffer: packet pools are
  // long-lived, so big 4-aligned copies go 4 bytes at a time without allocating per call.
  private srcBuf: ArrayBufferLike | null = null;
  private srcView: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private dstBuf: ArrayBufferLike | null = null;
  private dstView: Int32Array<ArrayBufferLike> = new Int32Array(0);

  private constructor(readonly sab: SharedArrayBuffer) {
    this.h = new Int32Array(sab, 0, HEADER_BYTES / 4);
    if (this.h[R_MAGIC] !== MAGIC) throw new Error('SpscRing: bad magic (not a ring SAB)');
    this.capacity = this.h[R_CAP]!;
    this.d8 = new Uint8Array(sab, HEADER_BYTES, this.capacity);
    this.d32 = new Int32Array(sab, HEADER_BYTES, this.capacity / 4);
  }

  /** `bytes` of data space, rounded up to a multiple of 8 (min 16). */
  static create(bytes: number): SpscRing {
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1 << 30) throw new RangeError('ring bytes must be 1..2^30');
    const cap = Math.max(16, (bytes + 7) & ~7);
    const sab = new SharedArrayBuffer(HEADER_BYTES + cap);
    const h = new Int32Array(sab, 0, HEADER_BYTES / 4);
    h[R_CAP] = cap;
    Atomics.store(h, R_MAGIC, MAGIC);
    return new SpscRing(sab);
  }

  static attach(sab: SharedArrayBuffer): SpscRing {
    return new SpscRing(sab);
  }

  private drop(): false {
    Atomics.add(this.h, R_DROPPED, 1);
    return false;
  }

  /** Producer only. Copies src[off, off+len) as one record. False (and dropped++) if it doesn't fit. */
  push(src: Uint8Array, off: number, len: number, tag: number): boolean {
    return this.pushWithMeta(NO_META, 0, src, off, len, tag);
  }

  /**
   * Producer only. One record made of metaWords 32-bit words from meta, then src[off, off+len)
   * (the recorder's capture header and packet bytes, without assembling them first).
   */
  pushWithMeta(meta: Int32Array, metaWords: number, src: Uint8Array, off: number, len: number, tag: number): boolean {
    if ((off | 0) !== off || (len | 0) !== len || off < 0 || len < 0 || off + len > src.length) return this.drop();
    if ((metaWords | 0) !== metaWords || metaWords < 0 || metaWords > meta.length) return this.drop();
    const cap = this.capacity,
      h = this.h,
      d32 = this.d32,
      d8 = this.d8;
    const body = 4 * metaWords + len;
    const rec = 8 + ((body + 7) & ~7);
    const head = Atomics.load(h, R_HEAD);
    let used = head - Atomics.load(h, R_TAIL);
    if (used < 0) used += 2 * cap;
    const pos = head >= cap ? head - cap : head;
    const toEnd = cap - pos;
    const wrap = rec > toEnd;
    const advance = wrap ? toEnd + rec : rec;
    if (advance > cap - used) return this.drop();
    if (wrap) d32[pos >> 2] = PAD;
    const w = wrap ? 0 : pos;
    d32[w >> 2] = body;
    d32[(w >> 2) + 1] = tag;
    for (let k = 0; k < metaWords; k++) d32[(w >> 2) + 2 + k] = meta[k]!;
    const dst = w + 8 + 4 * metaWords,
      so = src.byteOffset + off;
    let i = 0;
    if (len >= 32 && (so & 3) === 0) {
      const sv = this.srcWords(src),
        s4 = so >> 2,
        d4 = dst >> 2,
        n4 = len >> 2;
      for (; i < n4; i++) d32[d4 + i] = sv[s4 + i]!;
      i <<= 2;
    }
    for (; i < len; i++) d8[dst + i] = src[off + i]!;
    let nh = head + advance;
    if (nh >= 2 * cap) nh -= 2 * cap;
    Atomics.store(h, R_HEAD, nh); // publish record
    return true;
  }

  /** Consumer only: byte position of the next record's header, skipping padding; -1 if empty. */
  private front(): number {
    const h = this.h,
      cap = this.capacity;
    const tail = Atomics.load(h, R_TAIL);
    if (tail === Atomics.load(h, R_HEAD)) return -1;
    const pos = tail >= cap ? tail - cap : tail;
    // A padding marker is always followed by a record at offset 0 (published together).
    return this.d32[pos >> 2] === PAD ? 0 : pos;
  }

  /** Consumer only: length of the next record, or -1 when empty. */
  peek(): number {
    const p = this.front();
    return p < 0 ? -1 : this.d32[p >> 2]!;
  }

  /**
   * Consumer only. Copies the next record into dst at dstOff and returns its length
   * (tag in lastTag); -1 when empty; -2 (record kept) if dst is too small.
   */
  pop(dst: Uint8Array, dstOff: number): number {
    const p = this.front();
    if (p < 0) return -1;
    const d32 = this.d32,
      d8 = this.d8,
      cap = this.capacity;
    const len = d32[p >> 2]!;
    if ((dstOff | 0) !== dstOff || dstOff < 0 || dstOff + len > dst.length) return -2;
    this.lastTag = d32[(p >> 2) + 1]! >>> 0;
    const s = p + 8,
      dO = dst.byteOffset + dstOff;
    let i = 0;
    if (len >= 32 && (dO & 3) === 0) {
      const dv = this.dstWords(dst),
        s4 = s >> 2,
        d4 = dO >> 2,
        n4 = len >> 2;
      for (; i < n4; i++) dv[d4 + i] = d32[s4 + i]!;
      i <<= 2;
    }
    for (; i < len; i++) dst[dstOff + i] = d8[s + i]!;
    const tail = Atomics.load(this.h, R_TAIL);
    const pos = tail >= cap ? tail - cap : tail;
    let nt = tail + (p === pos ? 0 : cap - pos) + 8 + ((len + 7) & ~7);
    if (nt >= 2 * cap) nt -= 2 * cap;
    Atomics.store(this.h, R_TAIL, nt); // release the space to the producer
    return len;
  }

  private srcWords(a: Uint8Array): Int32Array<ArrayBufferLike> {
    const b = a.buffer;
    if (b !== this.srcBuf) {
      this.srcBuf = b;
      this.srcView = new Int32Array(b, 0, b.byteLength >> 2);
    }
    return this.srcView;
  }
  private dstWords(a: Uint8Array): Int32Array<ArrayBufferLike> {
    const b = a.buffer;
    if (b !== this.dstBuf) {
      this.dstBuf = b;
      this.dstView = new Int32Array(b, 0, b.byteLength >> 2);
    }
    return this.dstView;
  }

  stats(): { used: number; capacity: number; dropped: number } {
    const h = this.h;
    let used = Atomics.load(h, R_HEAD) - Atomics.load(h, R_TAIL);
    if (used < 0) used += 2 * this.capacity;
    return { used, capacity: this.capacity, dropped: Atomics.load(h, R_DROPPED) };
  }
}
