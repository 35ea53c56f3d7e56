// LB tables: lookups pick the Maglev backend; rebuilds are published atomically — workers
// reading while the control thread rewrites never see a half-built table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { LbTables, LbReader, fillServiceKey } from '../../src/lb/tables.js';
import { SVC_GENERATION } from '../../src/tables/layout.js';
import { M, SEED, VIP, backendSet, expectedNames } from './sets.js';

const key = { vip: VIP, port: 80, proto: 6 };

test('lookups follow the published Maglev table; delete and table limits', () => {
  const lb = new LbTables({ maxServices: 2, maxBackends: 16, tableSize: M });
  lb.upsert(key, 0, backendSet(0), SEED);
  const r = new LbReader(lb.sabs);
  fillServiceKey(r.key, 4, VIP.bytes, 0, 80, 6);
  assert.ok(r.findService());
  const want = expectedNames(0);
  for (let slot = 0; slot < M; slot++) {
    assert.ok(r.pickBackend(slot) >= 0);
    assert.equal(`198.19.${(r.backend[1] >>> 8) & 255}.${r.backend[1] & 255}:${r.backend[5]}`, want[slot]);
  }
  fillServiceKey(r.key, 4, VIP.bytes, 0, 81, 6);
  assert.equal(r.findService(), false, 'other port: no service');
  lb.upsert({ ...key, port: 81 }, 0, [], SEED);
  assert.ok(r.findService());
  assert.equal(r.pickBackend(7), -1, 'a service without backends picks none');
  assert.throws(() => lb.upsert({ ...key, port: 82 }, 0, backendSet(1), SEED), /service table full/);
  assert.ok(lb.delete({ ...key, port: 81 }));
  assert.equal(r.findService(), false);
  assert.throws(
    () =>
      lb.upsert(
        { ...key, port: 83 },
        0,
        Array.from({ length: 20 }, (_, i) => ({ addr: VIP, port: 1000 + i, weight: 1 })),
        SEED,
      ),
    /backend table full/,
  );
});

test('workers reading during rebuilds never see a half-built table', { timeout: 30000 }, async () => {
  const lb = new LbTables({ maxServices: 4, maxBackends: 64, tableSize: M });
  // Generation g carries backend set g % 3, so a reused buffer always held another set.
  const setFor = (g: number): number => g % 3;
  lb.upsert(key, 0, backendSet(setFor(1)), SEED);
  lb.upsert(key, 0, backendSet(setFor(2)), SEED);
  let gen = 2;
  const r = new LbReader(lb.sabs);
  fillServiceKey(r.key, 4, VIP.bytes, 0, 80, 6);
  r.findService();
  assert.equal(r.service[SVC_GENERATION], gen);
  const ms = 1500;
  const workers = [0, 1].map(
    () => new Worker(new URL('./lb-reader-worker.js', import.meta.url), { workerData: { sabs: lb.sabs, ms } }),
  );
  const results = workers.map(
    (w) =>
      new Promise<{ picks: number; wrong: number; misses: number; firstWrong: string }>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
      }),
  );
  const end = Date.now() + ms;
  let rebuilds = 0;
  while (Date.now() < end) {
    gen++;
    lb.upsert(key, 0, backendSet(setFor(gen)), SEED);
    rebuilds++;
    if (rebuilds % 50 === 0) await new Promise((res) => setImmediate(res));
  }
  const out = await Promise.all(results);
  for (const o of out) {
    assert.equal(o.wrong, 0, o.firstWrong);
    assert.ok(o.picks > 10000, `picks ${o.picks}`);
  }
  assert.ok(rebuilds > 100, `rebuilds ${rebuilds}`);
});

test('connection table settings: defaults, readable by workers, validated', () => {
  const lb = new LbTables({ maxServices: 2, maxBackends: 16, tableSize: 251 });
  assert.equal(lb.sabs.sizes.conntrackCapacity, 65536);
  assert.equal(lb.sabs.sizes.newFlowsPerSec, 100000);
  assert.equal(lb.conntrack.capacity, 65536);
  const small = new LbTables({
    maxServices: 2,
    maxBackends: 16,
    tableSize: 251,
    conntrackCapacity: 100,
    newFlowsPerSec: 7,
  });
  const r = new LbReader(small.sabs);
  assert.equal(r.conntrack.map.capacity, 100);
  assert.equal(r.conntrack.newFlowsPerSec, 7);
  assert.throws(
    () => new LbTables({ maxServices: 2, maxBackends: 16, tableSize: 251, conntrackCapacity: 0 }),
    /conntrackCapacity/,
  );
  assert.throws(
    () => new LbTables({ maxServices: 2, maxBackends: 16, tableSize: 251, newFlowsPerSec: -1 }),
    /newFlowsPerSec/,
  );
});
