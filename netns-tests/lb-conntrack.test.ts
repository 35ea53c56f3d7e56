// The LB connection table: a long-running TCP stream keeps its backend when the service's
// backend set changes so that Maglev alone would send it elsewhere (its backend drained to
// weight 0): with conntrack the stream completes, and new connections avoid the drained one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, WEFT } from './harness.js';
import { lbTopology, VIP4_XLATE } from './lb-topology.js';

const VIP = VIP4_XLATE; // a VIP of its own here, served on port 80 by the same HTTP servers

test('with the connection table, an established stream survives its backend being drained', {
  timeout: 120000,
}, async () => {
  await withTopology('lbt', async (t) => {
    const { lbs, client, backends } = await lbTopology(t, `dir:${join(t.dir, 'store')}`);
    const svc = (weights: number[]): void => {
      t.must('', [
        'node',
        WEFT,
        'service',
        'add',
        'stream',
        '--vip',
        VIP,
        '--port',
        '80',
        '--conntrack',
        ...backends.flatMap((b, i) => ['--backend', `${b.ipv4}:80@${weights[i]}`]),
        '--api',
        lbs[0].agent.api,
      ]);
    };
    svc([1, 1, 1]);
    await sleep(500);
    // One TCP connection streaming 40 MB over ~6 s (an HTTP PUT the servers count).
    const run = t.spawn(client, [
      'python3',
      '-c',
      `
import socket, time
n = 40_000_000
s = socket.create_connection(("${VIP}", 80), timeout=20)
s.sendall(b"PUT / HTTP/1.0\\r\\nContent-Length: %d\\r\\n\\r\\n" % n)
chunk = b"s" * 65536; sent = 0; t0 = time.time()
while sent < n:
    k = min(len(chunk), n - sent); s.sendall(chunk[:k]); sent += k
    ahead = sent / (n / 6.0) - (time.time() - t0)
    if ahead > 0: time.sleep(ahead)
data = b""
while True:
    d = s.recv(4096)
    if not d: break
    data += d
print(data.split(b"\\r\\n\\r\\n", 1)[1].decode())`,
    ]);
    let serving = -1;
    for (let i = 0; i < 40 && serving < 0; i++) {
      await sleep(100);
      serving = backends.findIndex(
        (b) => t.run(b.ns, ['ss', '-Htn', 'state', 'established', '( sport = :80 )']).stdout.trim() !== '',
      );
    }
    assert.ok(serving >= 0, 'one backend carries the stream');
    await sleep(1000);
    svc(backends.map((_, i) => (i === serving ? 0 : 1)));
    for (let i = 0; i < 150 && run.proc.exitCode === null; i++) await sleep(100);
    assert.equal(run.proc.exitCode, 0, `the stream failed after the change:\n${run.output().slice(-500)}`);
    assert.equal(run.output().trim(), `${backends[serving].name} 40000000`, 'all 40 MB reached the original backend');
    const totals = (await lbs[0].agent.status()).totals;
    assert.ok((totals.lbConntrackHit ?? 0) > 100, `packets followed the connection table: ${totals.lbConntrackHit}`);
    // New connections avoid the drained backend.
    for (let i = 0; i < 12; i++) {
      assert.notEqual(t.must(client, ['curl', '-sS', '--max-time', '5', `http://${VIP}/`]), backends[serving].name);
    }
  });
});
