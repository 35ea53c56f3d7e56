/*
 * PrefixTable: IPv4/IPv6 longest-prefix match on top of ONE SharedHashMap.
 *
 * Hash key (5 words): [family << 8 | prefixLen, addr word0..3 masked to prefixLen]
 * (big-endian address words; IPv4 uses word0 only). Value: valueWords (1..8).
 *
 * SAB layout: [prefix header | SharedHashMap]. The header holds, per family, the
 * prefix lengths currently present, sorted longest first, plus a refcount per
 * length. A lookup probes only those lengths, so its cost grows with the number
 * of DISTINCT lengths, not with the number of routes.
 *
 * Concurrency: single writer (control thread), many readers (workers).
 *  - The length lists are double-buffered: the writer builds the new lists in the
 *    inactive buffer, then publishes by bumping a generation word (active buffer =
 *    gen & 1). A writer preempted mid-edit therefore never stalls readers. Readers
 *    keep a per-instance copy tagged with the generation: when gen is unchanged (the
 *    common case) a lookup costs one atomic load for the lists; otherwise it copies
 *    the active buffer and re-checks gen (a change means the writer may have reused
 *    that buffer: retry). If retries run out the reader keeps its previous (stale
 *    but consistent) copy and bumps `staleLengthLists`.
 *  - A length is added to the list BEFORE its first entry is inserted and removed
 *    AFTER its last entry is deleted, so no reader ever skips a length that has
 *    entries that were present for its whole lookup.
 *  - Entries themselves are protected by the hashmap's per-slot seqlocks.
 */
import { SharedHashMap } from './hashmap.js';
import type { HashMapStats } from './hashmap.js';

const P_MAGIC = 0,
  P_VALW = 1,
  P_CAP = 2,
  P_GEN = 3,
  P_STALE = 4;
const MAGIC = 0x57505431; // "WPT1"
const REFS4 = 8,
  REFS6 = REFS4 + 33; // refcount per length (writer-only)
// Length-list buffer: [n4, lens4[33], n6, lens6[129]], longest first; two of them.
const B_N4 = 0,
  B_N6 = 34,
  BUF_WORDS = 164;
const BUF0 = 176;
const HEADER_WORDS = BUF0 + 2 * BUF_WORDS + 4; // 512: keeps the map 8-byte aligned
const HEADER_BYTES = HEADER_WORDS * 4;
const KEY_WORDS = 5;
const READ_RETRIES = 1000;

export interface PrefixEntry {
  family: 4 | 6;
  addr: Uint8Array;
  prefixLen: number;
  value: Int32Array;
}

export class PrefixTable {
  readonly valueWords: number;
  readonly capacity: number;
  private readonly h: Int32Array;
  private readonly map: SharedHashMap;
  // Per-thread scratch (each worker attaches its own instance).
  private readonly key = new Int32Array(KEY_WORDS);
  private readonly addrW = new Int32Array(4);
  private readonly lens4 = new Int32Array(33);
  private readonly lens6 = new Int32Array(129);
  private n4 = 0;
  private n6 = 0;
  private cachedGen = NaN; // NaN: no copy yet (never equals a published generation)

  private constructor(readonly sab: SharedArrayBuffer) {
    this.h = new Int32Array(sab, 0, HEADER_WORDS);
    if (this.h[P_MAGIC] !== MAGIC) throw new Error('PrefixTable: bad magic (not a prefix-table SAB)');
    this.valueWords = this.h[P_VALW]!;
    this.capacity = this.h[P_CAP]!;
    this.map = SharedHashMap.attach(sab, HEADER_BYTES);
  }

