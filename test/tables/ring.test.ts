import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpscRing } from '../../src/tables/index.js';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

test('push / pop records with tags, including zero-length', () => {
  const r = SpscRing.create(256);
  const dst = new Uint8Array(100);
  assert.equal(r.pop(dst, 0), -1);
  assert.equal(r.push(bytes(5, 1), 0, 5, 7), true);
  assert.equal(r.push(bytes(0, 0), 0, 0, 0xffffffff), true);
  assert.equal(r.push(bytes(20, 3), 10, 9, 9), true);
  assert.equal(r.peek(), 5);
  assert.equal(r.pop(dst, 0), 5);
  assert.equal(r.lastTag, 7);
  assert.deepEqual(dst.subarray(0, 5), bytes(5, 1));
  assert.equal(r.pop(dst, 0), 0);
  assert.equal(r.lastTag, 0xffffffff);
  assert.equal(r.pop(dst, 50), 9);
  assert.deepEqual(dst.subarray(50, 59), bytes(20, 3).subarray(10, 19));
  assert.equal(r.pop(dst, 0), -1);
  assert.deepEqual(r.stats(), { used: 0, capacity: 256, dropped: 0 });
});

test('full ring drops and counts, never blocks', () => {
  const r = SpscRing.create(64); // records of 8..15 bytes take 24 bytes
  assert.equal(r.push(bytes(10, 0), 0, 10, 1), true);
  assert.equal(r.push(bytes(10, 0), 0, 10, 2), true);
  assert.equal(r.push(bytes(10, 0), 0, 10, 3), false);
  assert.equal(r.push(bytes(100, 0), 0, 100, 3), false, 'bigger than the ring');
  assert.equal(r.push(bytes(10, 0), 5, 10, 3), false, 'bad source range');
  assert.deepEqual(r.stats(), { used: 48, capacity: 64, dropped: 3 });
  assert.equal(r.push(bytes(8, 0), 0, 8, 4), true, 'exactly fills');
  assert.equal(r.stats().used, 64);
  const dst = new Uint8Array(16);
  assert.equal(r.pop(dst, 0), 10);
  assert.equal(r.push(bytes(10, 0), 0, 10, 5), true, 'space freed');
});

test('wrap-around with padding records; small dst keeps the record', () => {
  const r = SpscRing.create(64);
  const dst = new Uint8Array(64);
  for (let round = 0; round < 200; round++) {
    const n = (round * 7) % 25; // rec <= 32 <= (64 + 8) / 2: always fits an empty ring
    assert.equal(r.push(bytes(n, round), 0, n, round), true, `round ${round}`);
    assert.equal(r.pop(dst, 0), n);
    assert.equal(r.lastTag, round);
    assert.deepEqual(dst.subarray(0, n), bytes(n, round));
  }
  // Deterministic padding case: three 24-byte records put the head at 48 (16 bytes to the end).
  const w = SpscRing.create(64);
  for (let i = 0; i < 2; i++) {
    w.push(bytes(10, i), 0, 10, i);
    w.pop(dst, 0);
  }
  assert.equal(w.push(bytes(10, 2), 0, 10, 2), true);
  assert.equal(w.stats().used, 16 + 24, 'padding gap + record');
  assert.equal(w.peek(), 10);
  assert.equal(w.pop(dst, 0), 10);
  assert.deepEqual(dst.subarray(0, 10), bytes(10, 2));
  assert.equal(w.stats().used, 0);
  assert.equal(r.push(bytes(20, 1), 0, 20, 1), true);
  assert.equal(r.pop(new Uint8Array(10), 0), -2);
  assert.equal(r.pop(dst, 0), 20);
  assert.equal(r.stats().dropped, 0);
});

test('attach shares state', () => {
  const p = SpscRing.create(1000);
  const c = SpscRing.attach(p.sab);
  assert.equal(c.capacity, 1000);
  p.push(bytes(3, 9), 0, 3, 42);
  const dst = new Uint8Array(3);
  assert.equal(c.pop(dst, 0), 3);
  assert.equal(c.lastTag, 42);
  assert.equal(p.stats().used, 0);
});

test('property: FIFO against a queue model', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 16, max: 200 }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 90 }), fc.constant(-1)), { maxLength: 200 }),
      (cap, ops) => {
        const r = SpscRing.create(cap);
        const q: Array<[number, number]> = [];
        const dst = new Uint8Array(100);
        let seq = 0,
          dropped = 0;
        for (const op of ops) {
          if (op < 0) {
            const e = q.shift();
            const n = r.pop(dst, 0);
            if (!e) {
              assert.equal(n, -1);
              continue;
            }
            assert.equal(n, e[0]);
            assert.equal(r.lastTag, e[1]);
            assert.deepEqual(dst.subarray(0, n), bytes(n, e[1]));
          } else {
            seq++;
            if (r.push(bytes(op, seq), 0, op, seq)) q.push([op, seq]);
            else {
              dropped++;
              // An empty ring always takes a record (8-byte header + padded payload) of up to
              // (capacity + 8) / 2 bytes: worst case it wraps after a padding gap of rec - 8.
              const rec = 8 + ((op + 7) & ~7);
              if (q.length === 0) assert.ok(2 * rec - 8 > r.capacity);
            }
          }
        }
        assert.equal(r.stats().dropped, dropped);
        // Whatever is left comes out in order.
        for (const e of q) assert.equal(r.pop(dst, 0), e[0]);
        assert.equal(r.pop(dst, 0), -1);
      },
    ),
    { numRuns: 300 },
  );
});
