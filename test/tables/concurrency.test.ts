// Real worker_threads hammering the shared tables while other threads write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { SharedHashMap, PrefixTable, SpscRing, HASHMAP_HEADER_WORDS } from '../../src/tables/index.js';
import { addrWord, keyTag, routeTag, scan } from './helpers.js';
import type { ReaderData, ReaderResult } from './reader-worker.js';
import type { WriterData, WriterResult } from './writer-worker.js';
import { recLen, type RingData } from './ring-worker.js';

const RUN_MS = 1500;

/** Start workers, wait until all are running, run `body` (the main thread's part), then stop them. */
async function withWorkers<R>(
  script: string,
  datas: object[],
  ctrl: Int32Array,
  body: () => void | Promise<void>,
): Promise<R[]> {
  const ready: Promise<void>[] = [],
    done: Promise<R>[] = [];
  for (const d of datas) {
    const w = new Worker(new URL(script, import.meta.url), { workerData: d });
    let onReady!: () => void;
    ready.push(
      new Promise<void>((res) => {
        onReady = res;
      }),
    );
    done.push(
      new Promise<R>((res, rej) => {
        w.on('message', (m: unknown) => {
          if (m === 'ready') onReady();
          else res(m as R);
        });
        w.on('error', (e) => {
          onReady();
          rej(e);
        });
        w.on('exit', (code) => {
          onReady();
          rej(new Error(`worker exited with ${code} before reporting`));
        });
      }),
    );
  }
  await Promise.all(ready);
  try {
    await body();
  } finally {
    Atomics.store(ctrl, 0, 1);
  }
  return Promise.all(done);
}

function sum<T>(rs: T[], f: (r: T) => number): number {
  return rs.reduce((a, r) => a + f(r), 0);
}

test('hashmap: 2 reader workers never see a torn value while main rewrites/deletes/re-inserts', {
  timeout: 20000,
}, async () => {
  const N = 32,
    VW = 8;
  const m = SharedHashMap.create({ keyWords: 2, valueWords: VW, capacity: 64 });
  const ctrl = new Int32Array(new SharedArrayBuffer(4));
  const key = new Int32Array(2),
    val = new Int32Array(VW);
  const set = (k: number, g: number): void => {
    key[0] = k;
    key[1] = ~k;
    val.fill(g);
    val[VW - 1] = keyTag(k);
  };
  let gen = 0;
  for (let k = 0; k < N; k++) {
    set(k, ++gen);
    assert.ok(m.insert(key, 0, val, 0));
  }
  let writes = 0,
    deletes = 0;
  const data: ReaderData = { mode: 'hash', sab: m.sab, ctrl: ctrl.buffer as SharedArrayBuffer, nKeys: N, probes: [] };
  const rs = await withWorkers<ReaderResult>('./reader-worker.js', [data, data], ctrl, () => {
    const end = Date.now() + RUN_MS;
    while (Date.now() < end) {
      for (let j = 0; j < 64; j++, writes++) {
        const k = writes % N;
        set(k, ++gen);
        const r = gen & 15;
        if (r === 0) {
          assert.ok(m.delete(key, 0));
          deletes++;
          assert.ok(m.insert(key, 0, val, 0));
        } else if (r < 8) assert.ok(m.update(key, 0, val, 0));
        else assert.ok(m.insert(key, 0, val, 0));
      }
    }
  });
  const hits = sum(rs, (r) => r.hits);
  console.log(
    `hashmap readers: ${JSON.stringify(rs.map(({ lens, lost, ...r }) => r))}, writes=${writes} deletes=${deletes}, ` +
      `stats=${JSON.stringify(m.stats())}`,
  );
  assert.equal(
    sum(rs, (r) => r.torn),
    0,
    'torn reads',
  );
  assert.equal(
    sum(rs, (r) => r.backwards),
    0,
    'generation went backwards',
  );
  assert.ok(hits > 100000, `hits ${hits}`);
  assert.ok(writes > 10000, `writes ${writes}`);
  const s = scan(m);
  assert.equal(s.used.length, N);
  assert.equal(m.size(), N);
  assert.equal(s.oddSeq, 0);
});

