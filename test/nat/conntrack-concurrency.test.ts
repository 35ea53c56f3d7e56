// Real worker_threads creating distinct flows in one shared NAT table at the same time, the
// control thread sweeping meanwhile: no flow lost, none duplicated, no port handed out twice
// for one destination, every port inside its worker's slice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { NatTable } from '../../src/nat/conntrack.js';
import { portSlice } from '../../src/nat/port-alloc.js';
import { flowOf, type CtWorkerData, type CtWorkerResult } from './ct-worker.js';

const WORKERS = 3,
  FLOWS = 4000,
  REMOTES = 3;

test("3 workers × 4000 new flows: none lost or duplicated, ports unique per destination and in the owner's slice", {
  timeout: 60000,
}, async () => {
  const t = NatTable.create({ capacity: WORKERS * FLOWS, workers: WORKERS, portMin: 32768, portMax: 60999 });
  const go = new SharedArrayBuffer(4);
  const ready: Promise<void>[] = [];
  const done: Promise<CtWorkerResult>[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const data: CtWorkerData = { sab: t.sab, worker: w, flows: FLOWS, remotes: REMOTES, go };
    const wk = new Worker(new URL('./ct-worker.js', import.meta.url), { workerData: data });
    let onReady!: () => void;
    ready.push(
      new Promise((res) => {
        onReady = res;
      }),
    );
    done.push(
      new Promise((res, rej) => {
        wk.on('message', (m: unknown) => (m === 'ready' ? onReady() : res(m as CtWorkerResult)));
        wk.on('error', rej);
        wk.on('exit', (c) => rej(new Error(`worker exited ${c}`)));
      }),
    );
  }
  await Promise.all(ready);
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  // Sweep while they insert: nothing is old enough to go (all at t=1000).
  let sweeps = 0;
  const sweeping = (async () => {
    for (let i = 0; i < 20; i++) {
      t.sweep(1005);
      sweeps++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const rs = await Promise.all(done);
  await sweeping;
  const perWorker = rs.map((r) => ({ created: r.created, failed: r.failed, rehit: r.rehit, reverse: r.reverse }));
  console.log(`workers: ${JSON.stringify(perWorker)}, sweeps=${sweeps}, stats=${JSON.stringify(t.stats())}`);
  for (const r of rs) {
    assert.equal(r.created, FLOWS, `failures: ${JSON.stringify(r.failed)}`);
    assert.equal(r.rehit, FLOWS);
    assert.equal(r.reverse, FLOWS);
  }
  assert.equal(t.stats().connections, WORKERS * FLOWS);
  assert.equal(t.map.size(), 2 * WORKERS * FLOWS);
  assert.equal(t.stats().orphansRemoved + t.stats().expired, 0);
  // Ports: unique per destination, within the creating worker's slice.
  const used = new Map<string, number>();
  rs.forEach((r, w) => {
    const s = portSlice(32768, 60999, w, WORKERS);
    r.ports.forEach((port, i) => {
      assert.ok(port >= s.first && port < s.first + s.count, `worker ${w} port ${port} outside its slice`);
      const k = `${flowOf(w, i, REMOTES).dst}:${port}`;
      assert.equal(used.has(k), false, `port ${k} handed out twice`);
      used.set(k, w);
    });
  });
  // The table's own listing agrees.
  const entries = t.entries(1000);
  assert.equal(entries.length, WORKERS * FLOWS);
  assert.equal(new Set(entries.map((e) => `${e.src}:${e.sport}>${e.dst}`)).size, WORKERS * FLOWS);
  assert.deepEqual(
    [0, 1, 2].map((w) => entries.filter((e) => e.worker === w).length),
    [FLOWS, FLOWS, FLOWS],
  );
});
