import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PrefixTable } from '../../src/tables/index.js';

const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
function v6(s: string): Uint8Array {
  const [l, r] = s.includes('::') ? s.split('::') : [s, undefined];
  const hl = l ? l.split(':') : [],
    hr = r ? r.split(':') : [];
  const groups = r === undefined ? hl : [...hl, ...Array(8 - hl.length - hr.length).fill('0'), ...hr];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    b[2 * i] = n >> 8;
    b[2 * i + 1] = n & 255;
  });
  return b;
}
const val = (n: number): Int32Array => Int32Array.of(n, -n);

function lpm(t: PrefixTable, fam: 4 | 6, addr: Uint8Array): [number, number] {
  const out = new Int32Array(t.valueWords);
  const len = t.lookup(fam, addr, 0, out);
  return [len, len < 0 ? NaN : out[0]!];
}

test('IPv4 longest match with overlapping /0 /8 /16 /24 /32', () => {
  const t = PrefixTable.create({ capacity: 64, valueWords: 2 });
  assert.deepEqual(lpm(t, 4, v4('10.1.2.3')), [-1, NaN], 'empty table');
  for (const [p, l] of [
    ['0.0.0.0', 0],
    ['10.0.0.0', 8],
    ['10.1.0.0', 16],
    ['10.1.2.0', 24],
    ['10.1.2.3', 32],
  ] as const) {
    assert.equal(t.insert(4, v4(p), l, val(100 + l)), true);
  }
  assert.deepEqual(t.lengths(4), [32, 24, 16, 8, 0]);
  assert.deepEqual(lpm(t, 4, v4('10.1.2.3')), [32, 132]);
  assert.deepEqual(lpm(t, 4, v4('10.1.2.4')), [24, 124]);
  assert.deepEqual(lpm(t, 4, v4('10.1.3.3')), [16, 116]);
  assert.deepEqual(lpm(t, 4, v4('10.2.2.3')), [8, 108]);
  assert.deepEqual(lpm(t, 4, v4('11.1.2.3')), [0, 100]);
  assert.deepEqual(lpm(t, 6, v6('::a01:203')), [-1, NaN], 'families are separate');
  const out = new Int32Array(2);
  assert.equal(t.lookup(4, v4('10.1.2.3'), 0, out), 32);
  assert.deepEqual(Array.from(out), [132, -132]);
});

test('IPv6 longest match with /0 /32 /48 /64 /128', () => {
  const t = PrefixTable.create({ capacity: 64, valueWords: 1 });
  const routes = [
    ['::', 0],
    ['2001:db8::', 32],
    ['2001:db8:1::', 48],
    ['2001:db8:1:2::', 64],
    ['2001:db8:1:2::99', 128],
  ] as const;
  for (const [p, l] of routes) assert.equal(t.insert(6, v6(p), l, Int32Array.of(l)), true);
  assert.deepEqual(t.lengths(6), [128, 64, 48, 32, 0]);
  assert.deepEqual(t.lengths(4), []);
  assert.deepEqual(lpm(t, 6, v6('2001:db8:1:2::99')), [128, 128]);
  assert.deepEqual(lpm(t, 6, v6('2001:db8:1:2::98')), [64, 64]);
  assert.deepEqual(lpm(t, 6, v6('2001:db8:1:3::99')), [48, 48]);
  assert.deepEqual(lpm(t, 6, v6('2001:db8:2::')), [32, 32]);
  assert.deepEqual(lpm(t, 6, v6('2001:db9::')), [0, 0]);
  assert.deepEqual(lpm(t, 4, v4('1.2.3.4')), [-1, NaN]);
});

test('lookup reads the address straight out of packet bytes at an offset', () => {
  const t = PrefixTable.create({ capacity: 8, valueWords: 1 });
  t.insert(4, v4('192.168.0.0'), 16, Int32Array.of(7));
  t.insert(6, v6('fe80::'), 10, Int32Array.of(9));
  const pkt = new Uint8Array(40);
  pkt.set(v4('192.168.5.6'), 16);
  const out = new Int32Array(1);
  assert.equal(t.lookup(4, pkt, 16, out), 16);
  assert.equal(out[0], 7);
  pkt.set(v6('febf::1'), 24);
  assert.equal(t.lookup(6, pkt, 24, out), 10);
  assert.equal(out[0], 9);
  // Bad input: never throws, just misses.
  assert.equal(t.lookup(6, pkt, 25, out), -1, 'runs off the end');
  assert.equal(t.lookup(4, pkt, -1, out), -1);
  assert.equal(t.lookup(5 as 4, pkt, 0, out), -1);
  assert.equal(t.lookup(4, pkt, 16, new Int32Array(0)), -1, 'out too small');
});

