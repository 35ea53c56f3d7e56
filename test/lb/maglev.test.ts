// Maglev: identical to Cilium's tables (reference computed independently in C from the
// published algorithm: test/fixtures/lb/maglev_ref.c), even spread, minimal disruption,
// weights, and MurmurHash3 test vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildMaglevTable,
  maglevSeed,
  sortBackends,
  backendName,
  checkTableSize,
  MaglevError,
  MAGLEV_DEFAULT_SEED,
} from '../../src/lb/maglev.js';
import { murmur3x64_128 } from '../../src/lb/murmur3.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/lb/maglev.json', import.meta.url));
const enc = new TextEncoder();

test('MurmurHash3_x64_128 test vectors', () => {
  assert.deepEqual(murmur3x64_128(new Uint8Array(0), 0), [0n, 0n]);
  assert.deepEqual(murmur3x64_128(enc.encode('hello'), 0), [0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n]);
  // 16-byte blocks plus every tail length exercise both halves of the tail handling.
  const h = murmur3x64_128(enc.encode('The quick brown fox jumps over the lazy dog'), 0);
  assert.deepEqual(h, [0xe34bbc7bbc071b6cn, 0x7a433ca9c49a9347n]);
});

test('tables equal the reference (Cilium 1.10 algorithm) for every fixture', () => {
  const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Array<{
    name: string;
    seed: string;
    m: number;
    backends: string[];
    table: number[];
  }>;
  assert.ok(cases.length >= 4);
  for (const c of cases) {
    const backends = sortBackends(c.backends.map((name) => ({ name, weight: 1 })));
    assert.deepEqual(
      backends.map((b) => b.name),
      c.backends,
      `${c.name}: sorted as Go sorts strings`,
    );
    const t = buildMaglevTable(backends, c.m, maglevSeed(c.seed));
    assert.deepEqual(Array.from(t), c.table, c.name);
  }
});

test('equal weights: every backend gets floor(M/N) or ceil(M/N) slots', () => {
  const seed = maglevSeed(MAGLEV_DEFAULT_SEED);
  for (const [n, m] of [
    [3, 251],
    [7, 1021],
    [100, 16381],
    [1000, 65521],
  ]) {
    const b = sortBackends(
      Array.from({ length: n }, (_, i) => ({ name: backendName(`198.18.${i >> 8}.${i & 255}`, 80), weight: 1 })),
    );
    const t = buildMaglevTable(b, m, seed);
    const count = new Array<number>(n).fill(0);
    for (const e of t) count[e]++;
    for (const c of count)
      assert.ok(c === Math.floor(m / n) || c === Math.ceil(m / n), `N=${n} M=${m}: a backend got ${c}`);
  }
});

test('removing 1 of N backends moves at most 1/N + 1 % of the other slots', () => {
  const seed = maglevSeed(MAGLEV_DEFAULT_SEED);
  for (const [n, m] of [
    [5, 1021],
    [10, 16381],
    [50, 16381],
  ]) {
    const all = sortBackends(
      Array.from({ length: n }, (_, i) => ({ name: backendName(`198.19.${i}.10`, 8080), weight: 1 })),
    );
    const before = buildMaglevTable(all, m, seed);
    for (const gone of [0, Math.floor(n / 2), n - 1]) {
      const rest = all.filter((_, i) => i !== gone);
      const after = buildMaglevTable(rest, m, seed);
      let moved = 0;
      let others = 0;
      for (let s = 0; s < m; s++) {
        if (before[s] === gone) continue;
        others++;
        if (rest[after[s]].name !== all[before[s]].name) moved++;
      }
      assert.ok(moved / others <= 1 / n + 0.01, `N=${n} M=${m} removing #${gone}: ${moved}/${others} moved`);
    }
  }
});

test('weights: shares follow weights; weight 0 drains a backend', () => {
  const seed = maglevSeed(MAGLEV_DEFAULT_SEED);
  const b = sortBackends([
    { name: '198.19.1.1:80', weight: 1 },
    { name: '198.19.1.2:80', weight: 2 },
    { name: '198.19.1.3:80', weight: 3 },
    { name: '198.19.1.4:80', weight: 0 },
  ]);
  const t = buildMaglevTable(b, 16381, seed);
  const count = [0, 0, 0, 0];
  for (const e of t) count[e]++;
  assert.equal(count[3], 0, 'weight 0 gets no slot');
  for (const i of [0, 1, 2])
    assert.ok(Math.abs(count[i] / 16381 - b[i].weight / 6) < 0.01, `backend ${i}: ${count[i]} slots`);
  assert.deepEqual(
    Array.from(
      buildMaglevTable(
        b.map((x) => ({ ...x, weight: 0 })),
        251,
        seed,
      ),
    ).every((e) => e === -1),
    true,
    'no weight at all: empty table',
  );
});

test('bad seeds and sizes are clear errors', () => {
  assert.throws(() => maglevSeed('short'), MaglevError);
  assert.throws(() => maglevSeed('JLfvgnHc2kaSUFa!'), /not 12 bytes of base64/);
  assert.throws(() => checkTableSize(1000), /1000 is not one of 251, 509/);
  assert.doesNotThrow(() => checkTableSize(65521));
});

test('weft lb maglev prints the reference table, one index per line', async () => {
  const { spawnSync } = await import('node:child_process');
  const cli = fileURLToPath(new URL('../../src/cli/weft.js', import.meta.url));
  const c = (
    JSON.parse(readFileSync(FIXTURE, 'utf8')) as Array<{ m: number; seed: string; backends: string[]; table: number[] }>
  )[0];
  const r = spawnSync(
    process.execPath,
    [cli, 'lb', 'maglev', '--table-size', String(c.m), '--seed', c.seed, ...[...c.backends].reverse()],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map(Number), c.table);
  assert.match(r.stderr, /^# 0 198\.19\.1\.10:8080$/m);
  const bad = spawnSync(process.execPath, [cli, 'lb', 'maglev', '--table-size', '1000', '198.19.1.1:80'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /table size 1000 is not one of/);
});
