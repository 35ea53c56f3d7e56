// Making a mutated frame consistent again, optionally: lengths and checksums fixed so that it
// gets past the first checks and reaches deeper code (inner frames of VXLAN included).
import { csum } from '../../harness.js';
import { extHeaders, g16, pseudo6Sum } from '../reading/frame.js';
import { parseVx } from '../reading/vxlan.js';
import { put16 } from './values.js';

/** Makes a VXLAN datagram's lengths and checksums right again (inner IPv4 header, UDP). */
function fixVx(f: Uint8Array, fixLen: boolean, fixL4: boolean, fixIp: boolean): void {
  const vx = parseVx(f, 0, f.length);
  if (!vx) return;
  if (fixLen) {
    put16(f, vx.udp + 4, vx.avail);
    vx.ulen = vx.avail;
    vx.innerLen = vx.ulen - 16;
  }
  if (vx.ulen < 8 || vx.ulen > vx.avail) return;
  const i = vx.inner;
  if (vx.innerLen >= 34 && g16(f, i + 12) === 0x0800) {
    const ihl = (f[i + 14] & 15) * 4;
    if (fixLen) put16(f, i + 16, vx.innerLen - 14);
    if (fixIp && ihl >= 20 && 14 + ihl <= vx.innerLen) {
      put16(f, i + 24, 0);
      put16(f, i + 24, csum(f, i + 14, ihl));
    }
  } else if (vx.innerLen >= 54 && g16(f, i + 12) === 0x86dd && fixLen) {
    put16(f, i + 18, vx.innerLen - 54);
  }
  if (fixL4 && (vx.family === 6 || g16(f, vx.udp + 6) !== 0)) {
    put16(f, vx.udp + 6, 0);
    let ps = 17 + vx.ulen;
    for (const a of [vx.src, vx.dst]) for (let k = 0; k < a.length; k += 2) ps += (a[k] << 8) | a[k + 1];
    const c0 = csum(f, vx.udp, vx.ulen, ps);
    put16(f, vx.udp + 6, c0 === 0 ? 0xffff : c0);
  }
}

/** Optionally make lengths and checksums right again so the mutated frame reaches deeper code. */
export function fixUp(f: Uint8Array, fixLen: boolean, fixL4: boolean, fixIp: boolean, altZero: boolean): void {
  if (f.length < 14) return;
  const type = g16(f, 12);
  if (type === 0x0800 && f.length >= 34) {
    const ihl = (f[14] & 15) * 4;
    if (fixLen) put16(f, 16, f.length - 14);
    fixVx(f, fixLen, fixL4, fixIp);
    const total = Math.min(g16(f, 16), f.length - 14);
    if (fixL4 && f[23] === 1 && ihl >= 20 && 14 + ihl + 4 <= 14 + total) {
      put16(f, 14 + ihl + 2, 0);
      put16(f, 14 + ihl + 2, csum(f, 14 + ihl, total - ihl));
    }
    if (fixIp && ihl >= 20 && 14 + ihl <= f.length) {
      put16(f, 24, 0);
      let c = csum(f, 14, ihl);
      if (altZero && c === 0) c = 0xffff; // the other one's-complement zero also verifies
      put16(f, 24, c);
    }
  } else if (type === 0x86dd && f.length >= 54) {
    if (fixLen) put16(f, 18, f.length - 54);
    fixVx(f, fixLen, fixL4, fixIp);
    const end = Math.min(54 + g16(f, 18), f.length);
    const e = extHeaders(f);
    if (fixL4 && e.proto === 58 && e.l4 + 4 <= end) {
      put16(f, e.l4 + 2, 0);
      const c = csum(f, e.l4, end - e.l4, pseudo6SumOf(f, end - e.l4));
      put16(f, e.l4 + 2, altZero && c === 0 ? 0xffff : c);
    }
  }
}

function pseudo6SumOf(f: Uint8Array, len: number): number {
  return pseudo6Sum(f, 14, len);
}
