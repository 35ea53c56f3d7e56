/*
 * SharedHashMap: fixed-capacity open-addressing hash map living entirely in a
 * SharedArrayBuffer, so any thread can attach to it from the SAB alone.
 *
 * Layout (one Int32Array): HEADER_WORDS header words, then `slots` slots of
 *   [seq, state (0 empty, 1 used, 2 tombstone), key[keyWords], value[valueWords]].
 *
 * Concurrency design:
 *  - Readers are lock-free. Each slot is a seqlock: read seq (odd = being written,
 *    retry), read state+key+value, re-read seq, retry if it changed. Retries are
 *    bounded per lookup (READ_RETRIES); when exhausted the lookup reports a miss
 *    and bumps `readRetriesExhausted`. A lookup never blocks and never throws.
 *    Probing uses plain loads (a present key's words never change, so it can't look
 *    torn); only the matching slot is read under the seqlock.
 *  - Every write to a slot claims it with Atomics.compareExchange(seq, v, v+1)
 *    (v even), writes, then Atomics.store(seq, v+2).
 *  - Value updates of an existing key need only that slot's seqlock: the updater
 *    validates "used + key matches" at an even seq v and then CASes from exactly v,
 *    so success proves nothing touched the slot in between.
 *  - Structural changes (insert of a new key, delete, tombstone reclamation) also
 *    hold a table-wide writer lock (CAS 0->1 on a header word, bounded spin; on
 *    failure the op returns false and bumps `lockBusy`). Keys are therefore only
 *    placed by one writer at a time, so a key can never be inserted twice, and a
 *    present key never moves (no backward-shift deletion).
 *  - Writers store every word with Atomics.store. Readers load seq with Atomics.load
 *    and data with plain loads (Atomics.load is a ~10 ns builtin call in V8; see
 *    NEED_LOAD_FENCE for why the re-check still can't pass the data loads). Under the
 *    table lock, state/key words can only change by the lock holder, so lock holders
 *    read them with plain loads too.
 *  - Probe chains stop at an EMPTY slot or after maxProbe slots. Invariant: every
 *    slot between a used key's home and its position is non-empty. Delete leaves a
 *    tombstone; a run of tombstones directly followed by EMPTY is turned back into
 *    EMPTY (keeps miss chains short), which preserves the invariant at every step.
 */
import { hashWords } from './hash.js';

const H_MAGIC = 0,
  H_KEYW = 1,
  H_VALW = 2,
  H_CAP = 3,
  H_SLOTS = 4,
  H_MAXPROBE = 5;
const H_SIZE = 6,
  H_FULL = 7,
  H_LOCKBUSY = 8,
  H_RETRIES = 9,
  H_PROBE_EXH = 10;
const H_LOCK = 16; // own 64-byte line: writers hammer it, readers never touch it
/** Header size in 32-bit words (slot 0 starts right after). */
export const HASHMAP_HEADER_WORDS = 32;
const MAGIC = 0x57484d31; // "WHM1"
const EMPTY = 0,
  USED = 1,
  TOMB = 2;
const READ_RETRIES = 1000;
const LOCK_SPINS = 1 << 20; // bounded so a dead/stalled writer can't hang others forever
const SLOT_SPINS = 1 << 16;
// The seqlock re-check must not be satisfied before the plain data loads. x86 (TSO)
// never reorders loads with loads, and V8 keeps loads in program order around the
// Atomics calls. Weakly ordered CPUs (arm64) need a load-load barrier: an atomic
// read-modify-write (release semantics) on a private word gives one.
const NEED_LOAD_FENCE = process.arch !== 'x64' && process.arch !== 'ia32';

export interface HashMapOptions {
  keyWords: number;
  valueWords: number;
  capacity: number;
  maxProbe?: number;
}
export interface HashMapStats {
  size: number;
  capacity: number;
  full: number;
  lockBusy: number;
  readRetriesExhausted: number;
  probeExhausted: number;
}

function slotCount(capacity: number): number {
  let s = 1;
  while (s < Math.ceil((capacity * 4) / 3)) s *= 2;
  return s;
}

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`SharedHashMap: ${name} must be ${lo}..${hi}`);
}

export class SharedHashMap {
  readonly keyWords: number;
  readonly valueWords: number;
  readonly capacity: number;
  readonly slots: number;
  readonly stride: number; // words per slot
  readonly maxProbe: number;
  private readonly mask: number;
  private readonly w: Int32Array;
  // Per-instance scratch (each thread attaches its own instance).
  private seen = 0;
  /** Slot of the last successful lookup (with `seen`, for unchangedSinceLookup). */
  private lastBase = -1;
  private busy = false;
  private readonly scratch: Int32Array;
  private readonly fence = new Int32Array(new SharedArrayBuffer(64)); // private word for the load fence

