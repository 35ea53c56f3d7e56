// Anti-replay for transport counters: the RFC 6479 sliding window. The bitmap is a ring of
// 32-bit blocks; the block holding the newest counter and everything within WINDOW_SIZE
// behind it are tracked. When the newest counter moves ahead, the blocks it skips are
// cleared — never more than the ring — so every update is O(1) and bounded.
//
// The window lives in shared memory (an Int32Array region) because several workers may
// decrypt for one keypair at once. Every check-and-set runs under a one-word CAS lock
// (spinlock.ts): the newest counter is 64 bits wide (two words) and must move together with
// the bitmap, which a lock-free scheme over single words cannot do without a wider CAS.
//
// Counters are passed as two unsigned 32-bit halves (hi, lo) so the hot path never builds a
// bigint. Layout of a window at word `base`:
//   [base]     lock
//   [base + 1] newest counter, high 32 bits
//   [base + 2] newest counter, low 32 bits
//   [base + 3] 0 until a first counter was accepted, then 1
//   [base + 4 ...] RING_BLOCKS bitmap blocks
import { lock, unlock } from './spinlock.js';

const RING_BLOCKS = 256; // power of two
const BLOCK_BITS = 32;
const BLOCK_MASK = RING_BLOCKS - 1;
/** Counters this far behind the newest are too old: (256 − 1) × 32 = 8160 ≥ 8128. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS;
export const REPLAY_WORDS = 4 + RING_BLOCKS;

const LOCK = 0;
const LAST_HI = 1;
const LAST_LO = 2;
const STARTED = 3;
const RING = 4;

/**
 * Largest acceptable counter is REJECT_AFTER_MESSAGES − 1 = 2^64 − 2^13 − 2: hi 0xffffffff,
 * lo ≤ 0xffffdffe.
 */
const REJECT_HI = 0xffffffff;
const REJECT_LO = 0xffffdfff;

/** True when (hi, lo) < REJECT_AFTER_MESSAGES. */
export function counterBelowReject(hi: number, lo: number): boolean {
  return hi !== REJECT_HI || lo < REJECT_LO;
}

/**
 * Accepts (true) a counter that was never accepted before and is not too old, and marks it
 * seen; false otherwise. Call only after the packet authenticated, or a forger could move
 * the window.
 */
export function replayCheck(w: Int32Array, base: number, hi: number, lo: number): boolean {
  hi >>>= 0;
  lo >>>= 0;
  if (!counterBelowReject(hi, lo)) return false;
  lock(w, base + LOCK);
  try {
    const lastHi = w[base + LAST_HI] >>> 0;
    const lastLo = w[base + LAST_LO] >>> 0;
    const started = w[base + STARTED] !== 0;
    // Blocks are counter >> 5; only their distance (capped by the ring) and their low bits matter.
    const block = ((lo >>> 5) | (hi << 27)) >>> 0;
    if (!started || hi > lastHi || (hi === lastHi && lo > lastLo)) {
      const lastBlock = ((lastLo >>> 5) | (lastHi << 27)) >>> 0;
      // Distance in blocks; exact when small, and when large only its size relative to the ring matters.
      let ahead = started ? ((hi >>> 5) - (lastHi >>> 5)) * 4294967296 + (block - lastBlock) : RING_BLOCKS;
      if (ahead > RING_BLOCKS) ahead = RING_BLOCKS;
      for (let i = 1; i <= ahead; i++) w[base + RING + ((lastBlock + i) & BLOCK_MASK)] = 0;
      w[base + LAST_HI] = hi | 0;
      w[base + LAST_LO] = lo | 0;
      w[base + STARTED] = 1;
    } else {
      const behind = (hi - lastHi) * 4294967296 + (lo - lastLo); // ≤ 0
      if (-behind >= REPLAY_WINDOW_SIZE) return false;
    }
    const slot = base + RING + (block & BLOCK_MASK);
    const bit = 1 << (lo & (BLOCK_BITS - 1));
    const old = w[slot];
    if ((old & bit) !== 0) return false;
    w[slot] = old | bit;
    return true;
  } finally {
    unlock(w, base + LOCK);
  }
}

/** A window in its own shared buffer (or a region of a caller's buffer), for one keypair's receive side. */
export class ReplayWindow {
  readonly words: Int32Array;
  readonly base: number;

  constructor(words?: Int32Array, base = 0) {
    this.words = words ?? new Int32Array(new SharedArrayBuffer(REPLAY_WORDS * 4));
    this.base = base;
  }

  check(hi: number, lo: number): boolean {
    return replayCheck(this.words, this.base, hi, lo);
  }

  /** Convenience for tests and control code: a bigint counter. */
  checkBig(counter: bigint): boolean {
    if (counter < 0n || counter >= 1n << 64n) return false;
    return replayCheck(this.words, this.base, Number(counter >> 32n), Number(counter & 0xffffffffn));
  }

  reset(): void {
    lock(this.words, this.base + LOCK);
    for (let i = 1; i < REPLAY_WORDS; i++) this.words[this.base + i] = 0;
    unlock(this.words, this.base + LOCK);
  }
}
