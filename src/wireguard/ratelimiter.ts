// A token bucket per source address for handshake initiations (only consulted under load,
// after MAC1): RATELIMIT_PACKETS_PER_SECOND steady, RATELIMIT_BURST at once. Memory is
// bounded: at most `capacity` addresses are tracked; when full, the least recently seen is
// evicted (a Map iterates in insertion order, and every hit re-inserts its key). Buckets idle
// long enough to have refilled are dropped by sweep() — a full bucket is the same as none.
// IPv6 sources are keyed by their /64, as one host usually owns a whole /64.
import { RATELIMIT_BURST, RATELIMIT_PACKETS_PER_SECOND } from './constants.js';

/** Milliseconds of "credit" one initiation costs, and the most a bucket holds. */
const COST = 1000 / RATELIMIT_PACKETS_PER_SECOND;
const MAX_TOKENS = COST * RATELIMIT_BURST;

interface Bucket {
  tokens: number;
  last: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly capacity: number;
  private lastSweep = -Infinity;

  constructor(capacity = 4096) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** True if an initiation from ip (4 or 16 bytes) may be processed at now (ms). */
  allow(ip: Uint8Array, now: number): boolean {
    if (now - this.lastSweep >= 1000) this.sweep(now);
    const key = keyOf(ip);
    const b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.capacity) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      this.buckets.set(key, { tokens: MAX_TOKENS - COST, last: now });
      return true;
    }
    this.buckets.delete(key);
    this.buckets.set(key, b);
    b.tokens = Math.min(MAX_TOKENS, b.tokens + Math.max(0, now - b.last));
    b.last = now;
    if (b.tokens >= COST) {
      b.tokens -= COST;
      return true;
    }
    return false;
  }

  /** Forgets buckets that have refilled completely. */
  sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.last) >= MAX_TOKENS) this.buckets.delete(k);
    }
  }
}

function keyOf(ip: Uint8Array): string {
  const n = ip.length === 16 ? 8 : ip.length;
  let s = n === 8 ? '6:' : '4:';
  for (let i = 0; i < n; i++) s += ip[i].toString(16).padStart(2, '0');
  return s;
}
