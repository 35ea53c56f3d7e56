// Two nodes with two endpoints each on the embedded store, direct routing on a shared
// underlay: endpoint to endpoint on one node and across nodes, both families, ping and
// HTTP; a node joining is routed within 1 s; a killed node disappears when its lease ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, type Topology } from './harness.js';
import {
  startNode,
  addEndpoint,
  restartNode,
  pingOk,
  httpServer,
  curl,
  type ClusterNode,
  type Endpoint,
} from './cluster.js';

function ping(t: Topology, from: Endpoint | ClusterNode, to: string): void {
  pingOk(t, from.ns, to);
}

test('two nodes, direct routing, embedded store: endpoints reach each other; nodes join and leave', {
  timeout: 120000,
}, async () => {
  await withTopology('cld', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const n1 = await startNode(t, 1, { store, leaseTTL: 2 });
    const n2 = await startNode(t, 2, { store, leaseTTL: 2 });
    const a1 = addEndpoint(t, n1, 'a1');
    const a2 = addEndpoint(t, n1, 'a2', 'app=other');
    const b1 = addEndpoint(t, n2, 'b1');
    const b2 = addEndpoint(t, n2, 'b2');
    for (const ep of [a1, a2, b1, b2]) httpServer(t, ep);

    for (const [from, to] of [
      [a1, a2],
      [a1, b1],
      [b2, a2],
      [b1, b2],
    ] as const) {
      ping(t, from, to.ipv4);
      ping(t, from, to.ipv6);
    }
    assert.equal(curl(t, a1.ns, b1.ipv4), 'hello from b1\n');
    assert.equal(curl(t, a1.ns, b2.ipv6), 'hello from b2\n');
    assert.equal(curl(t, b1.ns, a2.ipv4), 'hello from a2\n');
    // The node's own stack reaches endpoints through its host port, across nodes too.
    ping(t, n1, b1.ipv4);
    assert.equal(t.must(n1.ns, ['curl', '-sS', '--max-time', '5', `http://[${b2.ipv6}]:8080/`]), 'hello from b2\n');

    const list = t.must('', [
      'node',
      join(process.cwd(), 'dist/src/cli/weft.js'),
      'endpoint',
      'list',
      '--api',
      n1.agent.api,
    ]);
    assert.match(list, /a1\s+198\.19\.\d+\.\d+\s+2001:db8:19:[0-9a-f:]+\s+app=web/);
    assert.match(list, /a2\s+.*app=other/);

    // A third node joins while traffic flows: routed within 1 s of its registration.
    const pinger = t.spawn(a1.ns, ['ping', '-i', '0.1', b1.ipv4]);
    const n3 = await startNode(t, 3, { store, leaseTTL: 2 });
    const joined = Date.now();
    let seen = 0;
    while (Date.now() - joined < 3000) {
      const s = (await n1.agent.status()) as unknown as { routes: Array<{ prefix: string; type: string }> };
      if (s.routes.some((r) => r.prefix.startsWith('198.19.2.0/24') && r.type === 'via')) {
        seen = Date.now() - joined;
        break;
      }
      await sleep(50);
    }
    assert.ok(seen > 0 && seen < 1000, `n3's pod CIDR routed on n1 after ${seen} ms`);
    const c1 = addEndpoint(t, n3, 'c1');
    ping(t, a1, c1.ipv4);
    ping(t, c1, b2.ipv6);

    // n3 dies without a word: its lease (2 s) runs out and n1 forgets it.
    n3.agent.proc.kill('SIGKILL');
    const killed = Date.now();
    let gone = 0;
    while (Date.now() - killed < 8000) {
      const s = (await n1.agent.status()) as unknown as { nodes: Array<{ name: string }> };
      if (!s.nodes.some((n) => n.name === 'n3')) {
        gone = Date.now() - killed;
        break;
      }
      await sleep(100);
    }
    assert.ok(gone > 0, 'n3 removed from n1 after its lease expired');
    const routes = ((await n1.agent.status()) as unknown as { routes: Array<{ prefix: string }> }).routes;
    assert.ok(!routes.some((r) => r.prefix.startsWith('198.19.2.0/24')), 'route to n3 removed');
    pinger.proc.kill('SIGINT');
    await sleep(300);
    assert.match(pinger.output(), /, 0% packet loss/, 'traffic between a1 and b1 never stopped');
    for (const n of [n1, n2]) assert.equal((await n.agent.status()).health, 'ok');

    // Delete frees the endpoint's port and addresses.
    t.must('', [
      'node',
      join(process.cwd(), 'dist/src/cli/weft.js'),
      'endpoint',
      'delete',
      'a2',
      '--api',
      n1.agent.api,
    ]);
    assert.notEqual(t.run(a2.ns, ['ip', 'link', 'show', 'eth0']).code, 0, 'a2 port removed');
    const a3 = addEndpoint(t, n1, 'a3');
    assert.equal(a3.ipv4, a2.ipv4, 'the freed address is handed out again');
    ping(t, b1, a3.ipv4);

    // A node that leaves cleanly (SIGTERM revokes its lease) leaves the others' routes
    // within 1 s; its endpoints survive the restart: same addresses, ports re-created.
    await n2.agent.stop();
    const left = Date.now();
    let leftMs = 0;
    while (Date.now() - left < 3000) {
      const s = (await n1.agent.status()) as unknown as { nodes: Array<{ name: string }> };
      if (!s.nodes.some((n) => n.name === 'n2')) {
        leftMs = Date.now() - left;
        break;
      }
      await sleep(50);
    }
    assert.ok(leftMs > 0 && leftMs < 1000, `n2 left n1's view after ${leftMs} ms`);
    await restartNode(t, n2);
    assert.equal(
      t.run(b1.ns, ['ip', '-br', 'addr', 'show', 'eth0']).stdout.includes(b1.ipv4),
      true,
      'b1 has its address back',
    );
    ping(t, a1, b1.ipv4);
    ping(t, a3, b2.ipv6);
    assert.equal(curl(t, a1.ns, b2.ipv4), 'hello from b2\n');
    const relist = t.must('', [
      'node',
      join(process.cwd(), 'dist/src/cli/weft.js'),
      'endpoint',
      'list',
      '--api',
      n2.agent.api,
      '--json',
    ]);
    assert.deepEqual(
      (JSON.parse(relist) as Array<{ name: string; ipv4: string }>).map((e) => [e.name, e.ipv4]),
      [
        ['b1', b1.ipv4],
        ['b2', b2.ipv4],
      ],
    );
  });
});
