// Worker for concurrency.test: SPSC producer. Pushes `count` records (retrying when the
// ring is full) whose length and bytes derive from their sequence number (the tag).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from '../../src/tables/index.js';

/** `ctrl[0]` becomes 1 when the consumer stops: the producer then stops too instead of spinning on a full ring. */
export interface RingData {
  sab: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  count: number;
}
export const recLen = (seq: number): number => (seq * 37) % 301;

if (!isMainThread && parentPort && workerData) {
  const { sab, ctrl: ctrlSab, count } = workerData as RingData;
  const ctrl = new Int32Array(ctrlSab);
  const ring = SpscRing.attach(sab);
  const buf = new Uint8Array(400);
  let fullRetries = 0;
  parentPort.postMessage('ready');
  for (let seq = 0; seq < count && Atomics.load(ctrl, 0) === 0; seq++) {
    const len = recLen(seq),
      off = seq & 7;
    for (let i = 0; i < len; i++) buf[off + i] = (seq + i) & 255;
    while (!ring.push(buf, off, len, seq) && Atomics.load(ctrl, 0) === 0) fullRetries++;
  }
  parentPort.postMessage({ fullRetries });
}
