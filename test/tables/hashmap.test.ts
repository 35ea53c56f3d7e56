import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SharedHashMap, HASHMAP_HEADER_WORDS } from '../../src/tables/index.js';
import { scan } from './helpers.js';

const k2 = (a: number, b = 0): Int32Array => Int32Array.of(a, b);
const v3 = (a: number, b = 0, c = 0): Int32Array => Int32Array.of(a, b, c);

function get(m: SharedHashMap, key: Int32Array): number[] | undefined {
  const out = new Int32Array(m.valueWords);
  return m.lookup(key, 0, out, 0) ? Array.from(out) : undefined;
}

test('insert / lookup / update / delete', () => {
  const m = SharedHashMap.create({ keyWords: 2, valueWords: 3, capacity: 100 });
  assert.equal(m.slots, 256);
  assert.equal(get(m, k2(1, 2)), undefined);
  assert.equal(m.insert(k2(1, 2), 0, v3(10, 11, 12), 0), true);
  assert.deepEqual(get(m, k2(1, 2)), [10, 11, 12]);
  assert.equal(get(m, k2(2, 1)), undefined);
  assert.equal(m.size(), 1);
  assert.equal(m.insert(k2(1, 2), 0, v3(20, 21, 22), 0), true, 'overwrite');
  assert.equal(m.size(), 1);
  assert.deepEqual(get(m, k2(1, 2)), [20, 21, 22]);
  assert.equal(m.update(k2(1, 2), 0, v3(30), 0), true);
  assert.deepEqual(get(m, k2(1, 2)), [30, 0, 0]);
  assert.equal(m.update(k2(9, 9), 0, v3(1), 0), false, 'update of missing key');
  assert.equal(get(m, k2(9, 9)), undefined);
  assert.equal(m.delete(k2(1, 2), 0), true);
  assert.equal(m.delete(k2(1, 2), 0), false);
  assert.equal(get(m, k2(1, 2)), undefined);
  assert.equal(m.size(), 0);
});

test('unchangedSinceLookup: true until the slot read is written, false after a failed lookup', () => {
  const m = SharedHashMap.create({ keyWords: 2, valueWords: 3, capacity: 16 });
  const other = SharedHashMap.attach(m.sab);
  const out = new Int32Array(3);
  assert.equal(m.unchangedSinceLookup(), false, 'no lookup yet');
  m.insert(k2(1, 2), 0, v3(10, 11, 12), 0);
  m.insert(k2(3, 4), 0, v3(1, 1, 1), 0);
  assert.equal(m.lookup(k2(1, 2), 0, out, 0), true);
  assert.equal(m.unchangedSinceLookup(), true);
  other.insert(k2(3, 4), 0, v3(2, 2, 2), 0); // another entry: not the slot read
  assert.equal(m.unchangedSinceLookup(), true);
  other.update(k2(1, 2), 0, v3(10, 11, 13), 0); // same key, new value (another writer)
  assert.equal(m.unchangedSinceLookup(), false);
  assert.equal(m.lookup(k2(1, 2), 0, out, 0), true);
  assert.equal(m.unchangedSinceLookup(), true);
  assert.equal(m.lookup(k2(9, 9), 0, out, 0), false);
  assert.equal(m.unchangedSinceLookup(), false, 'the last lookup failed');
  assert.equal(m.lookup(k2(1, 2), 0, out, 0), true);
  other.delete(k2(1, 2), 0);
  assert.equal(m.unchangedSinceLookup(), false, 'deleted');
});

test('offsets into larger arrays, negative words, and bad input never throws', () => {
  const m = SharedHashMap.create({ keyWords: 3, valueWords: 2, capacity: 8 });
  const keys = Int32Array.of(99, -1, 0x7fffffff, -0x80000000, 99);
  assert.equal(m.insert(keys, 1, Int32Array.of(0, 7, -8), 1), true);
  const out = new Int32Array(5);
  assert.equal(m.lookup(Int32Array.of(-1, 0x7fffffff, -0x80000000), 0, out, 3), true);
  assert.deepEqual(Array.from(out), [0, 0, 0, 7, -8]);
  assert.equal(m.lookup(keys, 3, out, 0), false, 'key runs off the end');
  assert.equal(m.lookup(keys, 1, out, 4), false, 'out too short');
  assert.equal(m.lookup(keys, -1, out, 0), false);
  assert.equal(m.lookup(keys, 0.5, out, 0), false);
  assert.equal(m.insert(keys, 4, out, 0), false);
  assert.equal(m.delete(keys, 10), false);
});

