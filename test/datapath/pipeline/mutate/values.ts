// The values mutations write into a field: addresses and MACs that mean something to the
// node (ours, its neighbours', special ones), and how a mutation picks or derives a value.
import {
  BCAST,
  BLACKHOLE_4,
  BLACKHOLE_6,
  EP1_4,
  EP1_6,
  EP1_MAC,
  EP2_4,
  EP2_6,
  GW4,
  GW6,
  LINUX_VX_MAC,
  NH_4,
  NH_6,
  OUT_4,
  OUT_6,
  POD_B4,
  POD_B6,
  POD_C4,
  POD_C6,
  POD_D4,
  POD_E4,
  PORT_LL,
  PORT_MACS,
  UNREACH_4,
  UNREACH_6,
  UP,
  UP_4,
  UP_6,
  VTEP_B4,
  VTEP_C6,
  VTEP_D4,
  VTEP_E4,
  VTEP_LL,
  VTEP_MAC,
  ip,
  mac,
  solicitedNode,
} from '../../harness.js';
import { ZERO6, ZERO_MAC } from '../frames/builders.js';

export const ADDR4 = [
  GW4,
  EP1_4,
  EP2_4,
  UP_4,
  NH_4,
  OUT_4,
  BLACKHOLE_4,
  UNREACH_4,
  ip('0.0.0.0'),
  ip('127.0.0.1'),
  ip('224.0.0.1'),
  ip('255.255.255.255'),
  ip('198.18.0.255'),
  ip('198.18.0.77'),
  ip('198.19.1.99'),
  POD_B4,
  POD_C4,
  POD_D4,
  POD_E4,
  VTEP_B4,
  VTEP_D4,
  VTEP_E4,
];
export const ADDR6 = [
  GW6,
  EP1_6,
  EP2_6,
  UP_6,
  NH_6,
  OUT_6,
  BLACKHOLE_6,
  UNREACH_6,
  ZERO6,
  ip('::1'),
  ip('ff02::1'),
  solicitedNode(GW6),
  solicitedNode(EP2_6),
  ...PORT_LL,
  ip('fe80::1'),
  ip('2001:db8:18::77'),
  ip('::ffff:198.19.1.1'),
  POD_B6,
  POD_C6,
  VTEP_C6,
  VTEP_LL,
];
export const MACS = [
  ...PORT_MACS,
  BCAST,
  mac('33:33:00:00:00:01'),
  mac('33:33:ff:00:00:01'),
  mac('01:00:5e:00:00:01'),
  EP1_MAC,
  mac('00:00:00:00:00:00'),
  VTEP_MAC,
];
/** Inner Ethernet addresses for VXLAN mutations. */
export const INNER_MACS = [
  VTEP_MAC,
  LINUX_VX_MAC,
  BCAST,
  mac('33:33:ff:00:00:01'),
  PORT_MACS[UP],
  mac('01:00:5e:00:00:01'),
  ZERO_MAC,
];

/**
 * A value for a field: one of the interesting ones (pick), a delta to the current value (rel),
 * a delta to the bytes available (avail), or anything (raw).
 */
export type Val =
  | { m: 'pick'; i: number }
  | { m: 'rel'; d: number }
  | { m: 'raw'; v: number }
  | { m: 'avail'; d: number };

export function pickVal(v: Val, cur: number, choices: number[], bits: number, avail: number): number {
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  switch (v.m) {
    case 'pick':
      return choices[v.i % choices.length] & mask;
    case 'rel':
      return (cur + v.d) & mask;
    case 'avail':
      return (avail + v.d) & mask;
    case 'raw':
      return v.v & mask;
  }
}

export function put16(f: Uint8Array, o: number, v: number): void {
  if (o + 1 < f.length) {
    f[o] = (v >>> 8) & 255;
    f[o + 1] = v & 255;
  }
}

export function putAddr(f: Uint8Array, o: number, v: Val, list: Uint8Array[], n: number): void {
  if (o + n > f.length) return;
  if (v.m === 'pick') f.set(list[v.i % list.length], o);
  else if (v.m === 'raw') for (let i = 0; i < n; i++) f[o + i] = (v.v >>> ((i & 3) * 8)) & 255;
  else f[o + n - 1] = (f[o + n - 1] + v.d) & 255;
}
