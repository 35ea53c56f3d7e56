// Uplink and host ports: an endpoint reaches an external host behind a kernel router on
// the uplink (default routes via a next hop, both families), and the node's own kernel
// stack reaches the endpoint through the host port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology } from './harness.js';

test('uplink with default routes via a next hop, and a host port for the node stack', { timeout: 60000 }, async () => {
  await withTopology('up', async (t) => {
    const node = t.ns('node');
    const ep = t.ns('ep');
    const ext = t.ns('ext');
    const agent = await t.startAgent(node, {
      node: t.prefix,
      workers: 1,
      gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
      ports: [
        { name: 'ep', kind: 'endpoint', netns: ep, ipv4: '198.19.1.10', ipv6: '2001:db8:19:1::10' },
        {
          name: 'up0',
          kind: 'uplink',
          netns: ext,
          ifname: 'up0',
          addresses: ['198.18.0.1/24', '2001:db8:18::1/64'],
          peerAddresses: ['198.18.0.254/24', '2001:db8:18::fe/64'],
        },
        {
          name: 'host0',
          kind: 'host',
          addresses: ['198.18.1.1/30', '2001:db8:18:1::1/64'],
          peerAddresses: ['198.18.1.2/30', '2001:db8:18:1::2/64'],
        },
      ],
      routes: [
        { prefix: '0.0.0.0/0', via: '198.18.0.254', port: 'up0' },
        { prefix: '::/0', via: '2001:db8:18::fe', port: 'up0' },
      ],
    });
    // The external namespace is a plain kernel host behind the uplink with a loopback
    // address standing for "the internet" (still inside 198.18.0.0/15).
    t.must(ext, ['ip', 'addr', 'add', '198.18.200.1/32', 'dev', 'lo']);
    t.must(ext, ['ip', 'addr', 'add', '2001:db8:200::1/128', 'dev', 'lo']);
    t.must(ext, ['ip', 'route', 'add', '198.19.1.0/24', 'via', '198.18.0.1']);
    t.must(ext, ['ip', '-6', 'route', 'add', '2001:db8:19:1::/64', 'via', '2001:db8:18::1']);
    t.must(node, ['ip', 'route', 'add', '198.19.1.0/24', 'via', '198.18.1.1']);
    t.must(node, ['ip', '-6', 'route', 'add', '2001:db8:19:1::/64', 'via', '2001:db8:18:1::1']);

    assert.match(t.must(ep, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.200.1'], 20000), /2 received/);
    assert.match(t.must(ep, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', '2001:db8:200::1'], 20000), /2 received/);
    assert.match(t.must(ext, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.19.1.10'], 20000), /2 received/);
    // The router's own uplink address answers too.
    assert.match(t.must(ext, ['ping', '-c', '1', '-W', '2', '198.18.0.1']), /1 received/);
    assert.match(t.must(ext, ['ping', '-6', '-c', '1', '-W', '2', '2001:db8:18::1']), /1 received/);
    // The node's kernel stack through the host port.
    assert.match(t.must(node, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.19.1.10'], 20000), /2 received/);
    assert.match(
      t.must(node, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', '2001:db8:19:1::10'], 20000),
      /2 received/,
    );
    // One routed hop through the dataplane, then the external host answers.
    assert.match(t.must(ep, ['ping', '-c', '1', '-W', '2', '198.18.200.1']), /ttl=63/);

    const s = await agent.status();
    assert.deepEqual(
      s.ports.map((p) => p.name),
      ['ep', 'up0', 'host0'],
    );
    assert.equal(s.health, 'ok');
  });
});
