// Worker for replay.test: checks every counter 0..total-1 against one shared replay window,
// in increasing order with local shuffles (blocks of 64 reversed or rotated, differently per
// worker), and counts in a shared array how often each counter was accepted.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { replayCheck } from '../../src/wireguard/replay.js';

export interface ReplayWorkerData {
  window: SharedArrayBuffer;
  accepted: SharedArrayBuffer;
  total: number;
  seed: number;
  start: SharedArrayBuffer;
}

function run(d: ReplayWorkerData): number {
  const w = new Int32Array(d.window);
  const acc = new Int32Array(d.accepted);
  const start = new Int32Array(d.start);
  while (Atomics.load(start, 0) === 0) Atomics.wait(start, 0, 0, 5);
  let mine = 0;
  const order = new Int32Array(64);
  for (let base = 0; base < d.total; base += 64) {
    const n = Math.min(64, d.total - base);
    for (let i = 0; i < n; i++) order[i] = base + i;
    const mode = (d.seed + base / 64) % 3;
    if (mode === 1) order.subarray(0, n).reverse();
    else if (mode === 2) for (let i = 0; i < n; i++) order[i] = base + ((i + d.seed * 7) % n);
    for (let i = 0; i < n; i++) {
      const c = order[i];
      if (replayCheck(w, 0, 0, c)) {
        Atomics.add(acc, c, 1);
        mine++;
      }
    }
  }
  return mine;
}

if (!isMainThread && parentPort && workerData) parentPort.postMessage(run(workerData as ReplayWorkerData));
