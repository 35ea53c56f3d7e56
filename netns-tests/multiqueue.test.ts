// Two queues, two pinned workers: parallel TCP streams spread over both workers, and
// numbered UDP datagrams over many flows each arrive exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, twoEndpoints, sleep, REPO } from './harness.js';

const UDP_SEQ = join(REPO, 'dist', 'netns-tests', 'tools', 'udp-seq.js');

test('iperf3 -P 4 spreads over both workers; every UDP datagram arrives once', { timeout: 90000 }, async () => {
  await withTopology('mq', async (t) => {
    const { ep1, ep2, agent } = await twoEndpoints(t, { workers: 2 });
    const before = await agent.status();
    assert.equal(before.workers.length, 2);
    assert.deepEqual(
      before.ports.map((p) => p.queues),
      [2, 2],
    );
    assert.deepEqual(
      before.workers.map((w) => w.cpu),
      [0, 1],
    );

    // The kernel picks a TAP queue by flow hash, so four flows all land on one queue with
    // probability 1/8; a fresh run draws new source ports, so three tries make that 1/512.
    let rx: number[] = [];
    let after = before;
    for (let attempt = 0; attempt < 3; attempt++) {
      const start = await agent.status();
      t.spawn(ep2, ['iperf3', '-s', '-1']);
      await sleep(500);
      const out = JSON.parse(t.must(ep1, ['iperf3', '-c', '198.19.1.20', '-P', '4', '-t', '2', '-J'], 30000)) as {
        end: { sum_received: { bytes: number } };
      };
      assert.ok(out.end.sum_received.bytes > 1_000_000);
      after = await agent.status();
      rx = after.workers.map((w, i) => w.rx - start.workers[i].rx);
      if (Math.min(...rx) > (rx[0] + rx[1]) * 0.05) break;
    }
    // Each worker must carry a real share of the flows.
    assert.ok(
      Math.min(...rx) > (rx[0] + rx[1]) * 0.05,
      `per-worker rx ${rx.join(' / ')}: one worker idle in three runs`,
    );

    const count = 20000;
    for (const [dst, fam] of [
      ['198.19.1.20', '4'],
      ['2001:db8:19:1::20', '6'],
    ]) {
      const recv = t.spawn(ep2, ['node', UDP_SEQ, 'recv', '9000', String(count), fam]);
      for (let i = 0; i < 50 && !recv.output().includes('ready'); i++) await sleep(100);
      t.must(ep1, ['node', UDP_SEQ, 'send', dst, '9000', String(count), '16'], 60000);
      for (let i = 0; i < 100 && !recv.output().includes('received'); i++) await sleep(100);
      const res = JSON.parse(
        recv
          .output()
          .split('\n')
          .find((l) => l.startsWith('{')) ?? '{}',
      ) as { received: number; duplicates: number; missing: number };
      assert.equal(res.duplicates, 0, `IPv${fam}: duplicates`);
      assert.equal(res.missing, 0, `IPv${fam}: missing`);
      assert.equal(res.received, count);
    }
    const end = await agent.status();
    assert.ok(
      end.workers.every((w, i) => w.rx > after.workers[i].rx),
      'UDP flows used both workers',
    );
  });
});
