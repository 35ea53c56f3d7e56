// The cluster on etcd: two nodes with two endpoints each reach each other; etcd going away
// does not stop forwarding; when it returns the agents resync (a node joining afterwards is
// routed, the nodes see each other again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { withTopology, sleep, type Topology } from './harness.js';
import { startNode, addEndpoint, startEtcd, waitEtcd, ETCD_ADDR, type Endpoint } from './cluster.js';

function ping(t: Topology, from: Endpoint, to: string): void {
  assert.match(t.must(from.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to], 20000), /2 received/, `ping ${to}`);
}

test('two nodes on etcd; etcd away and back: forwarding continues, agents resync', { timeout: 150000 }, async () => {
  if (spawnSync('sh', ['-c', 'command -v etcd']).status !== 0)
    throw new Error('etcd is not installed (scripts/setup installs etcd-server)');
  await withTopology('cle', async (t) => {
    const etcd = startEtcd(t, join(t.dir, 'etcd'));
    await waitEtcd(t, etcd.ns);
    const store = `etcd://${ETCD_ADDR}:2379`;
    const n1 = await startNode(t, 1, { store, mgmt: true, leaseTTL: 3 });
    const n2 = await startNode(t, 2, { store, mgmt: true, leaseTTL: 3 });
    const a1 = addEndpoint(t, n1, 'a1');
    const a2 = addEndpoint(t, n1, 'a2');
    const b1 = addEndpoint(t, n2, 'b1');
    const b2 = addEndpoint(t, n2, 'b2');
    for (const [from, to] of [
      [a1, a2],
      [a1, b1],
      [b2, a1],
      [a2, b2],
    ] as const) {
      ping(t, from, to.ipv4);
      ping(t, from, to.ipv6);
    }
    t.spawn(b1.ns, ['iperf3', '-s', '-1']);
    await sleep(500);
    const tcp = JSON.parse(t.must(a1.ns, ['iperf3', '-c', b1.ipv4, '-t', '2', '-J'], 30000)) as {
      end: { sum_received: { bytes: number } };
    };
    assert.ok(tcp.end.sum_received.bytes > 1_000_000);

    // etcd goes away for longer than the lease TTL while traffic flows.
    const pinger = t.spawn(a1.ns, ['ping', '-i', '0.1', b2.ipv4]);
    await sleep(500);
    await etcd.stop();
    await sleep(5000);
    for (const n of [n1, n2]) assert.equal((await n.agent.status()).health, 'ok', `${n.name} still serving`);
    ping(t, b1, a2.ipv6);

    etcd.restart();
    await waitEtcd(t, etcd.ns);
    // Resync: the agents re-register (their leases were lost) and see each other again...
    const deadline = Date.now() + 20000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = ((await n2.agent.status()) as unknown as { nodes: Array<{ name: string }> }).nodes.map((n) => n.name);
      if (names.includes('n1')) break;
      await sleep(200);
    }
    assert.ok(names.includes('n1'), `n2 sees n1 again after etcd returned: ${names.join(', ')}`);
    // ...and a node joining now is routed by the others, once its routes have reached them
    // through etcd's watch (bounded: within 10 s).
    const n3 = await startNode(t, 3, { store, mgmt: true, leaseTTL: 3 });
    const c1 = addEndpoint(t, n3, 'c1');
    for (let i = 0; i < 50 && t.run(a1.ns, ['ping', '-c', '1', '-W', '1', c1.ipv4]).code !== 0; i++) await sleep(200);
    ping(t, a1, c1.ipv4);
    ping(t, c1, b2.ipv6);

    pinger.proc.kill('SIGINT');
    await sleep(300);
    const loss = /(\d+)% packet loss/.exec(pinger.output());
    assert.ok(
      loss && Number(loss[1]) === 0,
      `forwarding never stopped while etcd was away: ${pinger.output().split('\n').slice(-3).join(' ')}`,
    );
  });
});
