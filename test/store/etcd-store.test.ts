// The etcd store against a real etcd in a namespace of this test's own. The test runner
// cannot enter the namespace, so every client is a child process started with
// `ip netns exec`: run-case.js for the shared contract, child.js as scripted agents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { contract } from './contract.js';
import { Child, fmt, sleep } from './harness.js';
import { ensureEtcd, EtcdServer, ETCD_ADDR, ETCD_URL } from './etcd-server.js';

const RUN_CASE = fileURLToPath(new URL('./run-case.js', import.meta.url));
const etcd = new EtcdServer();
const children: Child[] = [];
let version = '';

/** A child agent inside the namespace, stopped in after() whatever happens. */
function agent(url = ETCD_URL, connectTimeoutMs?: number): Child {
  const c = new Child(url, { wrap: etcd.wrap, connectTimeoutMs });
  children.push(c);
  return c;
}

/** Runs one contract case in the namespace; resolves with its notes, rejects with its stderr. */
function runInNamespace(name: string, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', [...etcd.wrap.slice(1), process.execPath, RUN_CASE, ETCD_URL, name], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0)
        resolve(
          out
            .split('\n')
            .filter((l) => l.startsWith('note: '))
            .map((l) => l.slice(6)),
        );
      else reject(new Error(`run-case exited ${code ?? signal}:\n${err}${out}`));
    });
  });
}

/** Retries op while the client reconnects after etcd comes back. */
async function soon<T>(op: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await op();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

describe('etcd store', () => {
  before(
    async () => {
      version = ensureEtcd();
      await etcd.setup();
      version += ` (ready in ${await etcd.start()} ms, namespace ${etcd.ns})`;
    },
    { timeout: 180_000 },
  );

  after(
    async () => {
      await Promise.all(children.map((c) => c.stop()));
      await etcd.teardown();
    },
    { timeout: 20_000 },
  );

  test('etcd unreachable at start is one StoreError line within the connect timeout', {
    timeout: 15_000,
  }, async (t) => {
    const refused = agent(`etcd://${ETCD_ADDR}:2391`, 1500); // nothing listens there
    const noRoute = agent('etcd://198.18.0.9:2379'); // no such host: default 3000 ms
    const [r, n] = await Promise.all([refused.opened(), noRoute.opened()]);
    assert.equal(r.name, 'StoreError');
    assert.match(r.fatal ?? '', /^etcd:\/\/198\.18\.0\.2:2391: cannot connect within 1500 ms: \S.*$/);
    assert.ok(r.openMs >= 1400 && r.openMs < 2500, `gave up after ${r.openMs} ms`);
    assert.equal(n.name, 'StoreError');
    assert.match(n.fatal ?? '', /^etcd:\/\/198\.18\.0\.9:2379: cannot connect within 3000 ms: \S.*$/);
    assert.ok(n.openMs >= 2900 && n.openMs < 4000, `gave up after ${n.openMs} ms`);
    t.diagnostic(`etcd ${version}`);
    t.diagnostic(`${r.fatal} (after ${r.openMs} ms)`);
    t.diagnostic(`${n.fatal} (after ${n.openMs} ms)`);
  });

  test('with several hosts in the URL, a dead one is skipped', { timeout: 15_000 }, async () => {
    const c = agent(`etcd://${ETCD_ADDR}:2399,${ETCD_ADDR}:2379`); // nothing listens on 2399
    await c.ready();
    const p = `t-hosts-${process.pid}`;
    await c.call('watch', `${p}/`);
    for (let i = 0; i < 20; i++) {
      await c.call('put', `${p}/k${i}`, String(i));
      assert.equal((await c.call('get', `${p}/k${i}`)).result, String(i));
    }
    await c.until(
      () => c.events.length === 20,
      2000,
      () => `${c.events.length} events`,
    );
  });

  for (const c of contract) {
    test(`contract: ${c.name}`, { timeout: c.timeoutMs + 10_000 }, async (t) => {
      for (const note of await runInNamespace(c.name, c.timeoutMs + 5000)) t.diagnostic(note);
    });
  }

  test('a watcher rides out etcd dying and coming back, then emits exactly the differences', {
    timeout: 45_000,
  }, async (t) => {
    const writer = agent();
    const watcher = agent();
    await Promise.all([writer.ready(), watcher.ready()]);
    const p = `t-outage-${process.pid}`;
    for (const k of ['a', 'b', 'c']) await writer.call('put', `${p}/${k}`, '1');
    await watcher.call('lease', 'l', 2);
    await watcher.call('put', `${p}/leased`, 'x', 'l');
    await watcher.call('watch', `${p}/`);
    assert.deepEqual(
      watcher.events.map((x) => fmt(x.e)),
      [`+${p}/a=1`, `+${p}/b=1`, `+${p}/c=1`, `+${p}/leased=x`],
    );

    const downAt = Date.now();
    await etcd.kill();
    await watcher.until(
      () => watcher.watchErrors.length > 0,
      3000,
      () => 'onError was not called',
    );
    t.diagnostic(`onError ${Date.now() - downAt} ms after etcd died: ${watcher.watchErrors[0]}`);
    await watcher.until(
      () => watcher.lost.includes('l'),
      8000,
      () => 'the lease was not reported lost',
    );
    t.diagnostic(`lease reported lost ${Date.now() - downAt} ms after etcd died (ttl 2 s)`);

    // Freeze the watcher so that everything below happens while it is cut off.
    watcher.signal('SIGSTOP');
    t.diagnostic(`etcd restarted in ${await etcd.start()} ms`);
    await soon(() => writer.call('delete', `${p}/a`));
    await writer.call('put', `${p}/b`, '2');
    await writer.call('put', `${p}/c`, '1'); // a new revision, but the same value: not a difference
    await writer.call('put', `${p}/d`, '1');
    // etcd restores leases with a fresh TTL on restart; let this one run out so the diff is fixed
    await soon(async () => {
      if ((await writer.call('get', `${p}/leased`)).result !== undefined) throw new Error('still there');
    }, 8000);

    const n = watcher.events.length;
    assert.equal(n, 4, 'no events while frozen');
    const resumedAt = Date.now();
    watcher.signal('SIGCONT');
    await watcher.until(
      () => watcher.events.length >= n + 4,
      10_000,
      () =>
        watcher.events
          .slice(n)
          .map((x) => fmt(x.e))
          .join(' '),
    );
    t.diagnostic(`resynced ${watcher.events[n + 3]!.at - resumedAt} ms after the watcher resumed`);
    await sleep(1000);
    assert.deepEqual(
      watcher.events.slice(n).map((x) => fmt(x.e)),
      [`-${p}/a`, `-${p}/leased`, `+${p}/b=2`, `+${p}/d=1`],
    );
    assert.equal(watcher.watchErrors.length, 1, `onError once per outage: ${watcher.watchErrors.join(' | ')}`);

    // and it is live again, with the same client
    const { t: putAt } = await writer.call('put', `${p}/e`, '1');
    await watcher.until(
      () => watcher.events.length > n + 4,
      2000,
      () => 'no live event after the resync',
    );
    assert.equal(fmt(watcher.events[n + 4]!.e), `+${p}/e=1`);
    t.diagnostic(`live again: event ${watcher.events[n + 4]!.at - putAt} ms after the put`);

    await watcher.call('exit');
    assert.deepEqual(await watcher.exited, { code: 0, signal: null }, 'no crash');
    assert.deepEqual(watcher.unhandled, [], 'no unhandled rejection');
    assert.equal(watcher.stderr, '');
  });
});