  static create(opts: { capacity: number; valueWords: number }): PrefixTable {
    const { capacity, valueWords } = opts;
    if (!Number.isInteger(valueWords) || valueWords < 1 || valueWords > 8)
      throw new RangeError('valueWords must be 1..8');
    const mo = { keyWords: KEY_WORDS, valueWords, capacity };
    const sab = new SharedArrayBuffer(HEADER_BYTES + SharedHashMap.bytesFor(mo));
    SharedHashMap.create({ ...mo, sab, byteOffset: HEADER_BYTES }); // validates capacity
    const h = new Int32Array(sab, 0, HEADER_WORDS);
    h[P_VALW] = valueWords;
    h[P_CAP] = capacity;
    Atomics.store(h, P_MAGIC, MAGIC);
    return new PrefixTable(sab);
  }

  static attach(sab: SharedArrayBuffer): PrefixTable {
    return new PrefixTable(sab);
  }

  /** Load the address (big-endian words) from bytes[off..] into addrW. Caller validated bounds. */
  private readAddr(family: number, bytes: Uint8Array, off: number): void {
    const a = this.addrW,
      nw = family === 4 ? 1 : 4;
    for (let i = 0; i < 4; i++) {
      const o = off + 4 * i;
      a[i] = i < nw ? (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]! : 0;
    }
  }

  /** key = [family<<8 | len, addrW masked to len]. */
  private maskKey(family: number, len: number): void {
    const a = this.addrW,
      k = this.key;
    k[0] = (family << 8) | len;
    for (let i = 0; i < 4; i++) {
      const bits = len - 32 * i;
      k[1 + i] = bits >= 32 ? a[i]! : bits <= 0 ? 0 : a[i]! & (-1 << (32 - bits));
    }
  }

  /** Refresh the per-thread copy of the length lists if the generation moved. */
  private refresh(): boolean {
    const h = this.h;
    for (let r = 0; r < READ_RETRIES; r++) {
      const g = Atomics.load(h, P_GEN);
      if (g === this.cachedGen) return true;
      const b = BUF0 + (g & 1) * BUF_WORDS;
      const n4 = Atomics.load(h, b + B_N4),
        n6 = Atomics.load(h, b + B_N6);
      if (n4 > 33 || n6 > 129) continue; // buffer being rebuilt: retry
      for (let i = 0; i < n4; i++) this.lens4[i] = Atomics.load(h, b + B_N4 + 1 + i);
      for (let i = 0; i < n6; i++) this.lens6[i] = Atomics.load(h, b + B_N6 + 1 + i);
      if (Atomics.load(h, P_GEN) !== g) continue;
      this.n4 = n4;
      this.n6 = n6;
      this.cachedGen = g;
      return true;
    }
    Atomics.add(h, P_STALE, 1);
    return !Number.isNaN(this.cachedGen); // a stale copy if we have one
  }

  /**
   * Longest-prefix match of the address at bytes[addrOff..] (4 or 16 bytes).
   * Returns the matched prefix length (value copied into out[0..valueWords)) or -1.
   */
  lookup(family: 4 | 6, bytes: Uint8Array, addrOff: number, out: Int32Array): number {
    const nb = family === 4 ? 4 : family === 6 ? 16 : 0;
    if (nb === 0 || (addrOff | 0) !== addrOff || addrOff < 0 || addrOff + nb > bytes.length) return -1;
    if (out.length < this.valueWords || !this.refresh()) return -1;
    const lens = family === 4 ? this.lens4 : this.lens6;
    const n = family === 4 ? this.n4 : this.n6;
    const k = this.key,
      map = this.map;
    this.readAddr(family, bytes, addrOff);
    for (let i = 0; i < n; i++) {
      this.maskKey(family, lens[i]!);
      if (map.lookup(k, 0, out, 0)) return lens[i]!;
    }
    return -1;
  }

  private maxLen(family: number): number {
    return family === 4 ? 32 : family === 6 ? 128 : -1;
  }
  private refIdx(family: number, len: number): number {
    return (family === 4 ? REFS4 : REFS6) + len;
  }

