// The agent's life: clear errors on bad config, a readable `weft status`, and SIGTERM
// stopping the workers and removing every TAP it created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTopology, twoEndpoints, WEFT, toYaml } from './harness.js';

test('bad configuration gives one clear line naming the field', { timeout: 30000 }, async () => {
  await withTopology('cfg', async (t) => {
    const node = t.ns('node');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        {
          node: 'n',
          gateway: { ipv4: '198.19.1.1' },
          ports: [{ name: 'e', kind: 'endpoint', netns: 'x', ipv4: '198.19.1.300' }],
        },
        /ports\[0\]\.ipv4: "198\.19\.1\.300" is not an IPv4 address/,
      ],
      [
        { node: 'n', ports: [{ name: 'e', kind: 'bridge' }] },
        /ports\[0\]\.kind: "bridge" is not one of uplink, host, endpoint/,
      ],
      [{ node: 'n', colour: 'blue' }, /colour: unknown field/],
      [
        { node: 'n', routes: [{ prefix: '198.18.0.1/24', via: '198.18.0.254', port: 'up' }] },
        /routes\[0\]\.prefix: "198\.18\.0\.1\/24" has host bits set/,
      ],
      [
        {
          node: 'n',
          gateway: { ipv4: '198.19.1.1' },
          ports: [{ name: 'e', kind: 'endpoint', netns: `${t.prefix}-nope`, ipv4: '198.19.1.10' }],
        },
        /network namespace "wt.*-nope" does not exist/,
      ],
    ];
    for (const [cfg, re] of cases) {
      const file = join(t.dir, 'bad.yaml');
      writeFileSync(file, toYaml({ api: join(t.dir, 'bad.sock'), ...cfg }));
      const r = t.run(node, ['node', WEFT, 'agent', '--config', file], 15000);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    const missing = t.run(node, ['node', WEFT, 'agent']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--config is required/);
  });
});

test('weft status shows ports and workers; SIGTERM removes the TAPs', { timeout: 60000 }, async () => {
  await withTopology('life', async (t) => {
    const { node, ep1, ep2, agent } = await twoEndpoints(t, { workers: 2 });
    t.must(ep1, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.19.1.20']);
    const text = t.must(node, ['node', WEFT, 'status', '--api', agent.api]);
    assert.match(text, /Health:\s+ok/);
    assert.match(text, /ep1\s+endpoint\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+1500\s+2\s+/);
    assert.match(text, /198\.19\.1\.1, 2001:db8:19:1::1, endpoint 198\.19\.1\.10/);
    assert.match(text, /WORKER\s+CPU\s+STATE\s+RX\s+TX\s+DROPS/);
    assert.match(text, /^0\s+0\s+running\s+\d+/m);
    assert.match(text, /^1\s+1\s+running\s+\d+/m);
    assert.match(t.must(node, ['node', WEFT, 'status', '--help']), /drop reasons by name/);

    assert.equal(t.run(ep1, ['ip', 'link', 'show', 'eth0']).code, 0);
    assert.equal(await agent.stop(), 0, `agent exit code; output:\n${agent.output()}`);
    assert.match(agent.output(), /SIGTERM, stopping/);
    assert.notEqual(t.run(ep1, ['ip', 'link', 'show', 'eth0']).code, 0, 'ep1 TAP removed');
    assert.notEqual(t.run(ep2, ['ip', 'link', 'show', 'eth0']).code, 0, 'ep2 TAP removed');
    assert.equal(
      t.must(node, ['ip', '-o', 'link', 'show', 'type', 'tun']).trim(),
      '',
      'no TAP left in the node namespace',
    );
    assert.ok(!existsSync(agent.api), 'API socket removed');
    const gone = t.run(node, ['node', WEFT, 'status', '--api', agent.api]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /no agent is serving/);
  });
});
