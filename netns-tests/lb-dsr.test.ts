// The standalone L4 load balancer end to end: a client on the underlay → an LB node → three
// backend endpoints on two backend nodes (HTTP servers answering with their name, the VIP on
// their loopback). Maglev spreads 300 connections evenly; the LB sends IPIP / IP6IP6 toward
// the backends and the replies never cross it (direct server return).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, WEFT, Topology } from './harness.js';
import { startNode, addEndpoint, fabric, Endpoint } from './cluster.js';

const VIP4 = '198.18.100.1';
const VIP6 = '2001:db8:18:100::1';

function nameServer(t: Topology, ep: Endpoint): void {
  t.spawn(ep.ns, ['python3', '-c', `
import http.server, socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"${ep.name}"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
S(("::", 80), H).serve_forever()`]);
}

/** n sequential HTTP GETs to vip:80 from the client (each from a new source port). */
function spray(t: Topology, client: string, vip: string, n: number): Record<string, number> {
  const out = t.must(client, ['python3', '-c', `
import socket, json, collections
c = collections.Counter()
fam = socket.AF_INET6 if ":" in "${vip}" else socket.AF_INET
for i in range(${n}):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5)
    s.connect(("${vip}", 80)); s.sendall(b"GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
    s.close()
    c[data.split(b"\\r\\n\\r\\n", 1)[1].decode()] += 1
print(json.dumps(c))`], 120000);
  return JSON.parse(out) as Record<string, number>;
}

test('L4LB: Maglev over three backends on two nodes, IPIP/IP6IP6 out, replies bypass the LB', { timeout: 180000 }, async () => {
  await withTopology('dsr', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const fab = fabric(t);
    // The LB is a cluster node too, so it routes to every node's pods.
    const lb = await startNode(t, 5, { store }, {}, { lb: { tableSize: 1021 } });
    const n1 = await startNode(t, 1, { store });
    const n2 = await startNode(t, 2, { store });
    const eps = [addEndpoint(t, n1, 'a1', 'app=web', [VIP4, VIP6]), addEndpoint(t, n1, 'a2', 'app=web', [VIP4, VIP6]), addEndpoint(t, n2, 'b1', 'app=web', [VIP4, VIP6])];
    for (const ep of eps) nameServer(t, ep);
    // The client sits on the underlay and reaches the VIPs through the LB's uplink address.
    const client = t.ns('client');
    t.must('', ['ip', 'link', 'add', 'eth0', 'netns', client, 'type', 'veth', 'peer', 'name', 'clup', 'netns', fab]);
    t.must(fab, ['ip', 'link', 'set', 'clup', 'master', 'br0', 'up']);
    t.must(client, ['ip', 'addr', 'add', '198.18.0.100/24', 'dev', 'eth0']);
    t.must(client, ['ip', 'addr', 'add', '2001:db8:18::100/64', 'dev', 'eth0', 'nodad']);
    t.must(client, ['ip', 'link', 'set', 'eth0', 'up']);
    t.must(client, ['ip', 'route', 'add', `${VIP4}/32`, 'via', '198.18.0.15']);
    t.must(client, ['ip', '-6', 'route', 'add', `${VIP6}/128`, 'via', '2001:db8:18::15']);
    for (const [name, vip] of [['web', VIP4], ['web6', VIP6]] as const) {
      const fam = vip.includes(':') ? 'ipv6' : 'ipv4';
      t.must('', ['node', WEFT, 'service', 'add', name, '--vip', vip, '--port', '80', ...eps.flatMap((e) => ['--backend', fam === 'ipv6' ? `[${e.ipv6}]:80` : `${e.ipv4}:80`]), '--api', lb.agent.api]);
    }
    await sleep(500);

    for (const [vip, proto] of [[VIP4, '4'], [VIP6, '41']] as const) {
      const cap = t.spawn(fab, ['tcpdump', '-n', '-l', '-i', 'n5up', vip.includes(':') ? 'ip6 proto 41 or (ip6 and src host ' + vip + ')' : `ip proto 4 or src host ${vip}`]);
      await sleep(800);
      const counts = spray(t, client, vip, 300);
      await sleep(500);
      const names = Object.keys(counts).sort();
      assert.deepEqual(names, ['a1', 'a2', 'b1'], `all three backends answered ${vip}: ${JSON.stringify(counts)}`);
      for (const n of names) assert.ok(counts[n] >= 75 && counts[n] <= 125, `${vip}: ${n} got ${counts[n]} of 300`);
      cap.proc.kill('SIGINT');
      await sleep(300);
      const lines = cap.output().split('\n');
      const tunnelled = lines.filter((l) => (proto === '4' ? / IP 198\.18\.0\.15 > 198\.19\.\d+\.\d+: IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80/ : /IP6 2001:db8:18::15 > 2001:db8:19:/).test(l));
      assert.ok(tunnelled.length > 300, `${tunnelled.length} encapsulated packets toward the backends on the LB uplink`);
      const replies = lines.filter((l) => (vip.includes(':') ? /IP6 2001:db8:18:100::1\.80 >/ : /IP 198\.18\.100\.1\.80 >/).test(l));
      assert.equal(replies.length, 0, `replies crossed the LB:\n${replies.slice(0, 3).join('\n')}`);
    }
  });
});
