// Transparent encryption: two cluster nodes with `encryption: wireguard` publish their
// WireGuard public keys in the store and peer with each other on UDP 51871; endpoints on
// different nodes talk (ping both families, HTTP, a 5 MB upload) without any change of their
// own, and tcpdump on the underlay sees only UDP 51871 between the nodes — never an
// endpoint address or its plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, WEFT } from './harness.js';
import { startNode, addEndpoint, pingOk, httpServer, curl, fabric } from './cluster.js';

test('cluster encryption: node-to-node traffic only as WireGuard on the underlay', { timeout: 150000 }, async () => {
  await withTopology('clwg', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    // Interface names of this test's own (the default, wg-<node>, is shared with the demo's nodes).
    const wg1 = `${t.prefix}a`.slice(-15);
    const n1 = await startNode(t, 1, { store }, { encryption: 'wireguard' }, { wireguard: { interface: wg1 } });
    const n2 = await startNode(
      t,
      2,
      { store },
      { encryption: 'wireguard' },
      { wireguard: { interface: `${t.prefix}b`.slice(-15) } },
    );
    const a1 = addEndpoint(t, n1, 'a1');
    const b1 = addEndpoint(t, n2, 'b1');
    httpServer(t, b1);
    const fab = fabric(t);
    const cap = t.spawn(fab, ['tcpdump', '-n', '-l', '-i', 'br0', 'ip or ip6']);
    await sleep(800);

    pingOk(t, a1.ns, b1.ipv4);
    pingOk(t, a1.ns, b1.ipv6);
    pingOk(t, b1.ns, a1.ipv4);
    assert.equal(curl(t, a1.ns, b1.ipv4), 'hello from b1\n');
    assert.equal(curl(t, a1.ns, b1.ipv6), 'hello from b1\n');
    // A TCP upload bigger than the tunnel MTU: path MTU discovery through the device works.
    t.spawn(b1.ns, [
      'python3',
      '-c',
      `
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("0.0.0.0", 9000)); l.listen(1)
c, _ = l.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(str(n).encode()); c.close()`,
    ]);
    await sleep(500);
    const up = t.must(
      a1.ns,
      [
        'python3',
        '-c',
        `
import socket
s = socket.create_connection(("${b1.ipv4}", 9000), timeout=20)
s.sendall(b"x" * (5 << 20)); s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode())`,
      ],
      60000,
    );
    assert.equal(up.trim(), String(5 << 20), 'every byte of the upload arrived');
    await sleep(500);
    cap.proc.kill('SIGINT');
    await sleep(300);

    const lines = cap
      .output()
      .split('\n')
      .filter((l) => / IP6? /.test(l));
    const wg = lines.filter((l) => /198\.18\.0\.1[12]\.51871 > 198\.18\.0\.1[12]\.51871: UDP/.test(l));
    assert.ok(wg.length > 100, `${wg.length} WireGuard datagrams between the nodes`);
    const plain = lines.filter((l) => /198\.19\.|2001:db8:19:/.test(l));
    assert.deepEqual(plain.slice(0, 3), [], 'no endpoint address on the underlay');
    const other = lines.filter((l) => !wg.includes(l) && !/ARP|ICMP6, neighbor|who-has/.test(l));
    assert.deepEqual(
      other.filter((l) => /198\.18\.0\.1[12]\./.test(l) && !/\.51871 /.test(l)).slice(0, 3),
      [],
      'nothing else between the nodes',
    );

    // `wg` sees each node's device with the other as its peer, handshake done, bytes moved.
    const show = t.must('', ['wg', 'show', wg1]);
    assert.match(show, /endpoint: 198\.18\.0\.12:51871/);
    assert.match(show, /allowed ips: 198\.19\.\d+\.0\/24, 2001:db8:19:[0-9a-f:]+\/64/);
    assert.match(show, /latest handshake: /);
    const st = JSON.parse(t.must('', ['node', WEFT, 'status', '--json', '--api', n2.agent.api])) as {
      totals: Record<string, number>;
    };
    assert.ok(st.totals.wgDecrypted > 0 && st.totals.wgSent > 0);
  });
});
