// Reads the service table in a tight loop while the main thread rebuilds it, and checks
// every pick against the full table of the generation it was read under.
import { workerData, parentPort } from 'node:worker_threads';
import { LbReader, fillServiceKey, type LbSabs } from '../../src/lb/tables.js';
import { SVC_GENERATION, BACKEND_ADDR, BACKEND_PORT } from '../../src/tables/layout.js';
import { M, VIP, expectedNames } from './sets.js';

const { sabs, ms } = workerData as { sabs: LbSabs; ms: number };
const r = new LbReader(sabs);
const expected = [0, 1, 2].map(expectedNames);
let picks = 0;
let wrong = 0;
let misses = 0;
let firstWrong = '';
const end = Date.now() + ms;
let h = 12345;
while (Date.now() < end) {
  for (let k = 0; k < 1000; k++) {
    fillServiceKey(r.key, 4, VIP.bytes, 0, 80, 6);
    if (!r.findService()) {
      misses++;
      continue;
    }
    h = (Math.imul(h, 1103515245) + 12345) >>> 0;
    // Now and then dawdle between reading the service and its table, long enough for the
    // writer to publish two generations and reuse the buffer we are about to read.
    if ((k & 15) === 0) {
      const until = performance.now() + 0.2;
      while (performance.now() < until);
    }
    const id = r.pickBackend(h);
    if (id < 0) {
      misses++;
      continue;
    }
    const gen = r.service[SVC_GENERATION];
    const a = r.backend[BACKEND_ADDR];
    const name = `198.19.${(a >>> 8) & 255}.${a & 255}:${r.backend[BACKEND_PORT]}`;
    const want = expected[gen % 3][h % M];
    picks++;
    if (name !== want) {
      wrong++;
      if (!firstWrong) firstWrong = `gen ${gen} slot ${h % M}: got ${name}, want ${want}`;
    }
  }
}
parentPort!.postMessage({ picks, wrong, misses, firstWrong });
