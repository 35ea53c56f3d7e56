// In-process cost of the pipeline per frame (no TAP I/O): a 64-byte UDP datagram routed
// from one endpoint to another, IPv4 and IPv6. Shows what JavaScript costs next to the
// 1-2.5 µs of each TAP read or write.
import {
  Harness,
  EP1,
  EP2,
  UP,
  EP1_4,
  EP2_4,
  EP1_6,
  EP2_6,
  EP2_MAC,
  NH_MAC,
  PORT_MACS,
  C,
  ip,
} from '../test/datapath/harness.js';
import { LbTables, LbReader } from '../src/lb/tables.js';
import { maglevSeed, MAGLEV_DEFAULT_SEED } from '../src/lb/maglev.js';
import { parseAddress } from '../src/wire/addr.js';
import { receiveFrame } from '../src/datapath/receive.js';
import { writeIpv4Header } from '../src/wire/ipv4.js';
import { writeIpv6Header } from '../src/wire/ipv6.js';
import { writeEthernet } from '../src/wire/ethernet.js';
import { RecorderTables, RecorderReader } from '../src/recorder/tables.js';
import { Recorder } from '../src/recorder/recordings.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the recorder does while the frames run: nothing, 10 000 filters under 4 masks that match nothing, or capture
 * everything at 128 B.
 */
export type RecorderLoad = 'off' | '10k-filters' | 'capture-all';

/** 10 000 filters under 4 masks (2 per family) that match no traffic between the benchmark's endpoints. */
export function tenThousandFilters(dst4 = '198.19.1.10', dst6 = '2001:db8:19:1::10'): string[] {
  const f: string[] = [];
  for (let i = 0; i < 2500; i++) {
    f.push(`198.18.${i >> 8}.${i & 255}/32 0 ${dst4}/32 ${1000 + i} UDP`);
    f.push(`198.18.${i >> 8}.0/24 ${2000 + i} 198.19.0.0/16 0 UDP`);
    f.push(`2001:db8:7::${i.toString(16)}/128 0 ${dst6}/128 ${1000 + i} UDP`);
    f.push(`2001:db8:7:${i.toString(16)}::/64 ${2000 + i} 2001:db8:19::/48 0 UDP`);
  }
  return f;
}

function frame(family: 4 | 6): Uint8Array {
  const l3 = family === 4 ? 20 : 40;
  const f = new Uint8Array(14 + l3 + 8 + 64);
  writeEthernet(f, 0, PORT_MACS[EP2], 0, EP2_MAC, 0, family === 4 ? 0x0800 : 0x86dd);
  if (family === 4) writeIpv4Header(f, 14, l3 + 72, 1, true, 64, 17, EP2_4, 0, EP1_4, 0);
  else writeIpv6Header(f, 14, 72, 17, 64, EP2_6, 0, EP1_6, 0);
  const u = 14 + l3;
  f[u] = 0x30;
  f[u + 1] = 0x39;
  f[u + 2] = 0x13;
  f[u + 3] = 0x89;
  f[u + 5] = 72;
  return f;
}

export function pipelineNsPerFrame(family: 4 | 6, iterations = 2_000_000, load: RecorderLoad = 'off'): number {
  const tables = new RecorderTables({ maxFilters: 16384, workers: 1, ringBytes: 4 << 20 });
  const h = new Harness({ recorder: new RecorderReader(tables.sabs, 0) });
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-rec-'));
  const rec = new Recorder({ node: 'bench', directory: dir, maxMasks: 16, tables });
  if (load === '10k-filters') rec.start({ filters: tenThousandFilters() });
  if (load === 'capture-all')
    rec.start({ filters: ['0.0.0.0/0 0 0.0.0.0/0 0 ANY', '::/0 0 ::/0 0 ANY'], maxCaptureLen: 128 });
  h.dp.recorder!.refresh();
  const dp = h.dp;
  const f = frame(family);
  const off = dp.arena.frameOff(0);
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      dp.arena.bytes.set(f, off); // the TAP read's copy, which the pipeline then rewrites
      receiveFrame(dp, EP2, off, f.length);
      dp.tx.count[EP1] = 0;
      dp.tx.dirtyCount = 0;
      // The control thread's part (draining into the file) is not timed: it runs on another core.
      if ((i & 1023) === 1023 && load === 'capture-all') drain();
    }
  };
  let drainNs = 0n;
  const drain = (): void => {
    const t = process.hrtime.bigint();
    rec.drain();
    drainNs += process.hrtime.bigint() - t;
  };
  run(200_000); // warm up: let TurboFan optimise
  const t0 = process.hrtime.bigint();
  run(iterations);
  const ns = Number(process.hrtime.bigint() - t0 - drainNs) / iterations;
  if (dp.ctr[dp.ctr.length - 1] < 0) throw new Error('unreachable');
  rec.stopAll('stopped');
  rmSync(dir, { recursive: true, force: true });
  return Math.round(ns);
}

/**
 * In-process cost of the load balancer's path per frame: a 64-byte UDP datagram from a client
 * to a one-backend service on the uplink, balanced and encapsulated in IPIP toward the backend
 * (what the LB node's worker does for every frame of the `lb` scenario, minus the TAP I/O).
 */
export function lbNsPerFrame(iterations = 2_000_000): number {
  const vip = ip('198.18.100.1');
  const lb = new LbTables({ maxServices: 16, maxBackends: 64, tableSize: 1021 });
  lb.upsert(
    { vip: parseAddress('198.18.100.1')!, port: 5201, proto: 17 },
    0,
    [{ addr: parseAddress('198.18.0.2')!, port: 5201, weight: 1 }],
    maglevSeed(MAGLEV_DEFAULT_SEED),
  );
  const h = new Harness({ lb: new LbReader(lb.sabs) });
  const dp = h.dp;
  const f = new Uint8Array(14 + 20 + 8 + 64);
  writeEthernet(f, 0, PORT_MACS[UP], 0, NH_MAC, 0, 0x0800);
  writeIpv4Header(f, 14, 20 + 72, 1, true, 64, 17, ip('198.18.0.100'), 0, vip, 0);
  f[34] = 0x30;
  f[35] = 0x39;
  f[36] = 0x14;
  f[37] = 0x51;
  f[39] = 72;
  const off = dp.arena.frameOff(0);
  const before = dp.ctr[C.lbForwarded];
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      dp.arena.bytes.set(f, off);
      receiveFrame(dp, UP, off, f.length);
      dp.tx.count[UP] = 0;
      dp.tx.dirtyCount = 0;
    }
  };
  run(200_000);
  const t0 = process.hrtime.bigint();
  run(iterations);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  if (dp.ctr[C.lbForwarded] - before !== iterations + 200_000) throw new Error('lb bench: frames were not balanced');
  return Math.round(ns);
}
