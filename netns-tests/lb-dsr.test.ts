// The standalone L4 load balancer end to end: a client on the underlay → an LB node → three
// backend endpoints on two backend nodes (HTTP servers answering with their name, the VIP on
// their loopback). Maglev spreads 300 connections evenly; the LB sends IPIP / IP6IP6 toward
// the backends and the replies never cross it (direct server return).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, type Topology, WEFT } from './harness.js';
import { lbTopology, VIP4, VIP6 } from './lb-topology.js';

/** n sequential HTTP GETs to vip:80 from the client (each from a new source port). */
function spray(t: Topology, client: string, vip: string, n: number): Record<string, number> {
  const out = t.must(
    client,
    [
      'python3',
      '-c',
      `
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
print(json.dumps(c))`,
    ],
    120000,
  );
  return JSON.parse(out) as Record<string, number>;
}

test('L4LB: Maglev over three backends on two nodes, IPIP/IP6IP6 out, replies bypass the LB', {
  timeout: 180000,
}, async () => {
  await withTopology('dsr', async (t) => {
    const { client, fab, lbs } = await lbTopology(t, `dir:${join(t.dir, 'store')}`);
    await sleep(500);

    for (const [vip, proto] of [
      [VIP4, '4'],
      [VIP6, '41'],
    ] as const) {
      const cap = t.spawn(fab, [
        'tcpdump',
        '-n',
        '-l',
        '-i',
        'n5up',
        vip.includes(':') ? `ip6 proto 41 or (ip6 and src host ${vip})` : `ip proto 4 or src host ${vip}`,
      ]);
      await sleep(800);
      const counts = spray(t, client, vip, 300);
      await sleep(500);
      const names = Object.keys(counts).sort();
      assert.deepEqual(names, ['a1', 'a2', 'b1'], `all three backends answered ${vip}: ${JSON.stringify(counts)}`);
      for (const n of names) assert.ok(counts[n] >= 75 && counts[n] <= 125, `${vip}: ${n} got ${counts[n]} of 300`);
      cap.proc.kill('SIGINT');
      await sleep(300);
      const lines = cap.output().split('\n');
      const tunnelled = lines.filter((l) =>
        (proto === '4'
          ? / IP 198\.18\.0\.15 > 198\.19\.\d+\.\d+: IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80/
          : /IP6 2001:db8:18::15 > 2001:db8:19:/
        ).test(l),
      );
      assert.ok(
        tunnelled.length > 300,
        `${tunnelled.length} encapsulated packets toward the backends on the LB uplink`,
      );
      const replies = lines.filter((l) =>
        (vip.includes(':') ? /IP6 2001:db8:18:100::1\.80 >/ : /IP 198\.18\.100\.1\.80 >/).test(l),
      );
      assert.equal(replies.length, 0, `replies crossed the LB:\n${replies.slice(0, 3).join('\n')}`);
    }
    // Per-service and per-backend counters: every client packet of the 600 connections counted
    // once for its service and once for its backend.
    const list = JSON.parse(
      t.must('', ['node', WEFT, 'service', 'list', '--json', '--api', lbs[0].agent.api]),
    ) as Array<{
      name: string;
      counters: { packets: number; bytes: number; backends: Record<string, { packets: number }> };
    }>;
    for (const name of ['web', 'web6']) {
      const c = list.find((s) => s.name === name)!.counters;
      const per = Object.values(c.backends).map((b) => b.packets);
      assert.equal(per.length, 3);
      assert.ok(
        per.every((p) => p > 0),
        `${name}: every backend counted: ${per.join(' ')}`,
      );
      assert.equal(
        per.reduce((a, b) => a + b, 0),
        c.packets,
        `${name}: backends add up to the service`,
      );
      assert.ok(c.packets >= 300 * 3 && c.bytes > c.packets * 40, `${name}: ${c.packets} packets, ${c.bytes} bytes`);
    }
    assert.match(t.must('', ['node', WEFT, 'service', 'list', '--api', lbs[0].agent.api]), /PACKETS\s+BYTES/);
  });
});
