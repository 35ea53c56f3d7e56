// Worker for concurrency.test: SPSC producer. Pushes `count` records (retrying when the
// ring is full) whose length and bytes derive from their sequence number (the tag).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from '../../src/tables/index.js';

export interface RingData { sab: SharedArrayBuffer; count: number }
export const recLen = (seq: number): number => (seq * 37) % 301;

if (!isMainThread && parentPort && workerData) {
  const { sab, count } = workerData as RingData;
  const ring = SpscRing.attach(sab);
  const buf = new Uint8Array(400);
  let fullRetries = 0;
  parentPort.postMessage('ready');
  for (let seq = 0; seq < count; seq++) {
    const len = recLen(seq), off = seq & 7;
    for (let i = 0; i < len; i++) buf[off + i] = (seq + i) & 255;
    while (!ring.push(buf, off, len, seq)) fullRetries++;
  }
  parentPort.postMessage({ fullRetries });
}