test('valueWords 0 works as a set', () => {
  const m = SharedHashMap.create({ keyWords: 1, valueWords: 0, capacity: 4 });
  const e = new Int32Array(0);
  assert.equal(m.insert(Int32Array.of(5), 0, e, 0), true);
  assert.equal(m.lookup(Int32Array.of(5), 0, e, 0), true);
  assert.equal(m.lookup(Int32Array.of(6), 0, e, 0), false);
});

test('full table refuses new keys, counts them, still overwrites existing', () => {
  const m = SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 10 });
  for (let i = 0; i < 10; i++) assert.equal(m.insert(Int32Array.of(i), 0, Int32Array.of(i), 0), true);
  assert.equal(m.insert(Int32Array.of(100), 0, Int32Array.of(1), 0), false);
  assert.equal(m.insert(Int32Array.of(101), 0, Int32Array.of(1), 0), false);
  assert.equal(m.insert(Int32Array.of(3), 0, Int32Array.of(33), 0), true, 'overwrite when full');
  const s = m.stats();
  assert.equal(s.full, 2);
  assert.equal(s.size, 10);
  assert.equal(s.capacity, 10);
  assert.equal(m.delete(Int32Array.of(0), 0), true);
  assert.equal(m.insert(Int32Array.of(100), 0, Int32Array.of(1), 0), true);
});

/** Find n keys (1 word) whose home slot is `home`. */
function collide(m: SharedHashMap, home: number, n: number, start = 0): number[] {
  const probe = SharedHashMap.create({ keyWords: 1, valueWords: 0, capacity: m.capacity, maxProbe: 1 });
  const r: number[] = [];
  const e = new Int32Array(0);
  for (let k = start; r.length < n; k++) {
    // With maxProbe 1 a key only fits in its home slot; find its home by raw scan.
    probe.insert(Int32Array.of(k), 0, e, 0);
    const w = new Int32Array(probe.sab);
    for (let s = 0; s < probe.slots; s++) {
      const b = HASHMAP_HEADER_WORDS + s * probe.stride;
      if (w[b + 1] === 1 && w[b + 2] === k) {
        if (s === home) r.push(k);
        break;
      }
    }
    probe.delete(Int32Array.of(k), 0);
  }
  return r;
}

test('maxProbe: colliding keys beyond the probe limit are refused and counted', () => {
  const m = SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 48, maxProbe: 3 });
  const ks = collide(m, 5, 4);
  for (let i = 0; i < 3; i++) assert.equal(m.insert(Int32Array.of(ks[i]!), 0, Int32Array.of(i), 0), true);
  assert.equal(m.insert(Int32Array.of(ks[3]!), 0, Int32Array.of(3), 0), false);
  assert.equal(m.stats().probeExhausted, 1);
  assert.equal(m.stats().full, 0);
  for (let i = 0; i < 3; i++) assert.deepEqual(get(m, Int32Array.of(ks[i]!)), [i]);
});

test('tombstones are reused and reclaimed', () => {
  const m = SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 48 });
  const [a, b, c, d] = collide(m, 7, 4);
  for (const k of [a!, b!, c!]) m.insert(Int32Array.of(k), 0, Int32Array.of(k), 0);
  m.delete(Int32Array.of(b!), 0); // middle of chain -> tombstone
  assert.equal(scan(m).tomb, 1);
  assert.deepEqual(get(m, Int32Array.of(c!)), [c!], 'chain still reaches c past the tombstone');
  m.insert(Int32Array.of(d!), 0, Int32Array.of(d!), 0); // reuses b's tombstone
  assert.equal(scan(m).tomb, 0);
  assert.equal(scan(m).used.length, 3);
  m.delete(Int32Array.of(c!), 0); // end of chain: followed by EMPTY -> reclaimed
  m.delete(Int32Array.of(d!), 0);
  m.delete(Int32Array.of(a!), 0);
  assert.deepEqual(scan(m), { used: [], tomb: 0, oddSeq: 0 }, 'tombstone runs before EMPTY are reclaimed');
});

