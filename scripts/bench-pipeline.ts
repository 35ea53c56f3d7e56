// In-process cost of the pipeline per frame (no TAP I/O): a 64-byte UDP datagram routed
// from one endpoint to another, IPv4 and IPv6. Shows what JavaScript costs next to the
// 1-2.5 µs of each TAP read or write.
import { Harness, EP1, EP2, EP1_4, EP2_4, EP1_6, EP2_6, EP2_MAC, PORT_MACS } from '../test/datapath/harness.js';
import { receiveFrame } from '../src/datapath/receive.js';
import { writeIpv4Header } from '../src/wire/ipv4.js';
import { writeIpv6Header } from '../src/wire/ipv6.js';
import { writeEthernet } from '../src/wire/ethernet.js';

function frame(family: 4 | 6): Uint8Array {
  const l3 = family === 4 ? 20 : 40;
  const f = new Uint8Array(14 + l3 + 8 + 64);
  writeEthernet(f, 0, PORT_MACS[EP2], 0, EP2_MAC, 0, family === 4 ? 0x0800 : 0x86dd);
  if (family === 4) writeIpv4Header(f, 14, l3 + 72, 1, true, 64, 17, EP2_4, 0, EP1_4, 0);
  else writeIpv6Header(f, 14, 72, 17, 64, EP2_6, 0, EP1_6, 0);
  const u = 14 + l3;
  f[u] = 0x30; f[u + 1] = 0x39; f[u + 2] = 0x13; f[u + 3] = 0x89; f[u + 5] = 72;
  return f;
}

export function pipelineNsPerFrame(family: 4 | 6, iterations = 2_000_000): number {
  const h = new Harness();
  const dp = h.dp;
  const f = frame(family);
  const off = dp.arena.frameOff(0);
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      dp.arena.bytes.set(f, off); // the TAP read's copy, which the pipeline then rewrites
      receiveFrame(dp, EP2, off, f.length);
      dp.tx.count[EP1] = 0;
      dp.tx.dirtyCount = 0;
    }
  };
  run(200_000); // warm up: let TurboFan optimise
  const t0 = process.hrtime.bigint();
  run(iterations);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  if (dp.ctr[dp.ctr.length - 1] < 0) throw new Error('unreachable');
  return Math.round(ns);
}
