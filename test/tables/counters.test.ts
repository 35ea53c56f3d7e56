import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterBlock } from '../../src/tables/index.js';

const NAMES = ['rx', 'tx', 'drop', 'a', 'b', 'c', 'd', 'e', 'f'] as const;

test('per-worker rows, totals, attach', () => {
  const c = CounterBlock.create(NAMES, 3);
  const r0 = c.row(0),
    r2 = CounterBlock.attach(c.sab, NAMES).row(2);
  assert.equal(c.row(0), r0, 'same view each call');
  assert.equal(r0.length, NAMES.length);
  r0[0]! += 1;
  r0[0]! += 1;
  r0[2]! += 5;
  r2[0]! += 3;
  r2[8]! += 1;
  const { total, perWorker } = c.read();
  assert.deepEqual(total, { rx: 5, tx: 0, drop: 5, a: 0, b: 0, c: 0, d: 0, e: 0, f: 1 });
  assert.equal(perWorker.length, 3);
  assert.equal(perWorker[0]!.rx, 2);
  assert.equal(perWorker[1]!.rx, 0);
  assert.equal(perWorker[2]!.f, 1);
  assert.equal(c.indexOf('drop'), 2);
  // Rows don't overlap (padded to 64 bytes).
  assert.ok(r0.byteOffset + r0.byteLength <= c.row(1).byteOffset);
  assert.equal(c.row(1).byteOffset % 64, 0);
});

test('exact beyond 2^32', () => {
  const c = CounterBlock.create(['x'], 1);
  const r = c.row(0);
  r[0] = 2 ** 40;
  r[0]! += 1;
  assert.equal(c.read().total.x, 2 ** 40 + 1);
});

test('errors', () => {
  const c = CounterBlock.create(['x', 'y'], 2);
  assert.throws(() => c.row(2), RangeError);
  assert.throws(() => CounterBlock.attach(c.sab, ['x']), /2 counters/);
  assert.throws(() => CounterBlock.create(['x', 'x'], 1), /duplicate/);
  assert.throws(() => CounterBlock.create(['x'], 0), RangeError);
});
