// Mutations of a UDP datagram's VXLAN header and inner frame (frames parseVx reads).
import { VX_PORT, VX_VNI } from '../../harness.js';
import { g16 } from '../reading/frame.js';
import { parseVx } from '../reading/vxlan.js';
import { ADDR4, ADDR6, INNER_MACS, type Val, pickVal, put16, putAddr } from './values.js';

export type VxField =
  | 'udpDport'
  | 'udpLen'
  | 'vxFlags'
  | 'vxVni'
  | 'innerDst'
  | 'innerSrc'
  | 'innerType'
  | 'innerTtl'
  | 'innerDstIp';

export function applyVxField(f: Uint8Array, fld: VxField, v: Val): void {
  const vx = parseVx(f, 0, f.length);
  if (!vx) return;
  const x = vx.udp + 8;
  const i = vx.inner;
  const macIdx = (v.m === 'pick' ? v.i : v.m === 'raw' ? v.v : Math.abs(v.d)) % INNER_MACS.length;
  switch (fld) {
    case 'udpDport':
      put16(f, vx.udp + 2, pickVal(v, vx.dport, [VX_PORT, 4789, 0, VX_PORT + 1, 53], 16, 0));
      break;
    case 'udpLen': {
      const lens = [0, 7, 8, 15, 16, 29, 30, vx.avail - 1, vx.avail, vx.avail + 1, 0xffff];
      put16(f, vx.udp + 4, pickVal(v, vx.ulen, lens, 16, vx.avail));
      break;
    }
    case 'vxFlags':
      if (x < f.length) f[x] = pickVal(v, f[x], [0x08, 0x00, 0x88, 0xff, 0xf7, 0x0c], 8, 0);
      break;
    case 'vxVni':
      if (x + 7 <= f.length) {
        const vnis = [VX_VNI, 0, 3, 0xffffff, 0x020000, 0x000200];
        const n = pickVal(v, (f[x + 4] << 16) | (f[x + 5] << 8) | f[x + 6], vnis, 24, 0);
        f[x + 4] = n >>> 16;
        f[x + 5] = (n >>> 8) & 255;
        f[x + 6] = n & 255;
      }
      break;
    case 'innerDst':
      if (i + 6 <= f.length) f.set(INNER_MACS[macIdx], i);
      break;
    case 'innerSrc':
      if (i + 12 <= f.length) f.set(INNER_MACS[macIdx], i + 6);
      break;
    case 'innerType':
      if (i + 14 <= f.length) {
        put16(f, i + 12, pickVal(v, g16(f, i + 12), [0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, 0x0000], 16, 0));
      }
      break;
    case 'innerTtl': {
      const t = i + 14 <= f.length ? g16(f, i + 12) : 0;
      const o = t === 0x0800 ? i + 22 : t === 0x86dd ? i + 21 : -1;
      if (o >= 0 && o < f.length) f[o] = pickVal(v, f[o], [0, 1, 2, 64, 255], 8, 0);
      break;
    }
    case 'innerDstIp': {
      const t = i + 14 <= f.length ? g16(f, i + 12) : 0;
      if (t === 0x0800) putAddr(f, i + 30, v, ADDR4, 4);
      else if (t === 0x86dd) putAddr(f, i + 38, v, ADDR6, 16);
      break;
    }
    default:
      break;
  }
}