// Routes: [family, address bytes, prefixLen]. Values are [len, gen, gen, routeTag(...)].
type Route = [4 | 6, number[], number];
const V6 = (...g: number[]): number[] => {
  const b: number[] = [];
  for (let i = 0; i < 8; i++) b.push((g[i] ?? 0) >> 8, (g[i] ?? 0) & 255);
  return b;
};
const PERMANENT: Route[] = [
  [4, [10, 0, 0, 0], 8],
  [6, V6(0x2001, 0xdb8), 32],
];
const DYNAMIC: Route[] = [
  [4, [10, 1, 0, 0], 16],
  [4, [10, 1, 2, 0], 24],
  [4, [10, 1, 2, 0], 25],
  [4, [10, 1, 2, 128], 25],
  [4, [10, 1, 2, 3], 32],
  [4, [10, 0, 0, 0], 12],
  [4, [10, 1, 2, 64], 26],
  [4, [10, 9, 0, 0], 16],
  [6, V6(0x2001, 0xdb8, 1), 48],
  [6, V6(0x2001, 0xdb8, 1, 2), 64],
  [6, V6(0x2001, 0xdb8, 1, 2), 100],
  [6, V6(0x2001, 0xdb8, 1, 2, 0, 0, 0, 5), 128],
  [6, V6(0x2001, 0xdb8), 40],
  [6, V6(0x2001, 0xdb8, 1, 3), 64],
];
const PROBES: { family: 4 | 6; addr: number[] }[] = [
  { family: 4, addr: [10, 1, 2, 3] },
  { family: 4, addr: [10, 1, 2, 100] },
  { family: 4, addr: [10, 1, 2, 200] },
  { family: 4, addr: [10, 1, 3, 1] },
  { family: 4, addr: [10, 9, 9, 9] },
  { family: 4, addr: [10, 0, 1, 1] },
  { family: 6, addr: V6(0x2001, 0xdb8, 1, 2, 0, 0, 0, 5) },
  { family: 6, addr: V6(0x2001, 0xdb8, 1, 2, 0, 0, 0, 6) },
  { family: 6, addr: V6(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1) },
  { family: 6, addr: V6(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1) },
];

test('prefix table: readers stay consistent while control adds/removes routes and lengths', {
  timeout: 20000,
}, async () => {
  const t = PrefixTable.create({ capacity: 64, valueWords: 4 });
  const ctrl = new Int32Array(new SharedArrayBuffer(4));
  let gen = 0;
  const value = (r: Route): Int32Array => {
    const b = Uint8Array.from(r[1]);
    gen++;
    return Int32Array.of(
      r[2],
      gen,
      gen,
      routeTag(r[0], r[2], addrWord(b, 0), addrWord(b, 1), addrWord(b, 2), addrWord(b, 3)),
    );
  };
  for (const r of PERMANENT) assert.ok(t.insert(r[0], Uint8Array.from(r[1]), r[2], value(r)));
  const present = DYNAMIC.map(() => false);
  let ops = 0,
    lengthChanges = 0,
    x = 12345;
  const data: ReaderData = {
    mode: 'prefix',
    sab: t.sab,
    ctrl: ctrl.buffer as SharedArrayBuffer,
    nKeys: 0,
    probes: PROBES,
  };
  const rs = await withWorkers<ReaderResult>('./reader-worker.js', [data, data], ctrl, () => {
    const end = Date.now() + RUN_MS;
    while (Date.now() < end) {
      for (let j = 0; j < 32; j++, ops++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        const i = (x >>> 0) % DYNAMIC.length,
          r = DYNAMIC[i]!,
          addr = Uint8Array.from(r[1]);
        const before = t.lengths(r[0]).length;
        if (present[i] && x >>> 28 < 5)
          assert.ok(t.insert(r[0], addr, r[2], value(r))); // overwrite
        else if (present[i]) {
          assert.ok(t.delete(r[0], addr, r[2]));
          present[i] = false;
        } else {
          assert.ok(t.insert(r[0], addr, r[2], value(r)));
          present[i] = true;
        }
        if (t.lengths(r[0]).length !== before) lengthChanges++;
      }
    }
  });
  const hits = sum(rs, (r) => r.hits);
  console.log(`prefix stats=${JSON.stringify(t.stats())}`);
  console.log(
    `prefix readers: ${JSON.stringify(rs.map(({ misses, backwards, ...r }) => r))}, ops=${ops} ` +
      `lengthChanges=${lengthChanges}`,
  );
  assert.equal(
    sum(rs, (r) => r.torn),
    0,
    'inconsistent match',
  );
  assert.equal(
    sum(rs, (r) => r.lost),
    0,
    'permanent route missed',
  );
  assert.ok(hits > 100000, `hits ${hits}`);
  assert.ok(lengthChanges > 1000, `lengthChanges ${lengthChanges}`);
  // Final state matches what the control thread believes.
  for (const fam of [4, 6] as const) {
    const want = [
      ...new Set([...PERMANENT, ...DYNAMIC.filter((_, i) => present[i])].filter((r) => r[0] === fam).map((r) => r[2])),
    ];
    assert.deepEqual(
      t.lengths(fam),
      want.sort((a, b) => b - a),
    );
  }
  assert.equal(t.size(), PERMANENT.length + present.filter(Boolean).length);
});

