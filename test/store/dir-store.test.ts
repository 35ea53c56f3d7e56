// The dir store: the shared contract (with real child processes as the other agents), plus
// what only a directory can do: vanish and come back, have a lease file removed under it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, StoreError } from '../../src/control/store/index.js';
import { contract, runCase } from './contract.js';
import { Child, Collector, fmt, sleep } from './harness.js';

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'weft-dirstore-'));
const url = `dir:${tmp}/store`;
after(() => fsp.rm(tmp, { recursive: true, force: true }));

describe('dir store: contract', () => {
  for (const c of contract) {
    test(c.name, { timeout: c.timeoutMs }, (t) => runCase(c, url, (msg) => t.diagnostic(msg)));
  }
});

describe('dir store', () => {
  test('unknown or malformed URLs are StoreErrors naming the URL', { timeout: 5000 }, async () => {
    for (const bad of [
      'http://x',
      'dir:',
      '',
      'etcd://',
      'etcd://host',
      'etcd://h:1,',
      'etcd://h:1/x',
      'redis://h:1',
    ]) {
      await assert.rejects(openStore(bad), (e: Error) => {
        assert.ok(e instanceof StoreError, `${bad}: ${e}`);
        assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
        return true;
      });
    }
  });

  test('a watcher survives its directory going away and then emits exactly the differences', {
    timeout: 10_000,
  }, async () => {
    const dir = path.join(tmp, 'moving');
    const s = await openStore(`dir:${dir}`);
    try {
      for (const k of ['a', 'b', 'c']) await s.put(`n/${k}`, '1');
      const c = new Collector();
      const w = await s.watch('n/', c.onEvent, c.onError);
      await fsp.rename(dir, `${dir}.away`);
      await c.until(
        () => c.errors.length > 0,
        1000,
        () => 'no onError',
      );
      // while it is away: delete a, change b, rewrite c unchanged, add d
      const away = await openStore(`dir:${dir}.away`);
      await away.delete('n/a');
      await away.put('n/b', '2');
      await away.put('n/c', '1');
      await away.put('n/d', '1');
      await away.close();
      await sleep(500); // several failed polls: still one onError, no events
      assert.equal(c.errors.length, 1);
      assert.equal(c.events.length, 3);
      await fsp.rename(`${dir}.away`, dir);
      await c.until(
        () => c.events.length >= 6,
        1000,
        () => c.events.map((x) => fmt(x.e)).join(' '),
      );
      await sleep(400);
      assert.deepEqual(
        c.events.slice(3).map((x) => fmt(x.e)),
        ['-n/a', '+n/b=2', '+n/d=1'],
      );
      assert.equal(c.errors.length, 1);
      assert.match(c.errors[0]!.message, /unavailable/);
      w.close();
    } finally {
      await s.close();
    }
  });

  test('a lease whose file is removed under it is lost: onLost fires and it can no longer be used', {
    timeout: 10_000,
  }, async () => {
    const s = await openStore(url);
    try {
      const l = await s.lease(1);
      await s.put('lost/k', 'v', { lease: l });
      const fired = new Promise<number>((r) => l.onLost(() => r(Date.now())));
      const t0 = Date.now();
      await fsp.rm(path.join(tmp, 'store', '+leases', l.id));
      const at = await fired;
      assert.ok(at - t0 < 1000, `onLost after ${at - t0} ms`);
      assert.equal(await s.get('lost/k'), undefined);
      await assert.rejects(s.put('lost/k', 'v', { lease: l }), StoreError);
      let late = false;
      l.onLost(() => {
        late = true;
      });
      await sleep(10);
      assert.ok(late, 'onLost registered after the loss still fires');
    } finally {
      await s.close();
    }
  });

  test("a dead owner's key is reaped by a plain get/list, with no watcher running", { timeout: 10_000 }, async () => {
    const owner = new Child(url);
    const s = await openStore(url);
    try {
      await owner.ready();
      await owner.call('lease', 'l', 1);
      await owner.call('put', 'reap/k', 'v', 'l');
      owner.signal('SIGKILL');
      await owner.exited;
      assert.equal(await s.get('reap/k'), 'v', 'still within its ttl');
      await sleep(1200);
      assert.deepEqual(await s.list('reap/'), []);
      await assert.rejects(fsp.access(path.join(tmp, 'store', 'reap', 'k~')), 'the file itself is gone');
    } finally {
      await owner.stop();
      await s.close();
    }
  });

  test('values are files a person can read; a hand-written file is a value too', { timeout: 5000 }, async () => {
    const s = await openStore(url);
    try {
      await s.put('hand/a', '{"x":1}');
      assert.equal(await fsp.readFile(path.join(tmp, 'store', 'hand', 'a~'), 'utf8'), 'weft1 -\n{"x":1}');
      await fsp.writeFile(path.join(tmp, 'store', 'hand', 'b~'), '{"y":2}');
      assert.deepEqual(await s.list('hand/'), [
        { key: 'hand/a', value: '{"x":1}' },
        { key: 'hand/b', value: '{"y":2}' },
      ]);
    } finally {
      await s.close();
    }
  });
});