  /** Single writer: rebuild both lists in the inactive buffer with `len` added/removed, then flip. */
  private editLengths(family: number, len: number, add: boolean): void {
    const h = this.h,
      g = Atomics.load(h, P_GEN);
    const src = BUF0 + (g & 1) * BUF_WORDS,
      dst = BUF0 + ((g + 1) & 1) * BUF_WORDS;
    for (const nOff of [B_N4, B_N6]) {
      const edit = (nOff === B_N4) === (family === 4);
      const n = Atomics.load(h, src + nOff);
      let o = 0;
      for (let i = 0; i < n; i++) {
        const l = Atomics.load(h, src + nOff + 1 + i);
        if (edit && add && len > l && (i === 0 || len < Atomics.load(h, src + nOff + i)))
          Atomics.store(h, dst + nOff + 1 + o++, len);
        if (!(edit && !add && l === len)) Atomics.store(h, dst + nOff + 1 + o++, l);
      }
      if (edit && add && (n === 0 || len < Atomics.load(h, src + nOff + n)))
        Atomics.store(h, dst + nOff + 1 + o++, len);
      Atomics.store(h, dst + nOff, o);
    }
    Atomics.store(h, P_GEN, (g + 1) | 0); // publish
  }

  private validArgs(family: number, addr: Uint8Array, prefixLen: number): boolean {
    const ml = this.maxLen(family);
    return (
      ml > 0 &&
      addr.length >= (family === 4 ? 4 : 16) &&
      Number.isInteger(prefixLen) &&
      prefixLen >= 0 &&
      prefixLen <= ml
    );
  }

  /** Insert or overwrite a route. Host bits beyond prefixLen are masked off silently. */
  insert(family: 4 | 6, addr: Uint8Array, prefixLen: number, value: Int32Array): boolean {
    if (!this.validArgs(family, addr, prefixLen) || value.length < this.valueWords) return false;
    this.readAddr(family, addr, 0);
    this.maskKey(family, prefixLen);
    const k = this.key;
    if (this.map.update(k, 0, value, 0)) return true; // existing route: no refcount change
    const ri = this.refIdx(family, prefixLen);
    const fresh = this.h[ri] === 0;
    if (fresh) this.editLengths(family, prefixLen, true); // list first, then the entry
    if (!this.map.insert(k, 0, value, 0)) {
      if (fresh) this.editLengths(family, prefixLen, false);
      return false;
    }
    Atomics.add(this.h, ri, 1);
    return true;
  }

  delete(family: 4 | 6, addr: Uint8Array, prefixLen: number): boolean {
    if (!this.validArgs(family, addr, prefixLen)) return false;
    this.readAddr(family, addr, 0);
    this.maskKey(family, prefixLen);
    if (!this.map.delete(this.key, 0)) return false;
    const ri = this.refIdx(family, prefixLen);
    // The entry is gone first, then the length.
    if (Atomics.sub(this.h, ri, 1) === 1) this.editLengths(family, prefixLen, false);
    return true;
  }

  /** Control plane: prefix lengths currently present, longest first. */
  lengths(family: 4 | 6): number[] {
    const h = this.h,
      b = BUF0 + (Atomics.load(h, P_GEN) & 1) * BUF_WORDS + (family === 4 ? B_N4 : B_N6);
    const n = Atomics.load(h, b),
      r: number[] = [];
    for (let i = 0; i < n; i++) r.push(Atomics.load(h, b + 1 + i));
    return r;
  }

  size(): number {
    return this.map.size();
  }
  stats(): HashMapStats & { staleLengthLists: number } {
    return { ...this.map.stats(), staleLengthLists: Atomics.load(this.h, P_STALE) };
  }

  entries(): PrefixEntry[] {
    const r: PrefixEntry[] = [];
    this.map.forEach((k, v) => {
      const family = (k[0]! >>> 8) as 4 | 6;
      const addr = new Uint8Array(family === 4 ? 4 : 16);
      for (let i = 0; i < addr.length; i++) addr[i] = (k[1 + (i >> 2)]! >>> (24 - 8 * (i & 3))) & 0xff;
      r.push({ family, addr, prefixLen: k[0]! & 0xff, value: v });
    });
    return r;
  }
}
