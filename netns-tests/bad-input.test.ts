// Malformed frames injected with scapy from an endpoint namespace: each kind is dropped
// with its own named counter, valid extension-header chains are forwarded, and the agent
// keeps forwarding good traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, twoEndpoints, sleep, REPO, type AgentStatus } from './harness.js';

const INJECT = join(REPO, 'netns-tests', 'tools', 'inject_bad_frames.py');

function dropTotals(s: AgentStatus): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of s.workers) for (const [k, v] of Object.entries(w.dropReasons)) out[k] = (out[k] ?? 0) + v;
  return out;
}

test('malformed frames are dropped by name; good traffic keeps flowing', { timeout: 90000 }, async () => {
  await withTopology('bad', async (t) => {
    const { ep1, ep2, agent } = await twoEndpoints(t);
    const routerMac = (await agent.status()).ports[0].mac;
    const before = dropTotals(await agent.status());
    const cap = t.spawn(ep2, ['tcpdump', '-n', '-l', '-i', 'eth0', 'ip6 dst host 2001:db8:19:1::20']);
    await sleep(1000);

    const expected = JSON.parse(t.must(ep1, ['/usr/bin/python3', INJECT, 'eth0', routerMac, '5'], 60000)) as Record<
      string,
      number
    >;
    assert.ok(Object.keys(expected).length >= 14, 'every malformation kind was sent');
    await sleep(500);

    const after = dropTotals(await agent.status());
    for (const [name, n] of Object.entries(expected)) {
      assert.equal((after[name] ?? 0) - (before[name] ?? 0), n, `${name}: expected ${n} more drops`);
    }
    for (let i = 0; i < 30 && (cap.output().match(/7777/g) ?? []).length < 5; i++) await sleep(100);
    assert.equal((cap.output().match(/7777/g) ?? []).length, 5, 'valid extension-header chains were forwarded');

    assert.match(t.must(ep1, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.19.1.20']), /3 received/);
    assert.match(t.must(ep1, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '2001:db8:19:1::20']), /3 received/);
    const s = await agent.status();
    assert.equal(s.health, 'ok');
    assert.ok(s.workers.every((w) => w.alive));
  });
});