  private constructor(
    readonly sab: SharedArrayBuffer,
    readonly byteOffset: number,
  ) {
    const hdr = new Int32Array(sab, byteOffset, HASHMAP_HEADER_WORDS);
    if (hdr[H_MAGIC] !== MAGIC) throw new Error('SharedHashMap: bad magic (not a hashmap SAB)');
    this.keyWords = hdr[H_KEYW]!;
    this.valueWords = hdr[H_VALW]!;
    this.capacity = hdr[H_CAP]!;
    this.slots = hdr[H_SLOTS]!;
    this.maxProbe = hdr[H_MAXPROBE]!;
    this.stride = 2 + this.keyWords + this.valueWords;
    this.mask = this.slots - 1;
    this.w = new Int32Array(sab, byteOffset, HASHMAP_HEADER_WORDS + this.slots * this.stride);
    this.scratch = new Int32Array(this.valueWords);
  }

  /** Bytes needed for a map with these options (for embedding in a larger SAB). */
  static bytesFor(o: HashMapOptions): number {
    return 4 * (HASHMAP_HEADER_WORDS + slotCount(o.capacity) * (2 + o.keyWords + o.valueWords));
  }

  static create(o: HashMapOptions & { sab?: SharedArrayBuffer; byteOffset?: number }): SharedHashMap {
    const { keyWords, valueWords, capacity, maxProbe = 32, byteOffset: off = 0 } = o;
    checkInt('keyWords', keyWords, 1, 16);
    checkInt('valueWords', valueWords, 0, 32);
    checkInt('capacity', capacity, 1, 1 << 26);
    checkInt('maxProbe', maxProbe, 1, 1 << 30);
    if (off % 8 !== 0) throw new RangeError('SharedHashMap: byteOffset must be a multiple of 8');
    const sab = o.sab ?? new SharedArrayBuffer(off + SharedHashMap.bytesFor(o));
    if (sab.byteLength < off + SharedHashMap.bytesFor(o)) throw new RangeError('SharedHashMap: sab too small');
    const hdr = new Int32Array(sab, off, HASHMAP_HEADER_WORDS);
    hdr[H_KEYW] = keyWords;
    hdr[H_VALW] = valueWords;
    hdr[H_CAP] = capacity;
    hdr[H_SLOTS] = slotCount(capacity);
    hdr[H_MAXPROBE] = Math.min(maxProbe, hdr[H_SLOTS]!);
    Atomics.store(hdr, H_MAGIC, MAGIC); // publish last
    return new SharedHashMap(sab, off);
  }

  static attach(sab: SharedArrayBuffer, byteOffset = 0): SharedHashMap {
    return new SharedHashMap(sab, byteOffset);
  }

  // Bad offsets/short arrays are reported as "no" instead of throwing.
  private badKey(key: Int32Array, off: number): boolean {
    return (off | 0) !== off || off < 0 || off + this.keyWords > key.length;
  }
  private badVal(v: Int32Array, off: number): boolean {
    return (off | 0) !== off || off < 0 || off + this.valueWords > v.length;
  }

  lookup(key: Int32Array, keyOff: number, out: Int32Array, outOff: number): boolean {
    this.lastBase = -1;
    if (this.badKey(key, keyOff) || this.badVal(out, outOff)) return false;
    const base = this.probe(key, keyOff);
    if (base < 0) return false;
    if (this.readSlot(base, key, keyOff, out, outOff)) return true;
    if (this.busy) Atomics.add(this.w, H_RETRIES, 1);
    return false;
  }

  /**
   * True when the last lookup succeeded and the slot it read has not been written since (its
   * seqlock still holds the validated value): what it returned is still the entry's value. Lets
   * a reader that read more data on the strength of a value re-validate it without a second
   * lookup.
   */
  unchangedSinceLookup(): boolean {
    return this.lastBase >= 0 && Atomics.load(this.w, this.lastBase) === this.seen;
  }

  /** Slot base of key's (unvalidated) match, or -1. Plain loads: only decides where to look. */
  private probe(key: Int32Array, keyOff: number): number {
    const w = this.w,
      stride = this.stride,
      mask = this.mask;
    let idx = hashWords(key, keyOff, this.keyWords) & mask;
    for (let p = 0; p < this.maxProbe; p++) {
      const base = HASHMAP_HEADER_WORDS + idx * stride;
      const st = w[base + 1];
      if (st === EMPTY) return -1; // chain ends (invariant: a present key never lies past an EMPTY)
      if (st === USED && this.keyEq(base, key, keyOff)) return base;
      idx = (idx + 1) & mask;
    }
    return -1;
  }

