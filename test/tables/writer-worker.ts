// Worker for concurrency.test: random insert/update/delete/lookup on overlapping keys
// of a shared hashmap until ctrl[0] != 0, then posts its counts.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedHashMap } from '../../src/tables/index.js';
import { keyTag } from './helpers.js';

export interface WriterData {
  sab: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  id: number;
  nKeys: number;
}
export interface WriterResult {
  inserts: number;
  insertFails: number;
  updates: number;
  deletes: number;
  lookups: number;
  hits: number;
  torn: number;
}

function run(d: WriterData): WriterResult {
  const m = SharedHashMap.attach(d.sab),
    ctrl = new Int32Array(d.ctrl);
  const key = new Int32Array(2),
    val = new Int32Array(4),
    out = new Int32Array(4);
  const r: WriterResult = { inserts: 0, insertFails: 0, updates: 0, deletes: 0, lookups: 0, hits: 0, torn: 0 };
  let x = 0x9e3779b9 ^ (d.id * 0x1234567),
    c = 0;
  for (let it = 0; ; it++) {
    if ((it & 255) === 0 && Atomics.load(ctrl, 0) !== 0) break;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5; // xorshift32
    const k = (x >>> 0) % d.nKeys,
      op = (x >>> 24) & 3;
    key[0] = k;
    key[1] = ~k;
    c++;
    val[0] = keyTag(k);
    val[1] = d.id;
    val[2] = c;
    val[3] = c;
    if (op === 0) {
      if (m.insert(key, 0, val, 0)) r.inserts++;
      else r.insertFails++;
    } else if (op === 1) {
      if (m.update(key, 0, val, 0)) r.updates++;
    } else if (op === 2) {
      if (m.delete(key, 0)) r.deletes++;
    } else {
      r.lookups++;
      if (m.lookup(key, 0, out, 0)) {
        r.hits++;
        if (out[0] !== keyTag(k) || out[2] !== out[3] || (out[1] !== 0 && out[1] !== 1)) r.torn++;
      }
    }
  }
  return r;
}

if (!isMainThread && parentPort && workerData) {
  parentPort.postMessage('ready');
  parentPort.postMessage(run(workerData as WriterData));
}
