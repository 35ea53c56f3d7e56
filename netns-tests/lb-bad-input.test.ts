// Unusual and hostile frames to a VIP, injected with scapy from the client: later fragments,
// truncated L4 headers and other protocols are counted by name; IP options and first
// fragments are balanced; the LB keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, REPO, type AgentStatus } from './harness.js';
import { lbTopology, VIP4 } from './lb-topology.js';

const INJECT = join(REPO, 'netns-tests', 'tools', 'inject_vip_frames.py');

function totals(s: AgentStatus): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of s.workers)
    for (const [k, v] of Object.entries({ ...w.counters, ...w.dropReasons })) out[k] = (out[k] ?? 0) + v;
  return out;
}

test('fragments, options, truncated headers and other protocols to a VIP', { timeout: 120000 }, async () => {
  await withTopology('lbb', async (t) => {
    const { lbs, client } = await lbTopology(t, `dir:${join(t.dir, 'store')}`);
    const lb = lbs[0].agent;
    const mac = (await lb.status()).ports.find((p) => p.name === 'up0')!.mac;
    t.must(client, ['ping', '-c', '1', '-W', '2', '198.18.0.15']); // resolve the LB's MAC both ways
    const before = totals(await lb.status());
    const expected = JSON.parse(t.must(client, ['/usr/bin/python3', INJECT, 'eth0', mac, VIP4, '5'], 60000)) as Record<
      string,
      number
    >;
    await sleep(500);
    const after = totals(await lb.status());
    for (const [name, n] of Object.entries(expected))
      assert.equal((after[name] ?? 0) - (before[name] ?? 0), n, `${name}: expected ${n} more`);
    assert.equal((await lb.status()).health, 'ok');
    assert.match(
      t.must(client, ['curl', '-sS', '--max-time', '5', `http://${VIP4}/`]),
      /^(a1|a2|b1)$/,
      'still balancing',
    );
  });
});
