// The fragmentation corpus: oversize IPv4 without DF toward the 1400-byte ep2, with options to
// copy or not, bad options, MF, offsets up to the 13-bit limit.
import { EP1, EP1_4, EP1_MAC, EP2_4, type Ipv4Opts, bytes, udp } from '../../harness.js';
import { type Base, U, v4 } from './builders.js';
import { OPTS_BAD, OPTS_BAD_TAIL, OPTS_EOL_JUNK, OPTS_MAX, OPTS_MIXED, OPTS_NOT_COPIED } from './ipv4-options.js';

/** Oversize IPv4 without DF from ep1 to ep2 (MTU 1400): `o` adds options, MF, an offset. */
function bigToEp2(o: Partial<Ipv4Opts>, size: number, l4 = true): Uint8Array {
  const payload = l4 ? udp(EP1_4, EP2_4, 7000, 7001, bytes(size - 8, 11)) : bytes(size, 13);
  return v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: U, ...o }, payload);
}

export function fragmentBases(): Base[] {
  return [
    { name: 'udp4-big-opts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_MIXED }, 1408) },
    { name: 'udp4-big-notcopied-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_NOT_COPIED }, 1420) },
    {
      name: 'udp4-big-maxopts-nodf-to-ep2',
      port: EP1,
      frame: bigToEp2({ options: OPTS_MAX, id: 0xbeef, ttl: 2 }, 1420),
    },
    { name: 'udp4-big-eolopts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_EOL_JUNK }, 1430) },
    { name: 'udp4-big-badopts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_BAD }, 1430) },
    { name: 'udp4-big-badtail-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_BAD_TAIL }, 1430) },
    { name: 'udp4-big-mf-nodf-to-ep2', port: EP1, frame: bigToEp2({ mf: true }, 1472) },
    { name: 'udp4-big-later-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 185 }, 1441, false) },
    {
      name: 'udp4-big-later-mf-nodf-to-ep2',
      port: EP1,
      frame: bigToEp2({ fragOff: 370, mf: true, options: OPTS_MIXED }, 1440, false),
    },
    { name: 'udp4-big-overflow-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 0x1fff - 100 }, 1440, false) },
    { name: 'udp4-big-edge-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 0x1fff - 172 }, 1440, false) },
  ];
}
