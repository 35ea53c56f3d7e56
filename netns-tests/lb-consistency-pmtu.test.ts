// Two LB agents with the same services and seed send a given flow to the same backend; an
// service with l4Xlate backend reaches servers on another port and answers from the VIP's; an
// oversized DF datagram to a VIP gets "fragmentation needed" with MTU 1480 (IPv6: packet too
// big 1460) from the VIP, and a 10 MB TCP upload through the LB completes (PMTU discovery
// works end to end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, WEFT } from './harness.js';
import { lbTopology, viaLb, VIP4, VIP6, VIP4_XLATE } from './lb-topology.js';

test('two LBs agree per flow; PMTU replies from the VIP; 10 MB upload completes', { timeout: 180000 }, async () => {
  await withTopology('lbc', async (t) => {
    const { lbs, client, backends } = await lbTopology(t, `dir:${join(t.dir, 'store')}`, 2);
    for (
      let i = 0;
      i < 50 && !/dns6/.test(t.run('', ['node', WEFT, 'service', 'list', '--api', lbs[1].agent.api]).stdout);
      i++
    )
      await sleep(100);

    // The same UDP 5-tuples (fixed source ports) through each LB reach the same backend.
    const ask = (vip: string, ports: number[]): string[] =>
      JSON.parse(
        t.must(
          client,
          [
            'python3',
            '-c',
            `
import socket, json
fam = socket.AF_INET6 if ":" in "${vip}" else socket.AF_INET
out = []
for p in ${JSON.stringify(ports)}:
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("", p))
    for attempt in range(3):
        try:
            s.sendto(b"q", ("${vip}", 53)); out.append(s.recv(100).decode()); break
        except socket.timeout:
            if attempt == 2: out.append("timeout")
    s.close()
print(json.dumps(out))`,
          ],
          60000,
        ),
      ) as string[];
    const ports = Array.from({ length: 24 }, (_, i) => 40000 + i * 7);
    for (const vip of [VIP4, VIP6]) {
      viaLb(t, client, lbs[0]);
      const first = ask(vip, ports);
      viaLb(t, client, lbs[1]);
      const second = ask(vip, ports);
      assert.ok(!first.includes('timeout'), `${vip} via LB 1: ${first.join(' ')}`);
      assert.deepEqual(second, first, `${vip}: LB 2 chose differently`);
      assert.ok(new Set(first).size === 3, `${vip}: flows spread over all backends: ${first.join(' ')}`);
    }
    viaLb(t, client, lbs[0]);

    // PMTU: a 1500-byte DF datagram would become 1520 bytes of IPIP on a 1500-byte uplink.
    const dfSend = (vip: string, payload: number): string =>
      t.must(client, [
        'python3',
        '-c',
        `
import socket, time
v6 = ":" in "${vip}"
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
if v6: s.setsockopt(socket.IPPROTO_IPV6, 23, 2)
else: s.setsockopt(socket.IPPROTO_IP, 10, 2)
s.sendto(b"x" * ${payload}, ("${vip}", 53))
time.sleep(0.5)`,
      ]);
    dfSend(VIP4, 1472);
    assert.match(t.must(client, ['ip', 'route', 'get', VIP4]), /mtu 1480/, 'frag-needed with MTU 1480 learned');
    dfSend(VIP6, 1452);
    assert.match(t.must(client, ['ip', '-6', 'route', 'get', VIP6]), /mtu 1460/, 'packet too big 1460 learned');

    // l4Xlate backend: VIP:80 reaches servers on 8080; the backend node restores port 80.
    t.must('', [
      'node',
      WEFT,
      'service',
      'add',
      'xlate',
      '--vip',
      VIP4_XLATE,
      '--port',
      '80',
      '--l4-xlate',
      'backend',
      ...backends.flatMap((e) => ['--backend', `${e.ipv4}:8080`]),
      '--api',
      lbs[0].agent.api,
    ]);
    await sleep(600);
    for (let i = 0; i < 6; i++) {
      assert.match(t.must(client, ['curl', '-sS', '--max-time', '5', `http://${VIP4_XLATE}/`]), /^(a1|a2|b1):8080$/);
    }

    for (const vip of [VIP4, VIP6]) {
      const host = vip.includes(':') ? `[${vip}]` : vip;
      const out = t.must(
        client,
        [
          'python3',
          '-c',
          `
import urllib.request
req = urllib.request.Request("http://${host}/", data=b"u" * 10_000_000, method="PUT")
print(urllib.request.urlopen(req, timeout=60).read().decode())`,
        ],
        90000,
      );
      assert.match(out, /^(a1|a2|b1) 10000000$/m, `${vip}: upload of 10 MB: ${out}`);
    }
  });
});
