// TAI64N timestamps (12 bytes: 8-byte big-endian TAI64 seconds label, 4-byte big-endian
// nanoseconds). An initiation carries one; the responder accepts an initiation from a peer
// only if its timestamp is strictly greater than the greatest it has accepted, which stops
// replays of captured initiations. The wall clock is passed in (milliseconds since the Unix
// epoch): this module reads no clock.
import { TAI64N_LEN } from './constants.js';

/** TAI64 labels start at 2^62; TAI ran 10 s ahead of UTC in 1970. */
const TAI64_BASE_HI = 0x40000000;
const TAI_OFFSET_S = 10;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (≈16.8 ms): initiations must not be
 * more frequent than that anyway, and the rounding keeps the exact local clock private.
 */
const WHITEN = 0x1000000;

/** Writes the TAI64N label of wallMs into b at o. */
export function writeTai64n(b: Uint8Array, o: number, wallMs: number): void {
  const secs = Math.floor(wallMs / 1000) + TAI_OFFSET_S;
  const nanosRaw = Math.floor((wallMs - Math.floor(wallMs / 1000) * 1000) * 1e6);
  const nanos = nanosRaw - (nanosRaw % WHITEN);
  const hi = TAI64_BASE_HI + Math.floor(secs / 4294967296);
  const lo = secs >>> 0;
  put32be(b, o, hi);
  put32be(b, o + 4, lo);
  put32be(b, o + 8, nanos);
}

export function tai64n(wallMs: number): Uint8Array {
  const t = new Uint8Array(TAI64N_LEN);
  writeTai64n(t, 0, wallMs);
  return t;
}

/** True when a is strictly after b (byte order is time order for TAI64N). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TAI64N_LEN; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

function put32be(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
