// Reading frames, independently of src/wire: the oracle must not share a parser with the
// code it judges.
import { csum } from '../../harness.js';

export const g16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
export const g32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

export function pseudo6Sum(b: Uint8Array, ipOff: number, len: number): number {
  let s = 58 + (len >>> 16) + (len & 0xffff);
  for (let i = 0; i < 32; i += 2) s += (b[ipOff + 8 + i] << 8) | b[ipOff + 9 + i];
  return s;
}

/** True if the ICMPv6 message at m (len bytes) of the IPv6 packet at ipOff verifies. */
export function icmp6Ok(b: Uint8Array, ipOff: number, m: number, len: number): boolean {
  return csum(b, m, len, pseudo6Sum(b, ipOff, len)) === 0;
}

export function isV4Multi(b: Uint8Array, o: number): boolean {
  return (b[o] >= 224 && b[o] <= 239) || (b[o] === 255 && b[o + 1] === 255 && b[o + 2] === 255 && b[o + 3] === 255);
}

/** Walks the IPv6 extension headers of the frame (ignoring bounds problems); offsets of each header. */
export function extHeaders(f: Uint8Array): { offs: number[]; l4: number; proto: number } {
  const offs: number[] = [];
  let next = f[20];
  let p = 54;
  for (let n = 0; n < 10 && p + 8 <= f.length; n++) {
    if (next !== 0 && next !== 43 && next !== 44 && next !== 60 && next !== 51 && next !== 135) break;
    offs.push(p);
    const len = next === 44 ? 8 : next === 51 ? (f[p + 1] + 2) * 4 : (f[p + 1] + 1) * 8;
    next = f[p];
    p += len;
  }
  return { offs, l4: p, proto: next };
}
