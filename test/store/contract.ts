// The behaviour every store backend must have, written once and run against the dir store
// (in the test process) and etcd (in a runner inside the test's network namespace).
// Each case works under its own random prefix so cases never see each other's keys.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openStore, StoreError, type Store } from '../../src/control/store/index.js';
import { Child, Collector, fmt, sleep } from './harness.js';

export interface ContractCtx {
  /** Opens a new client of the store under test; closed by the runner after the case. */
  open(): Promise<Store>;
  /** Starts another agent process on the same store. */
  child(): Promise<Child>;
  /** Reports a measurement (shown as a test diagnostic). */
  note(msg: string): void;
}

export interface ContractCase {
  name: string;
  timeoutMs: number;
  run(ctx: ContractCtx): Promise<void>;
}

const uniq = (tag: string): string => `t-${tag}-${randomBytes(4).toString('hex')}`;

async function rejectsStoreError(p: Promise<unknown>, mention: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof StoreError, `expected a StoreError, got ${e?.name}: ${e?.message}`);
    assert.ok(e.message.includes(mention), `message ${JSON.stringify(e.message)} should name ${mention}`);
    return true;
  });
}

export const contract: ContractCase[] = [
  {
    name: 'get, put, create, delete and list',
    timeoutMs: 10_000,
    async run(ctx) {
      const s = await ctx.open();
      const p = uniq('crud');
      assert.equal(await s.get(`${p}/a`), undefined);
      await s.put(`${p}/a`, '1');
      assert.equal(await s.get(`${p}/a`), '1');
      await s.put(`${p}/a`, '2');
      assert.equal(await s.create(`${p}/a`, 'x'), false);
      assert.equal(await s.get(`${p}/a`), '2');
      assert.equal(await s.create(`${p}/b`, 'b'), true);
      assert.equal(await s.delete(`${p}/b`), true);
      assert.equal(await s.delete(`${p}/b`), false);
      assert.equal(await s.get(`${p}/b`), undefined);
      // values are kept verbatim, including what looks like a header or JSON
      const odd = 'weft1 abc\n{"v":1}\nhé ✓\n';
      await s.put(`${p}/c/d:e@f.g`, odd);
      await s.put(`${p}/ab`, 'ab');
      assert.deepEqual(await s.list(`${p}/`), [
        { key: `${p}/a`, value: '2' },
        { key: `${p}/ab`, value: 'ab' },
        { key: `${p}/c/d:e@f.g`, value: odd },
      ]);
      // a prefix is a string prefix, as in etcd
      assert.deepEqual(
        (await s.list(`${p}/a`)).map((kv) => kv.key),
        [`${p}/a`, `${p}/ab`],
      );
      assert.deepEqual(await s.list(`${p}/a/`), []);
      assert.deepEqual(
        (await s.list(`${p}/c`)).map((kv) => kv.key),
        [`${p}/c/d:e@f.g`],
      );
      assert.deepEqual(await s.list(`${p}-none/`), []);
    },
  },
  {
    name: 'invalid keys, prefixes and TTLs are StoreErrors naming them',
    timeoutMs: 10_000,
    async run(ctx) {
      const s = await ctx.open();
      for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', '..', 'a/./b', 'a b', 'a/b?', 'ü', 'a~', 'a+b']) {
        const q = JSON.stringify(bad);
        await rejectsStoreError(s.get(bad), q);
        await rejectsStoreError(s.put(bad, 'v'), q);
        await rejectsStoreError(s.create(bad, 'v'), q);
        await rejectsStoreError(s.delete(bad), q);
      }
      for (const bad of ['/a', 'a//', '../', 'a b/']) {
        await rejectsStoreError(s.list(bad), JSON.stringify(bad));
        await rejectsStoreError(
          s.watch(bad, () => undefined),
          JSON.stringify(bad),
        );
      }
      await rejectsStoreError(s.lease(0), 'TTL 0');
    },
  },
  {
    name: "watch sees the initial state, then another process's changes within 500 ms",
    timeoutMs: 15_000,
    async run(ctx) {
      const s = await ctx.open();
      const p = uniq('watch');
      await s.put(`${p}/x`, '1');
      await s.put(`${p}/y`, '1');
      await s.put(`${p}-outside/z`, '1');
      const c = new Collector();
      const w = await s.watch(`${p}/`, c.onEvent, c.onError);
      assert.deepEqual(
        c.events.map((x) => fmt(x.e)),
        [`+${p}/x=1`, `+${p}/y=1`],
        'initial state, before watch() resolves',
      );
      const other = await ctx.child();
      const lat: number[] = [];
      const expectNext = async (op: string, args: unknown[], want: string): Promise<void> => {
        const n = c.events.length;
        const { t } = await other.call(op, ...args);
        await c.until(
          () => c.events.length > n,
          500 + 1000,
          () => `no event for ${op} ${args[0]}`,
        );
        assert.equal(fmt(c.events[n]!.e), want);
        lat.push(c.events[n]!.at - t);
      };
      await expectNext('put', [`${p}/z`, '1'], `+${p}/z=1`);
      await expectNext('put', [`${p}/x`, '2'], `+${p}/x=2`);
      await expectNext('delete', [`${p}/y`], `-${p}/y`);
      await expectNext('put', [`${p}/deep/er/key`, '{"a":1}'], `+${p}/deep/er/key={"a":1}`);
      // an unchanged re-put and a key outside the prefix are not events
      await other.call('put', `${p}/x`, '2');
      await other.call('put', `${p}-outside/z`, '2');
      await sleep(500);
      assert.equal(c.events.length, 6, c.events.map((x) => fmt(x.e)).join(' '));
      assert.ok(Math.max(...lat) < 500, `propagation took ${lat.join(', ')} ms`);
      ctx.note(`propagation to another process's watcher: ${lat.join(', ')} ms`);
      w.close();
      await other.call('put', `${p}/after-close`, '1');
      await sleep(400);
      assert.equal(c.events.length, 6, 'no events after close()');
      assert.deepEqual(c.errors, []);
    },
  },
  {
    name: 'a lease keeps its keys past the TTL; revoke removes them',
    timeoutMs: 15_000,
    async run(ctx) {
      const s = await ctx.open();
      const p = uniq('lease');
      const l = await s.lease(2);
      assert.equal(l.ttlSec, 2);
      assert.ok(l.id.length > 0);
      let lost = 0;
      l.onLost(() => lost++);
      await s.put(`${p}/node`, 'n', { lease: l });
      assert.equal(await s.create(`${p}/claim`, 'c', { lease: l }), true);
      await sleep(3500);
      assert.equal(await s.get(`${p}/node`), 'n', 'kept alive past ttl');
      assert.equal(await s.get(`${p}/claim`), 'c');
      await l.revoke();
      assert.equal(await s.get(`${p}/node`), undefined);
      assert.deepEqual(await s.list(`${p}/`), []);
      assert.equal(lost, 0, 'a revoke is not a loss');
    },
  },
  {
    name: "a SIGKILLed owner's leased keys vanish for a watcher within ttl + 1 s",
    timeoutMs: 15_000,
    async run(ctx) {
      const s = await ctx.open();
      const p = uniq('dead');
      const owner = await ctx.child();
      await owner.call('lease', 'l', 2);
      await owner.call('put', `${p}/node`, 'alive', 'l');
      await owner.call('put', `${p}/static`, 'stays');
      const c = new Collector();
      await s.watch(`${p}/`, c.onEvent, c.onError);
      assert.deepEqual(
        c.events.map((x) => fmt(x.e)),
        [`+${p}/node=alive`, `+${p}/static=stays`],
      );
      assert.equal(await s.create(`${p}/node`, 'me'), false, 'held while the owner lives');
      const killedAt = Date.now();
      owner.signal('SIGKILL');
      await owner.exited;
      await c.until(
        () => c.events.length > 2,
        3000 + 500,
        () => "the dead owner's key did not vanish",
      );
      const delay = c.events[2]!.at - killedAt;
      assert.equal(fmt(c.events[2]!.e), `-${p}/node`);
      assert.ok(delay <= 3000, `vanished ${delay} ms after the kill, ttl is 2 s`);
      ctx.note(`leased key gone ${delay} ms after its owner was killed (ttl 2 s)`);
      assert.equal(await s.get(`${p}/static`), 'stays');
      assert.equal(await s.create(`${p}/node`, 'me'), true, 'a dead owner no longer holds the key');
      await c.until(
        () => c.events.length >= 4,
        1000,
        () => 'the new claim was not seen',
      );
      await sleep(300);
      assert.deepEqual(
        c.events.slice(3).map((x) => fmt(x.e)),
        [`+${p}/node=me`],
      );
      assert.deepEqual(c.errors, []);
    },
  },
  {
    name: 'create() is atomic across 2 racing processes',
    timeoutMs: 30_000,
    async run(ctx) {
      const s = await ctx.open();
      const p = uniq('race');
      const rounds = 300;
      const keys = Array.from({ length: rounds }, (_, i) => `${p}/r${i}`);
      const [a, b] = await Promise.all([ctx.child(), ctx.child()]);
      const startAt = Date.now() + 300;
      const slotMs = 5;
      const [wa, wb] = await Promise.all([
        a!.call<number[]>('race', keys, startAt, slotMs, 'a'),
        b!.call<number[]>('race', keys, startAt, slotMs, 'b'),
      ]);
      const won = new Map<number, string>();
      for (const [who, list] of [
        ['a', wa.result],
        ['b', wb.result],
      ] as const) {
        for (const i of list) {
          assert.ok(!won.has(i), `round ${i} won by both`);
          won.set(i, who);
        }
      }
      assert.equal(won.size, rounds, 'every round has a winner');
      const kvs = await s.list(`${p}/`);
      assert.equal(kvs.length, rounds);
      for (const kv of kvs) assert.equal(kv.value, won.get(Number(kv.key.slice(p.length + 2))), kv.key);
      ctx.note(`create race: a won ${wa.result.length}, b won ${wb.result.length} of ${rounds}`);
      // both winning sometimes shows the calls really overlapped (else the test proves little)
      assert.ok(wa.result.length > 0 && wb.result.length > 0, 'one process won every round: no real race');
    },
  },
];

/** Runs one case against url, closing every store and child it opened whatever happens. */
export async function runCase(c: ContractCase, url: string, note: (msg: string) => void): Promise<void> {
  const stores: Store[] = [];
  const children: Child[] = [];
  const ctx: ContractCtx = {
    open: async () => {
      const s = await openStore(url);
      stores.push(s);
      return s;
    },
    child: async () => {
      const ch = new Child(url);
      children.push(ch);
      await ch.ready();
      return ch;
    },
    note,
  };
  try {
    await c.run(ctx);
  } finally {
    for (const s of stores) await s.close();
    await Promise.all(children.map((ch) => ch.stop()));
  }
}
