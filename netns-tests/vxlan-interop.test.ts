// VXLAN interoperability: a "foreign node" made of plain Linux parts — a vxlan device, a
// bridge and a veth to a pod namespace — reaches a Weft endpoint and back, both families.
// tcpdump on the underlay sees UDP 8472 with the configured VNI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep } from './harness.js';
import { fabric, addEndpoint, type ClusterNode } from './cluster.js';

test('a Linux vxlan device with a bridge and a veth pod interoperates with a Weft node', {
  timeout: 90000,
}, async () => {
  await withTopology('vxi', async (t) => {
    const fab = fabric(t);
    // The foreign node: underlay 198.18.0.20 on the fabric, vxlan0 + br-lx + a veth pod.
    const lx = t.ns('lx');
    const pod = t.ns('lxpod');
    t.must('', ['ip', 'link', 'add', 'eth0', 'netns', lx, 'type', 'veth', 'peer', 'name', 'lxup', 'netns', fab]);
    t.must(fab, ['ip', 'link', 'set', 'lxup', 'master', 'br0', 'up']);
    t.must(lx, ['ip', 'addr', 'add', '198.18.0.20/24', 'dev', 'eth0']);
    t.must(lx, ['ip', 'link', 'set', 'eth0', 'up']);
    t.must(lx, [
      'ip',
      'link',
      'add',
      'vxlan0',
      'type',
      'vxlan',
      'id',
      '2',
      'dstport',
      '8472',
      'local',
      '198.18.0.20',
      'dev',
      'eth0',
      'nolearning',
    ]);
    t.must(lx, ['ip', 'link', 'set', 'vxlan0', 'mtu', '1450']);
    t.must(lx, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vxlan0', 'dst', '198.18.0.11']);
    t.must(lx, ['ip', 'link', 'add', 'br-lx', 'type', 'bridge']);
    t.must(lx, ['ip', 'link', 'set', 'vxlan0', 'master', 'br-lx', 'up']);
    t.must('', ['ip', 'link', 'add', 'veth0', 'netns', lx, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
    t.must(lx, ['ip', 'link', 'set', 'veth0', 'mtu', '1450', 'master', 'br-lx', 'up']);
    t.must(lx, ['ip', 'link', 'set', 'br-lx', 'up']);
    t.must(lx, ['ip', 'addr', 'add', '198.19.99.1/24', 'dev', 'br-lx']);
    t.must(lx, ['ip', 'addr', 'add', '2001:db8:19:99::1/64', 'dev', 'br-lx', 'nodad']);
    t.must(lx, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    t.must(pod, ['ip', 'addr', 'add', '198.19.99.10/24', 'dev', 'eth0']);
    t.must(pod, ['ip', 'addr', 'add', '2001:db8:19:99::10/64', 'dev', 'eth0', 'nodad']);
    t.must(pod, ['ip', 'link', 'set', 'eth0', 'mtu', '1450', 'up']);
    t.must(pod, ['ip', 'route', 'add', 'default', 'via', '198.19.99.1']);
    t.must(pod, ['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:19:99::1']);
    const brMac = JSON.parse(t.must(lx, ['ip', '-j', 'link', 'show', 'br-lx']))[0].address as string;

    // The Weft node: pod CIDRs 198.19.0.0/24 and 2001:db8:19::/64, tunnel routes to the
    // foreign node's pod subnet, inner destination MAC = the foreign bridge (its router).
    const node = t.ns('n1');
    const store = `dir:${join(t.dir, 'store')}`;
    const agent = await t.startAgent(node, {
      node: 'n1',
      store,
      workers: 1,
      cluster: {
        mode: 'vxlan',
        ipv4: '198.19.0.0/16',
        ipv6: '2001:db8:19::/48',
        podCIDR: { ipv4: '198.19.0.0/24', ipv6: '2001:db8:19::/64' },
      },
      vxlan: { vni: 2, port: 8472 },
      ports: [
        { name: 'up0', kind: 'uplink', netns: fab, bridge: 'br0', ifname: 'n1up', addresses: ['198.18.0.11/24'] },
      ],
      routes: [
        { prefix: '198.19.99.0/24', type: 'tunnel', remote: '198.18.0.20', port: 'up0', innerMac: brMac },
        { prefix: '2001:db8:19:99::/64', type: 'tunnel', remote: '198.18.0.20', port: 'up0', innerMac: brMac },
      ],
    });
    const n1: ClusterNode = { name: 'n1', ns: node, agent, underlay4: '198.18.0.11', underlay6: '' };
    const ep = addEndpoint(t, n1, 'web');
    // The foreign node routes Weft's pod CIDRs through its bridge to Weft's gateway, on-link.
    t.must(lx, ['ip', 'route', 'add', '198.19.0.0/24', 'via', '198.19.0.1', 'dev', 'br-lx', 'onlink']);
    t.must(lx, ['ip', '-6', 'route', 'add', '2001:db8:19::/64', 'via', '2001:db8:19::1', 'dev', 'br-lx', 'onlink']);

    const cap = t.spawn(fab, ['tcpdump', '-n', '-l', '-i', 'br0', '-T', 'vxlan', 'udp port 8472']);
    await sleep(1000);
    assert.match(
      t.must(pod, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ep.ipv4], 20000),
      /3 received/,
      'foreign pod → Weft endpoint (IPv4)',
    );
    assert.match(
      t.must(ep.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.19.99.10'], 20000),
      /3 received/,
      'Weft endpoint → foreign pod (IPv4)',
    );
    assert.match(
      t.must(pod, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', ep.ipv6], 20000),
      /3 received/,
      'foreign pod → Weft endpoint (IPv6)',
    );
    assert.match(
      t.must(ep.ns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '2001:db8:19:99::10'], 20000),
      /3 received/,
      'Weft endpoint → foreign pod (IPv6)',
    );
    await sleep(500);
    const both = cap
      .output()
      .split('\n')
      .filter((l) => l.includes('VXLAN'));
    assert.ok(
      both.some((l) => /198\.18\.0\.20\.\d+ > 198\.18\.0\.11\.8472: VXLAN, flags \[I\] \(0x08\), vni 2/.test(l)),
      'Linux → Weft on UDP 8472, VNI 2',
    );
    assert.ok(
      both.some((l) => /198\.18\.0\.11\.\d+ > 198\.18\.0\.20\.8472: VXLAN, flags \[I\] \(0x08\), vni 2/.test(l)),
      'Weft → Linux on UDP 8472, VNI 2',
    );
    assert.ok(both.every((l) => /vni 2\b/.test(l)));
  });
});
