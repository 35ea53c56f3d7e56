// Cluster configuration errors: each gives one clear line naming the problem and a
// non-zero exit, and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT, toYaml } from './harness.js';
import { startNode, fabric } from './cluster.js';

test('overlapping pod CIDRs, unknown store URL, etcd unreachable: one clear line each', {
  timeout: 60000,
}, async () => {
  await withTopology('clc', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    await startNode(t, 1, { store }, { podCIDR: { ipv4: '198.19.5.0/24' } });
    const fab = fabric(t);
    const ns = t.ns('n2');
    const agent = (
      extra: Record<string, unknown>,
      storeUrl: string,
      args: string[] = [],
    ): { code: number | null; stderr: string; ms: number } => {
      const file = join(t.dir, 'n2.yaml');
      writeFileSync(
        file,
        toYaml({
          node: 'n2',
          api: join(t.dir, 'n2.sock'),
          store: storeUrl,
          workers: 1,
          cluster: { ipv4: '198.19.0.0/16', ...extra },
          ports: [
            { name: 'up0', kind: 'uplink', netns: fab, bridge: 'br0', ifname: 'n2up', addresses: ['198.18.0.12/24'] },
          ],
        }),
      );
      const t0 = Date.now();
      const r = t.run(ns, ['node', WEFT, 'agent', '--config', file, ...args], 20000);
      return { code: r.code, stderr: r.stderr, ms: Date.now() - t0 };
    };
    const overlap = agent({ podCIDR: { ipv4: '198.19.5.0/25' } }, store);
    assert.notEqual(overlap.code, 0);
    assert.match(overlap.stderr, /pod CIDR 198\.19\.5\.0\/25 overlaps 198\.19\.5\.0\/24 of node n1/);
    assert.equal(overlap.stderr.trim().split('\n').length, 1, overlap.stderr);

    const bad = agent({}, store, ['--store', 'zookeeper://198.18.0.2']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unsupported store URL "zookeeper:\/\/198\.18\.0\.2"/);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);

    // Nothing listens on 198.18.0.99 (our underlay has no such host).
    const etcd = agent({}, 'etcd://198.18.0.99:2379');
    assert.notEqual(etcd.code, 0);
    assert.match(etcd.stderr, /etcd:\/\/198\.18\.0\.99:2379.*(cannot connect|unreachable|timed out)/i);
    assert.equal(etcd.stderr.trim().split('\n').length, 1, etcd.stderr);
    assert.ok(etcd.ms < 15000, `gave up after ${etcd.ms} ms`);

    assert.equal(t.must(ns, ['ip', '-o', 'link', 'show', 'type', 'tun']).trim(), '', 'no TAP left behind');
  });
});
