// Issue 6's acceptance on real namespaces: two nodes and a gateway node on one underlay, a
// firewall that lets only the egress IP through toward a real HTTP server outside. app=web on
// the non-gateway node reaches the server (over IPv4 and IPv6, 200 concurrent connections, UDP,
// ping) and the server sees only the egress IP; app=other is masqueraded to its node's address
// and refused by the firewall; bad policies are rejected and apply nothing; unsolicited packets
// to the egress IP are dropped and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT, REPO, sleep, type Topology } from './harness.js';
import { addEndpoint, type ClusterNode } from './cluster.js';
import {
  outsideWorld,
  egressNode,
  waitServer,
  policyYaml,
  curlOut,
  EGRESS4,
  EGRESS6,
  SERVER4,
  SERVER6,
} from './egress-topology.js';

const CLIENT = join(REPO, 'netns-tests', 'tools', 'egress_client.py');

function weft(t: Topology, node: ClusterNode, args: string[]): { code: number | null; out: string } {
  const r = t.run('', ['node', WEFT, ...args, '--api', node.agent.api], 20000);
  return { code: r.code, out: r.stdout + r.stderr };
}

async function counters(node: ClusterNode): Promise<Record<string, number>> {
  return (await node.agent.status()).totals;
}

test('egress gateway: selected endpoint leaves from the egress IP, others are refused, bad input rejected', {
  timeout: 240000,
}, async () => {
  await withTopology('egr', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const gw = await egressNode(t, 3, store, { ownIPs: [EGRESS4, EGRESS6] });
    const n1 = await egressNode(t, 1, store);
    const n2 = await egressNode(t, 2, store);
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    const other1 = addEndpoint(t, n1, 'other1', 'app=other');
    const web2 = addEndpoint(t, n2, 'web2', 'app=web');
    await waitServer(t, w);

    // Bad input: each rejected with a message naming the field and value; nothing applied.
    const bad: Array<[string, string, RegExp]> = [
      [
        'bad-cidr',
        policyYaml('bad-cidr', 'web', [EGRESS4], ['198.18.200.0/33']),
        /destinationCIDRs\[0\].*198\.18\.200\.0\/33/,
      ],
      [
        'unknown-field',
        policyYaml('unknown-field', 'web', [EGRESS4], ['198.18.200.0/24']).replace('spec:\n', 'spec:\n  egres: []\n'),
        /spec\.egres/,
      ],
      [
        'unowned',
        policyYaml('unowned', 'web', ['198.18.0.250'], ['198.18.200.0/24']),
        /198\.18\.0\.250 is not an egress IP of any node/,
      ],
    ];
    for (const [name, text, re] of bad) {
      const f = join(t.dir, `${name}.yaml`);
      // A good document first: a bad file applies nothing at all.
      writeFileSync(f, `${policyYaml('good-first', 'web', [EGRESS4], ['198.18.200.0/24'])}---\n${text}`);
      const r = weft(t, n1, ['egress', 'apply', '-f', f]);
      assert.notEqual(r.code, 0, `${name} was accepted:\n${r.out}`);
      assert.match(r.out, re, `${name}: ${r.out}`);
    }
    assert.deepEqual(JSON.parse(weft(t, n1, ['egress', 'list', '--json']).out), [], 'nothing applied');

    const file = join(t.dir, 'web.yaml');
    writeFileSync(file, policyYaml('egress-web', 'web', [EGRESS4, EGRESS6]));
    const applied = weft(t, n2, ['egress', 'apply', '-f', file]);
    assert.equal(applied.code, 0, applied.out);
    assert.match(applied.out, /egress policy egress-web applied/);

    // Everything but neighbour discovery (the firewall's own NS / NA on that link).
    const dump = t.spawn(w.out, [
      'tcpdump',
      '-i',
      'eth0',
      '-nn',
      '-l',
      '-q',
      '-B',
      '16384',
      'ip or (ip6 and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137))',
    ]);
    await sleep(1000);

    // The selected endpoint on a non-gateway node: from the egress IP, both families.
    let r = { code: 1 as number | null, body: '' };
    for (let i = 0; i < 20 && r.code !== 0; i++) {
      r = curlOut(t, web1.ns, SERVER4);
      if (r.code !== 0) await sleep(250);
    }
    assert.equal(r.body, `outside saw ${EGRESS4}\n`);
    assert.equal(curlOut(t, web1.ns, SERVER6).body, `outside saw ${EGRESS6}\n`);
    assert.equal(curlOut(t, web2.ns, SERVER4).body, `outside saw ${EGRESS4}\n`);
    // Not selected: masqueraded to n1's address, which the firewall refuses.
    const refused = curlOut(t, other1.ns, SERVER4);
    assert.notEqual(refused.code, 0, `app=other got through: ${refused.body}`);
    assert.notEqual(curlOut(t, other1.ns, SERVER6).code, 0);

    // 200 concurrent connections, UDP and ping through the gateway, both families.
    for (const server of [SERVER4, SERVER6]) {
      const many = t.must(web1.ns, ['python3', CLIENT, 'many', '200', server, '80'], 90000);
      assert.equal(
        many,
        `ok 200\noutside saw ${server.includes(':') ? EGRESS6 : EGRESS4}\n`,
        `200 connections to ${server}`,
      );
      assert.equal(t.must(web1.ns, ['python3', CLIENT, 'udp', server, '5353'], 20000), 'udp ok\n');
      const ping = t.run(web1.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', server], 20000);
      assert.match(ping.stdout, /3 received/, ping.stdout + ping.stderr);
    }

    // The gateway's translations and table usage.
    const ct = weft(t, gw, ['egress', 'conntrack', '--source', web1.ipv4, '--protocol', 'udp']);
    assert.equal(ct.code, 0, ct.out);
    assert.match(
      ct.out,
      new RegExp(
        `UDP\\s+${web1.ipv4.replace(/\./g, '\\.')}:\\d+\\s+` +
          `${SERVER4.replace(/\./g, '\\.')}:5353\\s+198\\.18\\.0\\.200:\\d+`,
      ),
    );
    const st = weft(t, gw, ['status']);
    assert.match(st.out, /NAT: \d+\/65536 connections/, st.out);
    const gc = await counters(gw);
    assert.ok((gc.natTranslated ?? 0) >= 400, `natTranslated ${gc.natTranslated}`);
    assert.ok((gc.natReversed ?? 0) >= 400);
    const c1 = await counters(n1);
    assert.ok((c1.natRedirected ?? 0) >= 400, `n1 redirected ${c1.natRedirected}`);
    assert.ok((c1.natMasqueraded ?? 0) >= 1, 'app=other masqueraded on n1');

    // Unsolicited packets to the egress IP (no conntrack entry): dropped and counted.
    const before = (await counters(gw)).dropNatUnsolicited ?? 0;
    t.run(
      w.fw,
      [
        'python3',
        '-c',
        `
import socket
for fam, a in ((socket.AF_INET, "${EGRESS4}"), (socket.AF_INET6, "${EGRESS6}")):
    u = socket.socket(fam, socket.SOCK_DGRAM)
    for p in range(40000, 40010): u.sendto(b"x", (a, p))
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(0.5)
    try: s.connect((a, 33333))
    except Exception: pass
`,
      ],
      15000,
    );
    await sleep(300);
    const after = (await counters(gw)).dropNatUnsolicited ?? 0;
    assert.ok(after - before >= 20, `unsolicited drops ${before} -> ${after}`);

    // ICMP errors about translated flows come back translated: port unreachable from the
    // server, and "fragmentation needed" / "packet too big" from the firewall once its outside
    // link is down to 1280 bytes (the endpoint's kernel learns the path MTU).
    t.must(w.fw, ['ip', 'link', 'set', 'fw1', 'mtu', '1280']);
    const icmpBefore = (await counters(gw)).natIcmpErrors ?? 0;
    for (const [server, fam, disc, mtuOpt] of [
      [SERVER4, 'AF_INET', 'socket.IPPROTO_IP, 10', 'socket.IPPROTO_IP, 14'],
      [SERVER6, 'AF_INET6', 'socket.IPPROTO_IPV6, 23', 'socket.IPPROTO_IPV6, 24'],
    ]) {
      const out = t.must(
        web1.ns,
        [
          'python3',
          '-c',
          `
import socket, time, errno
u = socket.socket(socket.${fam}, socket.SOCK_DGRAM); u.settimeout(2)
u.connect(("${server}", 9)); u.send(b"x")
try:
    u.recv(10); print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
s = socket.socket(socket.${fam}, socket.SOCK_DGRAM)
s.setsockopt(${disc}, 2)
s.connect(("${server}", 5353))
for i in range(20):
    try:
        s.send(b"x" * 1400)
    except OSError as e:
        if e.errno == errno.EMSGSIZE: break
    time.sleep(0.2)
print("mtu", s.getsockopt(${mtuOpt}))
`,
        ],
        30000,
      );
      assert.equal(out, 'refused\nmtu 1280\n', `ICMP errors toward ${server}`);
    }
    assert.ok(((await counters(gw)).natIcmpErrors ?? 0) - icmpBefore >= 4, 'the gateway translated the ICMP errors');

    // Beside the server, only the egress IPs ever arrive from inside.
    await sleep(500);
    dump.proc.kill('SIGTERM');
    await sleep(300);
    // "IP 198.18.0.200.40000 > 198.18.200.10.80: tcp 0", "IP6 2001:db8:18::200 > 2001:db8:18:200::10: ICMP6, ..."
    const host = (v6: boolean, s: string): string =>
      v6 ? (s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : s) : s.split('.').slice(0, 4).join('.');
    const sources = new Set<string>();
    let lines = 0;
    for (const line of dump.output().split('\n')) {
      const m = /^\S+ (IP6?) (\S+) > (\S+?):? /.exec(line);
      if (!m) continue;
      const v6 = m[1] === 'IP6';
      if (host(v6, m[3]) !== (v6 ? SERVER6 : SERVER4)) continue;
      lines++;
      sources.add(host(v6, m[2]));
    }
    assert.ok(lines > 1000, `tcpdump saw ${lines} packets to the server`);
    assert.deepEqual(
      [...sources].sort(),
      [EGRESS6, EGRESS4].sort(),
      `sources seen by the server: ${[...sources].join(' ')}`,
    );
  });
});
