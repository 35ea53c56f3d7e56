// The replay window: in order, out of order within the window, too old, duplicates, jumps,
// 32-bit carries, counters near REJECT_AFTER_MESSAGES; a random comparison against a plain
// model; and real worker threads hammering one shared window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ReplayWindow, REPLAY_WINDOW_SIZE, REPLAY_WORDS } from '../../src/wireguard/replay.js';
import { REJECT_AFTER_MESSAGES } from '../../src/wireguard/constants.js';
import type { ReplayWorkerData } from './replay-worker.js';

test('window covers at least 8128 packets', () => {
  assert.ok(REPLAY_WINDOW_SIZE >= 8128, String(REPLAY_WINDOW_SIZE));
});

test('in order: every counter once, duplicates refused', () => {
  const w = new ReplayWindow();
  for (let i = 0n; i < 20000n; i++) assert.ok(w.checkBig(i), `counter ${i}`);
  assert.ok(!w.checkBig(19999n));
  assert.ok(!w.checkBig(19000n));
  assert.ok(!w.checkBig(0n), 'far behind');
});

test('out of order within the window; too old just outside it', () => {
  const w = new ReplayWindow();
  assert.ok(w.checkBig(10000n));
  assert.ok(w.checkBig(9999n));
  assert.ok(w.checkBig(5000n));
  assert.ok(!w.checkBig(5000n), 'duplicate out of order');
  const oldest = 10000n - BigInt(REPLAY_WINDOW_SIZE) + 1n;
  assert.ok(w.checkBig(oldest), 'the oldest counter still inside');
  assert.ok(!w.checkBig(oldest - 1n), 'one further back is too old');
  assert.ok(w.checkBig(10001n));
  assert.ok(!w.checkBig(oldest), 'the window moved: now too old, and also seen');
});

test('a first counter that is not 0, and 0 itself once', () => {
  const w = new ReplayWindow();
  assert.ok(w.checkBig(0n));
  assert.ok(!w.checkBig(0n));
  const v = new ReplayWindow();
  assert.ok(v.checkBig(5n));
  assert.ok(v.checkBig(0n));
  assert.ok(!v.checkBig(5n));
});

test('big jumps clear the bitmap: old bits never leak into new blocks', () => {
  const w = new ReplayWindow();
  for (let i = 0n; i < 8192n; i++) w.checkBig(i);
  // Jump exactly one ring (256 blocks × 32) ahead: the same ring slots, new counters.
  assert.ok(w.checkBig(8192n + 8192n));
  for (let i = 8192n + 8192n - 100n; i < 8192n + 8192n; i++) assert.ok(w.checkBig(i), `counter ${i}`);
  assert.ok(w.checkBig(1n << 40n));
  assert.ok(w.checkBig((1n << 40n) - 1n));
  assert.ok(!w.checkBig(16384n));
});

test('32-bit carries: the window spans the boundary of the low word', () => {
  const w = new ReplayWindow();
  const b = 1n << 32n;
  assert.ok(w.checkBig(b + 5n));
  assert.ok(w.checkBig(b - 1n));
  assert.ok(w.checkBig(b - 3n));
  assert.ok(w.checkBig(b));
  assert.ok(!w.checkBig(b - 1n));
  assert.ok(w.checkBig(b + 5n - BigInt(REPLAY_WINDOW_SIZE) + 1n));
  assert.ok(!w.checkBig(b + 5n - BigInt(REPLAY_WINDOW_SIZE)));
  assert.ok(w.checkBig(b + 6n));
});

test('counters near REJECT_AFTER_MESSAGES', () => {
  const w = new ReplayWindow();
  const last = REJECT_AFTER_MESSAGES - 1n;
  assert.ok(!w.checkBig(REJECT_AFTER_MESSAGES), 'the limit itself');
  assert.ok(!w.checkBig((1n << 64n) - 1n), 'the largest 64-bit counter');
  assert.ok(w.checkBig(last - 10n));
  assert.ok(w.checkBig(last));
  assert.ok(!w.checkBig(last));
  assert.ok(w.checkBig(last - 5n));
  assert.ok(!w.checkBig(last - 10n));
  assert.ok(!w.checkBig(REJECT_AFTER_MESSAGES));
  assert.ok(!w.checkBig(1n << 64n), 'beyond 64 bits');
  assert.ok(!w.checkBig(-1n));
});

test('random sequences agree with a plain model', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  for (let round = 0; round < 20; round++) {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let max = -1;
    let pos = 0;
    for (let i = 0; i < 5000; i++) {
      const r = rnd();
      // Mostly forward, sometimes back within or beyond the window, sometimes a jump.
      let c: number;
      if (r % 10 < 6) {
        pos += 1 + ((r >>> 8) % 4);
        c = pos;
      } else if (r % 10 < 9) c = Math.max(0, pos - ((r >>> 8) % 9000));
      else {
        pos += (r >>> 8) % 20000;
        c = pos;
      }
      const expect = !seen.has(c) && (c > max || max - c < REPLAY_WINDOW_SIZE);
      assert.equal(w.check(0, c), expect, `round ${round} step ${i} counter ${c} max ${max}`);
      if (expect) {
        seen.add(c);
        if (c > max) max = c;
      }
    }
  }
});

test('windows at an offset inside a larger shared buffer do not touch each other', () => {
  const words = new Int32Array(new SharedArrayBuffer(REPLAY_WORDS * 2 * 4));
  const a = new ReplayWindow(words, 0);
  const b = new ReplayWindow(words, REPLAY_WORDS);
  assert.ok(a.checkBig(7n));
  assert.ok(b.checkBig(7n));
  assert.ok(!a.checkBig(7n));
  b.reset();
  assert.ok(b.checkBig(7n));
  assert.ok(!a.checkBig(7n));
});

test('worker threads hammering one window accept every counter exactly once', { timeout: 60000 }, async () => {
  const total = 300_000;
  const workers = 4;
  const window = new SharedArrayBuffer(REPLAY_WORDS * 4);
  const accepted = new SharedArrayBuffer(total * 4);
  const start = new SharedArrayBuffer(4);
  const results = await new Promise<number[]>((resolve, reject) => {
    const out: number[] = [];
    for (let i = 0; i < workers; i++) {
      const data: ReplayWorkerData = { window, accepted, total, seed: i, start };
      const wk = new Worker(new URL('./replay-worker.js', import.meta.url), { workerData: data });
      wk.once('message', (n: number) => {
        out.push(n);
        if (out.length === workers) resolve(out);
      });
      wk.once('error', reject);
    }
    setTimeout(() => {
      Atomics.store(new Int32Array(start), 0, 1);
      Atomics.notify(new Int32Array(start), 0);
    }, 200);
  });
  const acc = new Int32Array(accepted);
  let bad = 0;
  for (let c = 0; c < total; c++) if (acc[c] !== 1) bad++;
  assert.equal(bad, 0, `${bad} counters not accepted exactly once`);
  assert.equal(
    results.reduce((a, b) => a + b, 0),
    total,
  );
  assert.ok(results.filter((n) => n > 0).length >= 2, `work was shared: ${results.join(',')}`);
});
