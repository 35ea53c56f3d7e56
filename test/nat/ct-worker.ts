// Worker for conntrack-concurrency.test: creates `flows` distinct flows (its own endpoint
// addresses, shared remotes), then looks every one up again; posts what it saw.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { NatFlows, CT_NEW, CT_HIT } from '../../src/nat/conntrack.js';
import { pkt } from './flows.js';
import { bytesWords } from './helpers.js';
import { ip } from './flows.js';

export interface CtWorkerData {
  sab: SharedArrayBuffer;
  worker: number;
  flows: number;
  remotes: number;
  go: SharedArrayBuffer;
}
export interface CtWorkerResult {
  created: number;
  failed: Record<string, number>;
  ports: number[];
  rehit: number;
  reverse: number;
}

export function flowOf(worker: number, i: number, remotes: number): { src: string; sport: number; dst: string } {
  return {
    src: `198.19.${10 + worker}.${1 + (i % 250)}`,
    sport: 1024 + Math.floor(i / 250),
    dst: `198.18.200.${1 + (i % remotes)}`,
  };
}

function run(d: CtWorkerData): CtWorkerResult {
  const f = new NatFlows(d.sab, d.worker);
  const egress = bytesWords(ip('198.18.0.200'));
  const go = new Int32Array(d.go);
  const packets = Array.from({ length: d.flows }, (_, i) => {
    const fl = flowOf(d.worker, i, d.remotes);
    return pkt('udp', fl.src, fl.sport, fl.dst, 53);
  });
  parentPort!.postMessage('ready');
  Atomics.wait(go, 0, 0); // start together
  const r: CtWorkerResult = { created: 0, failed: {}, ports: [], rehit: 0, reverse: 0 };
  for (const { p, b } of packets) {
    const v = f.outbound(p, b, egress, 0, 1000);
    if (v === CT_NEW) {
      r.created++;
      r.ports.push(f.xlate[4]!);
    } else {
      r.failed[v] = (r.failed[v] ?? 0) + 1;
      r.ports.push(-1);
    }
  }
  // Every flow this worker created is found again with the same port, and its reply maps back.
  packets.forEach(({ p, b }, i) => {
    if (r.ports[i]! < 0) return;
    if (f.outbound(p, b, egress, 0, 1000) === CT_HIT && f.xlate[4] === r.ports[i]) r.rehit++;
    const fl = flowOf(d.worker, i, d.remotes);
    const back = pkt('udp', fl.dst, 53, '198.18.0.200', r.ports[i]!);
    if (f.inbound(back.p, back.b, 1000) === CT_HIT && f.xlate[4] === fl.sport) r.reverse++;
  });
  return r;
}

if (!isMainThread && parentPort && workerData) {
  parentPort.postMessage(run(workerData as CtWorkerData));
}