test('host bits are masked off; invalid prefix lengths are refused', () => {
  const t = PrefixTable.create({ capacity: 8, valueWords: 1 });
  assert.equal(t.insert(4, v4('10.1.2.3'), 8, Int32Array.of(1)), true);
  assert.equal(t.insert(4, v4('10.9.9.9'), 8, Int32Array.of(2)), true, 'same /8: overwrite');
  assert.equal(t.size(), 1);
  assert.deepEqual(
    t.entries().map((e) => [e.family, Array.from(e.addr), e.prefixLen, e.value[0]]),
    [[4, [10, 0, 0, 0], 8, 2]],
  );
  assert.equal(t.insert(4, v4('10.0.0.0'), 33, Int32Array.of(1)), false);
  assert.equal(t.insert(4, v4('10.0.0.0'), -1, Int32Array.of(1)), false);
  assert.equal(t.insert(6, v6('::'), 129, Int32Array.of(1)), false);
  assert.equal(t.insert(6, v4('10.0.0.0'), 8, Int32Array.of(1)), false, 'short address');
  assert.equal(t.insert(4, v4('10.0.0.0'), 8, new Int32Array(0)), false, 'short value');
  assert.equal(t.delete(4, v4('10.200.0.0'), 8), true, 'delete also masks');
  assert.equal(t.size(), 0);
});

test('delete removes lengths only when their last entry goes; attach sees all', () => {
  const t = PrefixTable.create({ capacity: 16, valueWords: 1 });
  t.insert(4, v4('10.0.0.0'), 24, Int32Array.of(1));
  t.insert(4, v4('10.0.1.0'), 24, Int32Array.of(2));
  t.insert(4, v4('10.0.0.0'), 16, Int32Array.of(3));
  t.insert(4, v4('10.0.0.0'), 24, Int32Array.of(4)); // overwrite: refcount unchanged
  const w = PrefixTable.attach(t.sab);
  assert.deepEqual(w.lengths(4), [24, 16]);
  assert.deepEqual(lpm(w, 4, v4('10.0.0.9')), [24, 4]);
  assert.equal(t.delete(4, v4('10.0.0.0'), 24), true);
  assert.deepEqual(w.lengths(4), [24, 16], 'one /24 left');
  assert.deepEqual(lpm(w, 4, v4('10.0.0.9')), [16, 3]);
  assert.equal(t.delete(4, v4('10.0.1.0'), 24), true);
  assert.deepEqual(t.lengths(4), [16]);
  assert.equal(t.delete(4, v4('10.0.1.0'), 24), false);
  assert.equal(w.delete(4, v4('10.0.0.0'), 16), true);
  assert.deepEqual(t.lengths(4), []);
  assert.deepEqual(lpm(t, 4, v4('10.0.0.9')), [-1, NaN]);
});

test('full table refuses and leaves no stray length', () => {
  const t = PrefixTable.create({ capacity: 2, valueWords: 1 });
  assert.equal(t.insert(4, v4('1.0.0.0'), 8, Int32Array.of(1)), true);
  assert.equal(t.insert(4, v4('2.0.0.0'), 8, Int32Array.of(1)), true);
  assert.equal(t.insert(4, v4('3.3.0.0'), 16, Int32Array.of(1)), false);
  assert.deepEqual(t.lengths(4), [8]);
  assert.equal(t.stats().full, 1);
});

test('property: matches a brute-force longest-prefix match (IPv4 and IPv6)', () => {
  const bit = (a: Uint8Array, i: number): number => (a[i >> 3]! >> (7 - (i & 7))) & 1;
  const covers = (p: Uint8Array, l: number, a: Uint8Array): boolean => {
    for (let i = 0; i < l; i++) if (bit(p, i) !== bit(a, i)) return false;
    return true;
  };
  // Few distinct high bits so prefixes overlap a lot.
  const addr = (n: number) =>
    fc.array(fc.constantFrom(0, 1, 128, 255), { minLength: n, maxLength: n }).map((x) => Uint8Array.from(x));
  const route = fc.oneof(
    fc.tuple(fc.constant(4 as const), addr(4), fc.integer({ min: 0, max: 32 }), fc.boolean()),
    fc.tuple(fc.constant(6 as const), addr(16), fc.integer({ min: 0, max: 128 }), fc.boolean()),
  );
  fc.assert(
    fc.property(
      fc.array(route, { maxLength: 60 }),
      fc.array(fc.oneof(addr(4), addr(16)), { maxLength: 20 }),
      (ops, probes) => {
        const t = PrefixTable.create({ capacity: 100, valueWords: 1 });
        const model = new Map<string, { f: 4 | 6; a: Uint8Array; l: number; v: number }>();
        ops.forEach(([f, a, l, del], i) => {
          const m = Uint8Array.from(a, (b, j) =>
            j * 8 >= l ? 0 : j * 8 + 8 <= l ? b : b & (0xff << (8 - (l - j * 8))),
          );
          const key = `${f}/${m.join('.')}/${l}`;
          if (del) assert.equal(t.delete(f, a, l), model.delete(key));
          else {
            assert.equal(t.insert(f, a, l, Int32Array.of(i)), true);
            model.set(key, { f, a: m, l, v: i });
          }
        });
        for (const a of probes) {
          const f = a.length === 4 ? 4 : 6;
          let best: { l: number; v: number } | undefined;
          for (const r of model.values()) if (r.f === f && covers(r.a, r.l, a) && (!best || r.l > best.l)) best = r;
          const out = new Int32Array(1);
          const got = t.lookup(f, a, 0, out);
          assert.equal(got, best ? best.l : -1);
          if (best) assert.equal(out[0], best.v);
        }
        const lens4 = [...new Set([...model.values()].filter((r) => r.f === 4).map((r) => r.l))].sort((x, y) => y - x);
        assert.deepEqual(t.lengths(4), lens4);
        assert.equal(t.entries().length, model.size);
      },
    ),
    { numRuns: 200 },
  );
});
