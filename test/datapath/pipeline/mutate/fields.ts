// Mutations of one header field of a frame (Ethernet, IPv4, IPv6 and its extension headers,
// ICMP / NDP, ARP, VXLAN): the field is found where the frame says it is, and left alone when
// the frame has no such field.
import { extHeaders, g16 } from '../reading/frame.js';
import { ADDR4, ADDR6, MACS, type Val, pickVal, put16, putAddr } from './values.js';
import { type VxField, applyVxField } from './vxlan-fields.js';

export type Field =
  | 'ethDst'
  | 'ethType'
  | 'v4ver'
  | 'v4ihl'
  | 'v4tot'
  | 'v4frag'
  | 'v4ttl'
  | 'v4proto'
  | 'v4src'
  | 'v4dst'
  | 'v4opt'
  | 'v6ver'
  | 'v6plen'
  | 'v6next'
  | 'v6hops'
  | 'v6src'
  | 'v6dst'
  | 'extNext'
  | 'extLen'
  | 'extFrag'
  | 'l4type'
  | 'l4code'
  | 'ndTarget'
  | 'ndOptType'
  | 'ndOptLen'
  | 'arpHw'
  | 'arpProto'
  | 'arpLens'
  | 'arpOp'
  | 'arpSpa'
  | 'arpTpa'
  | 'arpSha'
  | VxField;

// (The order is part of what a seed replays: fc.constantFrom picks by index.)
export const FIELDS: Field[] = [
  'ethDst',
  'ethType',
  'v4ver',
  'v4ihl',
  'v4tot',
  'v4frag',
  'v4ttl',
  'v4proto',
  'v4src',
  'v4dst',
  'v4opt',
  'v6ver',
  'v6plen',
  'v6next',
  'v6hops',
  'v6src',
  'v6dst',
  'extNext',
  'extLen',
  'extFrag',
  'l4type',
  'l4code',
  'ndTarget',
  'ndOptType',
  'ndOptLen',
  'arpHw',
  'arpProto',
  'arpLens',
  'arpOp',
  'arpSpa',
  'arpTpa',
  'arpSha',
  'udpDport',
  'udpLen',
  'vxFlags',
  'vxVni',
  'innerDst',
  'innerSrc',
  'innerType',
  'innerTtl',
  'innerDstIp',
];