  private keyEq(base: number, key: Int32Array, off: number): boolean {
    const w = this.w,
      kb = base + 2;
    for (let i = 0; i < this.keyWords; i++) if (w[kb + i] !== key[off + i]) return false;
    return true;
  }

  /**
   * Seqlock read of slot `base` (which probably holds key) into out. On success the
   * validated even seq is left in this.seen; on failure this.busy says "retries ran out"
   * (vs. "key deleted/replaced meanwhile").
   */
  private readSlot(base: number, key: Int32Array, keyOff: number, out: Int32Array, outOff: number): boolean {
    const w = this.w,
      vb = base + 2 + this.keyWords,
      vw = this.valueWords;
    for (let r = 0; r < READ_RETRIES; r++) {
      const s1 = Atomics.load(w, base); // acquire: the plain loads below can't move above it
      if (s1 & 1) continue; // writer inside: spin
      if (w[base + 1] !== USED || !this.keyEq(base, key, keyOff)) {
        this.busy = false;
        return false;
      }
      for (let i = 0; i < vw; i++) out[outOff + i] = w[vb + i]!;
      if (NEED_LOAD_FENCE) Atomics.add(this.fence, 0, 1);
      if (Atomics.load(w, base) === s1) {
        this.seen = s1;
        this.lastBase = base;
        return true;
      }
    }
    this.busy = true;
    return false;
  }

  private lockSlot(base: number): number {
    const w = this.w;
    for (let i = 0; i < SLOT_SPINS; i++) {
      const v = Atomics.load(w, base);
      if ((v & 1) === 0 && Atomics.compareExchange(w, base, v, (v + 1) | 0) === v) return v;
    }
    return -1; // seqs are even when free, so -1 (odd) never collides with a real v
  }

  private writeValue(base: number, value: Int32Array, valueOff: number): void {
    const w = this.w,
      vb = base + 2 + this.keyWords;
    for (let i = 0; i < this.valueWords; i++) Atomics.store(w, vb + i, value[valueOff + i]!);
  }

  /** Claim slot, write (key and state too when newKey), release. False (lockBusy++) if the slot stays claimed. */
  private writeSlot(
    base: number,
    newKey: boolean,
    key: Int32Array,
    keyOff: number,
    value: Int32Array,
    valueOff: number,
  ): boolean {
    const w = this.w,
      v = this.lockSlot(base);
    if (v === -1) {
      Atomics.add(w, H_LOCKBUSY, 1);
      return false;
    }
    if (newKey) for (let i = 0; i < this.keyWords; i++) Atomics.store(w, base + 2 + i, key[keyOff + i]!);
    this.writeValue(base, value, valueOff);
    if (newKey) Atomics.store(w, base + 1, USED);
    Atomics.store(w, base, (v + 2) | 0);
    return true;
  }

  /** 1 updated, 0 absent, -1 busy. Needs only the slot's seqlock. */
  private tryUpdate(key: Int32Array, keyOff: number, value: Int32Array, valueOff: number): number {
    const w = this.w;
    for (let a = 0; a < SLOT_SPINS; a++) {
      const base = this.probe(key, keyOff);
      if (base < 0) return 0;
      if (!this.readSlot(base, key, keyOff, this.scratch, 0)) {
        if (this.busy) return -1;
        continue;
      }
      const v = this.seen; // CAS from the seq we validated "used + key" at
      if (Atomics.compareExchange(w, base, v, (v + 1) | 0) !== v) continue; // slot changed: re-validate
      this.writeValue(base, value, valueOff);
      Atomics.store(w, base, (v + 2) | 0);
      return 1;
    }
    return -1;
  }

  update(key: Int32Array, keyOff: number, value: Int32Array, valueOff: number): boolean {
    if (this.badKey(key, keyOff) || this.badVal(value, valueOff)) return false;
    const r = this.tryUpdate(key, keyOff, value, valueOff);
    if (r < 0) Atomics.add(this.w, H_LOCKBUSY, 1);
    return r === 1;
  }

  private lockTable(): boolean {
    const w = this.w;
    for (let i = 0; i < LOCK_SPINS; i++) {
      if (Atomics.load(w, H_LOCK) === 0 && Atomics.compareExchange(w, H_LOCK, 0, 1) === 0) return true;
    }
    Atomics.add(w, H_LOCKBUSY, 1);
    return false;
  }
  private unlockTable(): void {
    Atomics.store(this.w, H_LOCK, 0);
  }

  /** Insert or overwrite. False when full, probe-exhausted, lock busy, or bad input. */
  insert(key: Int32Array, keyOff: number, value: Int32Array, valueOff: number): boolean {
    if (this.badKey(key, keyOff) || this.badVal(value, valueOff)) return false;
    if (this.tryUpdate(key, keyOff, value, valueOff) === 1) return true; // fast path, no table lock
    if (!this.lockTable()) return false;
    const ok = this.insertLocked(key, keyOff, value, valueOff);
    this.unlockTable();
    return ok;
  }