test('hashmap: 2 writer workers on overlapping keys keep the map invariants', { timeout: 20000 }, async () => {
  const N = 64;
  const m = SharedHashMap.create({ keyWords: 2, valueWords: 4, capacity: 48 });
  const ctrl = new Int32Array(new SharedArrayBuffer(4));
  const datas: WriterData[] = [0, 1].map((id) => ({
    sab: m.sab,
    ctrl: ctrl.buffer as SharedArrayBuffer,
    id,
    nKeys: N,
  }));
  const rs = await withWorkers<WriterResult>('./writer-worker.js', datas, ctrl, () => sleep(RUN_MS));
  console.log(`writers: ${JSON.stringify(rs)}, stats=${JSON.stringify(m.stats())}`);
  assert.equal(
    sum(rs, (r) => r.torn),
    0,
  );
  assert.ok(sum(rs, (r) => r.inserts + r.updates + r.deletes) > 100000);
  const s = scan(m);
  assert.equal(new Set(s.used).size, s.used.length, 'duplicate keys');
  assert.equal(m.size(), s.used.length, 'size counter != used slots');
  assert.ok(m.size() <= 48);
  assert.equal(s.oddSeq, 0, 'slot left locked');
  assert.equal(new Int32Array(m.sab, 0, HASHMAP_HEADER_WORDS)[16], 0, 'table lock left held');
  const key = new Int32Array(2),
    out = new Int32Array(4);
  for (const kstr of s.used) {
    const [a, b] = kstr.split(',').map(Number);
    key[0] = a!;
    key[1] = b!;
    assert.equal(b, ~a!);
    assert.ok(m.lookup(key, 0, out, 0), `used key ${kstr} not reachable by lookup`);
    assert.equal(out[0], keyTag(a!));
    assert.equal(out[2], out[3]);
  }
  // Every key not in a slot must miss.
  for (let k = 0; k < N; k++) {
    key[0] = k;
    key[1] = ~k;
    assert.equal(m.lookup(key, 0, out, 0), s.used.includes(`${k},${~k}`));
  }
});

test('ring: a producer worker and the main-thread consumer move 200k records intact and in order', {
  timeout: 20000,
}, async () => {
  const COUNT = 200000;
  const ring = SpscRing.create(4096); // small, so it wraps and fills constantly
  const ctrl = new Int32Array(new SharedArrayBuffer(4));
  const data: RingData = { sab: ring.sab, ctrl: ctrl.buffer as SharedArrayBuffer, count: COUNT };
  let got = 0,
    bad = 0,
    empty = 0;
  const [r] = await withWorkers<{ fullRetries: number }>('./ring-worker.js', [data], ctrl, () => {
    const dst = new Uint8Array(512),
      end = Date.now() + 15000;
    while (got < COUNT && Date.now() < end) {
      const off = got & 3,
        n = ring.pop(dst, off);
      if (n < 0) {
        empty++;
        continue;
      }
      let ok = n === recLen(got) && ring.lastTag === got;
      for (let i = 0; i < n && ok; i++) if (dst[off + i] !== ((got + i) & 255)) ok = false;
      if (!ok) bad++;
      got++;
    }
  });
  console.log(
    `ring: got=${got} bad=${bad} empty=${empty} producerFullRetries=${r!.fullRetries} ` +
      `stats=${JSON.stringify(ring.stats())}`,
  );
  assert.equal(got, COUNT);
  assert.equal(bad, 0);
  assert.equal(ring.stats().used, 0);
  assert.equal(ring.stats().dropped, r!.fullRetries, 'every refused push was counted');
});
