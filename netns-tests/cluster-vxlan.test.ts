// Two nodes in VXLAN mode: endpoints reach each other across nodes over the tunnel (both
// families), and the underlay carries only UDP 8472 with the configured VNI between the
// nodes' underlay addresses, never the endpoints' packets in the clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, type Topology } from './harness.js';
import { startNode, addEndpoint, fabric, type Endpoint } from './cluster.js';

function ping(t: Topology, from: Endpoint, to: string): void {
  assert.match(t.must(from.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to], 20000), /2 received/, `ping ${to}`);
}

test('two nodes over VXLAN: cross-node traffic is tunnelled on UDP 8472 with the VNI', {
  timeout: 120000,
}, async () => {
  await withTopology('clv', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const n1 = await startNode(t, 1, { store, mode: 'vxlan' });
    const n2 = await startNode(t, 2, { store, mode: 'vxlan' });
    const a1 = addEndpoint(t, n1, 'a1');
    const a2 = addEndpoint(t, n1, 'a2');
    const b1 = addEndpoint(t, n2, 'b1');
    const fab = fabric(t);
    const tunnel = t.spawn(fab, ['tcpdump', '-n', '-l', '-i', 'br0', '-T', 'vxlan', 'udp port 8472']);
    const clear = t.spawn(fab, ['tcpdump', '-n', '-l', '-i', 'br0', 'net 198.19.0.0/16 or net 2001:db8:19::/48']);
    await sleep(1000);

    ping(t, a1, a2.ipv4);
    ping(t, a1, b1.ipv4);
    ping(t, a1, b1.ipv6);
    ping(t, b1, a2.ipv6);
    t.spawn(b1.ns, ['iperf3', '-s', '-1']);
    await sleep(500);
    const tcp = JSON.parse(t.must(a1.ns, ['iperf3', '-c', b1.ipv6, '-t', '2', '-J'], 30000)) as {
      end: { sum_received: { bytes: number } };
    };
    assert.ok(tcp.end.sum_received.bytes > 1_000_000, 'TCP over the tunnel');
    await sleep(500);

    const lines = tunnel
      .output()
      .split('\n')
      .filter((l) => l.includes('VXLAN'));
    assert.ok(lines.length > 8, `tunnelled packets seen on the underlay: ${lines.length}`);
    // Inner IPv4 rides an IPv4 underlay, inner IPv6 an IPv6 one (each node has both).
    const outer = new RegExp(
      String.raw`(198\.18\.0\.1[12]|2001:db8:18::1[12])\.\d+ > (198\.18\.0\.1[12]|2001:db8:18::1[12])\.8472: ` +
        String.raw`VXLAN, flags \[I\] \(0x08\), vni 2`,
    );
    assert.ok(
      lines.every((l) => outer.test(l)),
      lines.find((l) => !outer.test(l)),
    );
    assert.ok(
      lines.some((l) => l.includes('198.18.0.1')) && lines.some((l) => l.includes('2001:db8:18::1')),
      'both underlay families used',
    );
    assert.match(tunnel.output(), new RegExp(`${b1.ipv4.replace(/\./g, '\\.')}`), 'inner packets decoded inside VXLAN');
    // The filter without -T vxlan matches only outer headers: nothing in the clear.
    assert.equal(
      clear
        .output()
        .split('\n')
        .filter((l) => /IP6? /.test(l)).length,
      0,
      `plaintext on the underlay:\n${clear.output()}`,
    );
    const s = (await n1.agent.status()) as unknown as { routes: Array<{ prefix: string; type: string }> };
    assert.ok(
      s.routes.some((r) => r.prefix === '198.19.1.0/24' && r.type === 'tunnel'),
      'tunnel route to n2',
    );
  });
});