  private insertLocked(key: Int32Array, keyOff: number, value: Int32Array, valueOff: number): boolean {
    const w = this.w,
      stride = this.stride,
      mask = this.mask;
    let idx = hashWords(key, keyOff, this.keyWords) & mask;
    let free = -1;
    for (let p = 0; p < this.maxProbe; p++) {
      const base = HASHMAP_HEADER_WORDS + idx * stride;
      const st = w[base + 1]; // stable: only the lock holder changes state/key
      if (st === USED) {
        // Appeared since our fast path (or its slot was busy): overwrite.
        if (this.keyEq(base, key, keyOff)) return this.writeSlot(base, false, key, keyOff, value, valueOff);
      } else {
        if (free < 0) free = base; // reuse first tombstone, but keep scanning for the key
        if (st === EMPTY) break;
      }
      idx = (idx + 1) & mask;
    }
    if (Atomics.load(w, H_SIZE) >= this.capacity) {
      Atomics.add(w, H_FULL, 1);
      return false;
    }
    if (free < 0) {
      Atomics.add(w, H_PROBE_EXH, 1);
      return false;
    }
    if (!this.writeSlot(free, true, key, keyOff, value, valueOff)) return false;
    Atomics.add(w, H_SIZE, 1);
    return true;
  }

  delete(key: Int32Array, keyOff: number): boolean {
    if (this.badKey(key, keyOff)) return false;
    if (!this.lockTable()) return false;
    const ok = this.deleteLocked(key, keyOff);
    this.unlockTable();
    return ok;
  }

  private deleteLocked(key: Int32Array, keyOff: number): boolean {
    const w = this.w,
      stride = this.stride,
      mask = this.mask;
    const base = this.probe(key, keyOff); // exact under the lock: keys can't change
    if (base < 0) return false;
    const v = this.lockSlot(base); // an updater may hold it briefly
    if (v === -1) {
      Atomics.add(w, H_LOCKBUSY, 1);
      return false;
    }
    Atomics.store(w, base + 1, TOMB); // key words stay; state alone decides
    Atomics.store(w, base, (v + 2) | 0);
    Atomics.sub(w, H_SIZE, 1);
    // Reclaim: tombstones immediately before an EMPTY can't be inside any live chain.
    let idx = (base - HASHMAP_HEADER_WORDS) / stride;
    if (w[HASHMAP_HEADER_WORDS + ((idx + 1) & mask) * stride + 1] !== EMPTY) return true;
    for (let n = 0; n < this.slots; n++) {
      const b = HASHMAP_HEADER_WORDS + idx * stride;
      if (w[b + 1] !== TOMB) break;
      const sv = this.lockSlot(b);
      if (sv === -1) break; // harmless: it just stays a tombstone
      Atomics.store(w, b + 1, EMPTY);
      Atomics.store(w, b, (sv + 2) | 0);
      idx = (idx - 1) & mask;
    }
    return true;
  }

  size(): number {
    return Atomics.load(this.w, H_SIZE);
  }

  stats(): HashMapStats {
    const w = this.w;
    return {
      size: Atomics.load(w, H_SIZE),
      capacity: this.capacity,
      full: Atomics.load(w, H_FULL),
      lockBusy: Atomics.load(w, H_LOCKBUSY),
      readRetriesExhausted: Atomics.load(w, H_RETRIES),
      probeExhausted: Atomics.load(w, H_PROBE_EXH),
    };
  }

  /** Control plane: visits a consistent snapshot of each used entry (fresh arrays per entry). */
  forEach(fn: (key: Int32Array, value: Int32Array) => void): void {
    const w = this.w,
      kw = this.keyWords,
      vw = this.valueWords;
    for (let s = 0; s < this.slots; s++) {
      const base = HASHMAP_HEADER_WORDS + s * this.stride;
      for (let r = 0; r < SLOT_SPINS; r++) {
        const s1 = Atomics.load(w, base);
        if (s1 & 1) continue;
        if (Atomics.load(w, base + 1) !== USED) {
          if (Atomics.load(w, base) === s1) break;
          continue;
        }
        const k = new Int32Array(kw),
          v = new Int32Array(vw);
        for (let i = 0; i < kw; i++) k[i] = Atomics.load(w, base + 2 + i);
        for (let i = 0; i < vw; i++) v[i] = Atomics.load(w, base + 2 + kw + i);
        if (Atomics.load(w, base) !== s1) continue;
        fn(k, v);
        break;
      }
    }
  }
}