export function applyField(f: Uint8Array, fld: Field, v: Val): void {
  const is4 = f.length >= 14 && g16(f, 12) === 0x0800;
  const is6 = f.length >= 14 && g16(f, 12) === 0x86dd;
  const isArp = f.length >= 14 && g16(f, 12) === 0x0806;
  const ihl = f.length > 14 ? (f[14] & 15) * 4 : 20;
  const l4v4 = 14 + ihl;
  switch (fld) {
    case 'ethDst':
      if (f.length >= 6) f.set(MACS[(v.m === 'pick' ? v.i : v.m === 'raw' ? v.v : 0) % MACS.length], 0);
      break;
    case 'ethType':
      if (f.length >= 14) {
        put16(f, 12, pickVal(v, g16(f, 12), [0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, 0x0000, 0xffff], 16, 0));
      }
      break;
    case 'v4ver':
      if (is4 && f.length > 14) f[14] = (pickVal(v, f[14] >>> 4, [4, 6, 0, 15, 5], 4, 0) << 4) | (f[14] & 15);
      break;
    case 'v4ihl':
      if (is4 && f.length > 14) {
        f[14] = (f[14] & 0xf0) | pickVal(v, f[14] & 15, [5, 4, 0, 6, 15, 1, 8], 4, Math.floor((f.length - 14) / 4));
      }
      break;
    case 'v4tot':
      if (is4) {
        const lens = [
          0,
          19,
          20,
          ihl - 1,
          ihl,
          ihl + 1,
          ihl + 7,
          ihl + 8,
          0xffff,
          f.length - 14,
          f.length - 13,
          1400,
          1401,
          1500,
          1501,
        ];
        put16(f, 16, pickVal(v, g16(f, 16), lens, 16, f.length - 14));
      }
      break;
    case 'v4frag':
      if (is4) {
        const words = [0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x6000, 0x8000, 0x3fff, 0x2001];
        put16(f, 20, pickVal(v, g16(f, 20), words, 16, 0));
      }
      break;
    case 'v4ttl':
      if (is4 && f.length > 22) f[22] = pickVal(v, f[22], [0, 1, 2, 255, 64], 8, 0);
      break;
    case 'v4proto':
      if (is4 && f.length > 23) f[23] = pickVal(v, f[23], [1, 6, 17, 58, 4, 41, 0, 255], 8, 0);
      break;
    case 'v4src':
      if (is4) putAddr(f, 26, v, ADDR4, 4);
      break;
    case 'v4dst':
      if (is4) putAddr(f, 30, v, ADDR4, 4);
      break;
    case 'v4opt':
      if (is4 && ihl > 20 && f.length > 34) {
        const at = 34 + ((v.m === 'raw' ? v.v : v.m === 'pick' ? v.i : 0) % (ihl - 20));
        f[at] = pickVal(v, f[34], [0, 1, 0x94, 7, 68, 0xff, 2, 40, 0x88, 0x83, 3], 8, 0);
      }
      break;
    case 'v6ver':
      if (is6 && f.length > 14) f[14] = (pickVal(v, f[14] >>> 4, [6, 4, 0, 15, 7], 4, 0) << 4) | (f[14] & 15);
      break;
    case 'v6plen':
      if (is6) {
        const lens = [0, 1, 7, 8, 0xffff, f.length - 54, f.length - 53, 1360, 1361, 1460, 1461];
        put16(f, 18, pickVal(v, g16(f, 18), lens, 16, f.length - 54));
      }
      break;
    case 'v6next':
      if (is6 && f.length > 20) f[20] = pickVal(v, f[20], [0, 43, 44, 50, 51, 59, 60, 135, 58, 17, 6, 255], 8, 0);
      break;
    case 'v6hops':
      if (is6 && f.length > 21) f[21] = pickVal(v, f[21], [0, 1, 2, 255, 254, 64], 8, 0);
      break;
    case 'v6src':
      if (is6) putAddr(f, 22, v, ADDR6, 16);
      break;
    case 'v6dst':
      if (is6) putAddr(f, 38, v, ADDR6, 16);
      break;
    case 'extNext':
    case 'extLen':
    case 'extFrag': {
      if (!is6) break;
      const e = extHeaders(f);
      if (e.offs.length === 0) break;
      const sel = (v.m === 'pick' ? v.i : v.m === 'raw' ? v.v >>> 8 : Math.abs(v.d)) % e.offs.length;
      const p = e.offs[sel];
      if (fld === 'extNext') f[p] = pickVal(v, f[p], [0, 43, 44, 50, 51, 59, 60, 135, 58, 17, 6], 8, 0);
      else if (fld === 'extLen') {
        if (p + 1 < f.length) f[p + 1] = pickVal(v, f[p + 1], [0, 1, 2, 3, 255, 254, 100], 8, 0);
      } else put16(f, p + 2, pickVal(v, g16(f, p + 2), [0, 1, 8, 9, 0xfff8, 0xfff9, 0x0320], 16, 0));
      break;
    }
    case 'l4type':
    case 'l4code': {
      let m = -1;
      if (is4) m = l4v4;
      else if (is6) m = extHeaders(f).l4;
      if (m < 0 || m + 1 >= f.length) break;
      if (fld === 'l4type') {
        f[m] = pickVal(v, f[m], [0, 3, 4, 5, 8, 11, 12, 1, 2, 128, 129, 133, 134, 135, 136, 137, 255], 8, 0);
      } else f[m + 1] = pickVal(v, f[m + 1], [0, 1, 4, 255], 8, 0);
      break;
    }
    case 'ndTarget':
      if (is6) putAddr(f, extHeaders(f).l4 + 8, v, ADDR6, 16);
      break;
    case 'ndOptType':
    case 'ndOptLen': {
      if (!is6) break;
      const o = extHeaders(f).l4 + 24 + (fld === 'ndOptLen' ? 1 : 0);
      if (o < f.length) f[o] = pickVal(v, f[o], fld === 'ndOptLen' ? [0, 1, 2, 255, 3] : [1, 2, 0, 3, 5, 255], 8, 0);
      break;
    }
    case 'arpHw':
      if (isArp) put16(f, 14, pickVal(v, g16(f, 14), [1, 0, 6, 0xffff], 16, 0));
      break;
    case 'arpProto':
      if (isArp) put16(f, 16, pickVal(v, g16(f, 16), [0x0800, 0x86dd, 0], 16, 0));
      break;
    case 'arpLens':
      if (isArp) put16(f, 18, pickVal(v, g16(f, 18), [0x0604, 0x0606, 0x0610, 0x0004, 0x0600], 16, 0));
      break;
    case 'arpOp':
      if (isArp) put16(f, 20, pickVal(v, g16(f, 20), [1, 2, 0, 3, 4, 0xffff], 16, 0));
      break;
    case 'arpSpa':
      if (isArp) putAddr(f, 28, v, ADDR4, 4);
      break;
    case 'arpTpa':
      if (isArp) putAddr(f, 38, v, ADDR4, 4);
      break;
    case 'arpSha':
      if (isArp && f.length >= 28) f.set(MACS[(v.m === 'pick' ? v.i : 0) % MACS.length], 22);
      break;
    case 'udpDport':
    case 'udpLen':
    case 'vxFlags':
    case 'vxVni':
    case 'innerDst':
    case 'innerSrc':
    case 'innerType':
    case 'innerTtl':
    case 'innerDstIp':
      applyVxField(f, fld, v);
      break;
  }
}