test('attach from the SAB sees the same data, both ways', () => {
  const m = SharedHashMap.create({ keyWords: 4, valueWords: 2, capacity: 1000, maxProbe: 7 });
  for (let i = 0; i < 500; i++) m.insert(Int32Array.of(i, -i, i * 7, 1), 0, Int32Array.of(i, i + 1), 0);
  const a = SharedHashMap.attach(m.sab);
  assert.equal(a.keyWords, 4);
  assert.equal(a.valueWords, 2);
  assert.equal(a.maxProbe, 7);
  assert.equal(a.size(), 500);
  for (let i = 0; i < 500; i++) assert.deepEqual(get(a, Int32Array.of(i, -i, i * 7, 1)), [i, i + 1]);
  a.delete(Int32Array.of(3, -3, 21, 1), 0);
  assert.equal(get(m, Int32Array.of(3, -3, 21, 1)), undefined);
  assert.throws(() => SharedHashMap.attach(new SharedArrayBuffer(1024)), /magic/);
});

test('forEach visits every entry once', () => {
  const m = SharedHashMap.create({ keyWords: 2, valueWords: 1, capacity: 64 });
  for (let i = 0; i < 50; i++) m.insert(k2(i, 1), 0, Int32Array.of(i * 2), 0);
  const seen = new Map<number, number>();
  m.forEach((k, v) => {
    seen.set(k[0]!, v[0]!);
  });
  assert.equal(seen.size, 50);
  for (let i = 0; i < 50; i++) assert.equal(seen.get(i), i * 2);
});

test('create validates options', () => {
  assert.throws(() => SharedHashMap.create({ keyWords: 0, valueWords: 1, capacity: 1 }));
  assert.throws(() => SharedHashMap.create({ keyWords: 17, valueWords: 1, capacity: 1 }));
  assert.throws(() => SharedHashMap.create({ keyWords: 1, valueWords: 33, capacity: 1 }));
  assert.throws(() => SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 0 }));
  assert.equal(SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 3 }).slots, 4);
  assert.equal(SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: 1 }).slots, 2);
});

test('property: behaves like a Map (with capacity and maxProbe refusals)', () => {
  const op = fc.tuple(fc.constantFrom('ins', 'upd', 'del', 'get'), fc.integer({ min: 0, max: 40 }), fc.integer());
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 30 }), (ops, cap) => {
      const m = SharedHashMap.create({ keyWords: 2, valueWords: 2, capacity: cap, maxProbe: 4 });
      const model = new Map<number, number>();
      const out = new Int32Array(2);
      for (const [o, k, v] of ops) {
        const key = k2(k, k ^ 0x55),
          val = Int32Array.of(v, ~v);
        if (o === 'ins') {
          const ok = m.insert(key, 0, val, 0);
          if (model.has(k)) assert.equal(ok, true);
          else if (model.size >= cap) assert.equal(ok, false);
          if (ok) model.set(k, v);
        } else if (o === 'upd') {
          assert.equal(m.update(key, 0, val, 0), model.has(k));
          if (model.has(k)) model.set(k, v);
        } else if (o === 'del') {
          assert.equal(m.delete(key, 0), model.delete(k));
        } else {
          const hit = m.lookup(key, 0, out, 0);
          assert.equal(hit, model.has(k));
          if (hit) assert.deepEqual([out[0], out[1]], [model.get(k), ~model.get(k)!]);
        }
        assert.equal(m.size(), model.size);
      }
      const s = scan(m);
      assert.equal(s.used.length, model.size);
      assert.equal(new Set(s.used).size, s.used.length);
      assert.equal(s.oddSeq, 0);
    }),
    { numRuns: 300 },
  );
});
