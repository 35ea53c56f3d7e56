// The n-tuple PCAP recorder on real agents: while a client talks to VIPs through the LB,
// `weft record` writes pcap files that tcpdump and tshark read; they hold the client's packets
// and the IPIP / IP6IP6 packets carrying them to the backends. Wildcards, partial capture,
// limits, a ring overflowing during a flood, bad requests, and a backend node's view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync, statSync } from 'node:fs';
import { withTopology, sleep, type Topology, WEFT } from './harness.js';
import { lbTopology, VIP4, VIP6 } from './lb-topology.js';

interface Recording {
  proc: { kill: (s: NodeJS.Signals) => void };
  output: () => string;
  done: Promise<number | null>;
}

/** Starts `weft record` in the background and waits until the recording runs. */
async function record(t: Topology, api: string, args: string[]): Promise<Recording> {
  const r = t.spawn('', ['node', WEFT, 'record', ...args, '--api', api]);
  const done = new Promise<number | null>((resolve) => r.proc.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 100 && !/recording \d+ into/.test(r.output()); i++) await sleep(50);
  assert.match(r.output(), /recording \d+ into/, r.output());
  return { proc: r.proc, output: r.output, done };
}

/** Ctrl-C (unless it stopped by itself), then the file path it printed on stdout. */
async function finish(r: Recording, interrupt = true): Promise<string> {
  if (interrupt) r.proc.kill('SIGINT');
  const code = await Promise.race([r.done, sleep(15000).then(() => 'timeout')]);
  assert.equal(code, 0, r.output());
  const file = /^(\/\S+\.pcap)$/m.exec(r.output())?.[1];
  assert.ok(file, r.output());
  return file;
}

/** tcpdump and tshark both read the file without a warning; tcpdump's lines. */
function readBoth(t: Topology, file: string): string[] {
  const td = t.run('', ['tcpdump', '-nn', '-r', file], 30000);
  assert.equal(td.code, 0, td.stderr);
  assert.doesNotMatch(
    td.stderr.replace(/^reading from file .*$/m, '').trim(),
    /\S/,
    `tcpdump complained: ${td.stderr}`,
  );
  const ts = t.run('', ['tshark', '-n', '-r', file], 60000);
  assert.equal(ts.code, 0, ts.stderr);
  assert.doesNotMatch(ts.stderr, /cut short|appears to be damaged|isn't a capture file/i, ts.stderr);
  return td.stdout.split('\n').filter(Boolean);
}

/** Frames of the file matching a tshark display filter. */
function count(t: Topology, file: string, filter: string): number {
  const r = t.run('', ['tshark', '-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], 60000);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).length;
}

function traffic(t: Topology, client: string, n: number): void {
  for (let i = 0; i < n; i++) {
    t.must(client, ['curl', '-s', '--max-time', '5', `http://${VIP4}/`]);
    t.must(client, ['curl', '-s', '--max-time', '5', '-g', `http://[${VIP6}]/`]);
  }
  t.must(
    client,
    [
      'python3',
      '-c',
      `
import socket
for vip, fam in (("${VIP4}", socket.AF_INET), ("${VIP6}", socket.AF_INET6)):
    for i in range(${n}):
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(3)
        s.sendto(b"q", (vip, 53)); s.recvfrom(100); s.close()`,
    ],
    30000,
  );
}

/** UDP datagrams of 1200 B to VIP4:53 in bursts; how many answers came back. */
function blast(t: Topology, client: string, total: number): number {
  const out = t.must(
    client,
    [
      'python3',
      '-c',
      `
import socket, time
s = socket.socket(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.setblocking(False)
got = 0; payload = b"x" * 1200
for burst in range(${total} // 50):
    for i in range(50): s.sendto(payload, ("${VIP4}", 53))
    time.sleep(0.002)
    try:
        while True: s.recv(100); got += 1
    except BlockingIOError: pass
end = time.time() + 1
while time.time() < end:
    try: s.recv(100); got += 1
    except BlockingIOError: time.sleep(0.01)
print(got)`,
    ],
    120000,
  );
  return Number(out.trim());
}

test('recorder: pcap files of client→VIP and IPIP/IP6IP6 packets, wildcards, limits, overflow, bad input', {
  timeout: 280000,
}, async () => {
  await withTopology('rec', async (t) => {
    const blocker = join(t.dir, 'not-a-directory');
    writeFileSync(blocker, '');
    const { client, lbs, nodes } = await lbTopology(t, `dir:${join(t.dir, 'store')}`, 1, {
      lb: { recorder: { directory: join(t.dir, 'rec-lb'), ringBytes: 65536 } },
      backend: { recorder: { directory: join(blocker, 'rec') } },
    });
    const api = lbs[0].agent.api;
    await sleep(500);

    // Several recordings at once, each with its own file.
    const match = await record(t, api, [
      '198.18.0.0/24 0 198.18.100.1/32 80 TCP',
      '2001:db8:18::/64 0 2001:db8:18:100::1/128 80 TCP',
      '--file-prefix',
      'match',
    ]);
    const none = await record(t, api, ['198.18.0.0/24 0 198.18.100.1/32 81 TCP', '--file-prefix', 'none']);
    const short = await record(t, api, ['198.18.0.0/24 0 198.18.100.1/32 80 TCP', '--max-capture-len', '64']);
    const udp = await record(t, api, ['198.18.0.0/16 0 198.18.100.1/32 53 UDP']);
    const anyFromClient = await record(t, api, ['198.18.0.100/32 0 198.18.100.0/24 0 ANY']);
    const v6tcp = await record(t, api, ['2001:db8:18::/48 0 2001:db8:18:100::1/128 0 TCP']);
    const list = t.must('', ['node', WEFT, 'record', 'list', '--api', api]);
    assert.equal(list.split('\n').filter((l) => / running /.test(l)).length, 6, list);
    traffic(t, client, 5);
    await sleep(300);

    const matchFile = await finish(match);
    assert.match(matchFile, /\/match_\d{10}_[0-9a-f]{8}_n5\.pcap$/);
    assert.equal(statSync(matchFile).mode & 0o777, 0o600);
    const lines = readBoth(t, matchFile);
    const direct4 = lines.filter(
      (l) => /IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80:/.test(l) && !/: IP /.test(l.slice(20)),
    );
    const ipip = lines.filter((l) =>
      /IP 198\.18\.0\.15 > 198\.19\.\d+\.\d+: IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80:/.test(l),
    );
    const direct6 = lines.filter(
      (l) => /IP6 2001:db8:18::100\.\d+ > 2001:db8:18:100::1\.80:/.test(l) && !/: IP6 /.test(l.slice(20)),
    );
    const ip6ip6 = lines.filter((l) =>
      /IP6 2001:db8:18::15 > 2001:db8:19:[0-9a-f:]+: IP6 2001:db8:18::100\.\d+ > 2001:db8:18:100::1\.80:/.test(l),
    );
    assert.ok(
      direct4.length >= 5 * 5 && ipip.length === direct4.length,
      `IPv4: ${direct4.length} client packets, ${ipip.length} IPIP`,
    );
    assert.ok(
      direct6.length >= 5 * 5 && ip6ip6.length === direct6.length,
      `IPv6: ${direct6.length} client packets, ${ip6ip6.length} IP6IP6`,
    );
    assert.equal(
      lines.length,
      direct4.length + ipip.length + direct6.length + ip6ip6.length,
      'nothing else in the file',
    );
    assert.equal(count(t, matchFile, 'ip.proto == 4'), ipip.length);
    assert.equal(count(t, matchFile, 'ipv6.nxt == 41'), ip6ip6.length);

    const noneFile = await finish(none);
    assert.equal(readBoth(t, noneFile).length, 0, 'a filter matching nothing records nothing');
    assert.equal(statSync(noneFile).size, 24, 'just the file header');

    const shortFile = await finish(short);
    readBoth(t, shortFile);
    const lens = t
      .must('', ['tshark', '-n', '-r', shortFile, '-T', 'fields', '-e', 'frame.cap_len', '-e', 'frame.len'], 60000)
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t').map(Number));
    assert.ok(lens.length === direct4.length + ipip.length, `${lens.length} records`);
    assert.ok(
      lens.every(([cap, len]) => cap <= 64 && cap === Math.min(64, len)),
      'records of at most 64 bytes',
    );
    assert.ok(
      lens.some(([, len]) => len > 64),
      'original lengths preserved',
    );

    // Wildcards: each file holds exactly what its filter says.
    const udpFile = await finish(udp);
    const udpTotal = readBoth(t, udpFile).length;
    assert.equal(udpTotal, 2 * 5, 'UDP to VIP4:53 in and out');
    assert.equal(count(t, udpFile, 'udp.dstport == 53'), udpTotal);
    assert.equal(count(t, udpFile, 'tcp or ipv6'), 0);
    const anyFile = await finish(anyFromClient);
    const anyTotal = readBoth(t, anyFile).length;
    assert.equal(count(t, anyFile, 'ip.src == 198.18.0.100'), anyTotal, 'all from the client (outer or inner)');
    assert.ok(
      count(t, anyFile, 'tcp.dstport == 80') > 0 && count(t, anyFile, 'udp.dstport == 53') === 10,
      'TCP and UDP',
    );
    assert.equal(count(t, anyFile, 'ipv6'), 0);
    const v6File = await finish(v6tcp);
    const v6Total = readBoth(t, v6File).length;
    assert.equal(v6Total, direct6.length + ip6ip6.length, 'the same IPv6 packets as the /64 filter');
    assert.equal(count(t, v6File, 'udp or (ip and not ipv6)'), 0);

    // --packet-limit: the command stops by itself at exactly 100.
    const limited = await record(t, api, ['198.18.0.100/32 0 198.18.100.1/32 53 UDP', '--packet-limit', '100']);
    blast(t, client, 500);
    const limitedFile = await finish(limited, false);
    assert.match(limited.output(), /100 packets.*\(packet-limit\)/);
    assert.equal(readBoth(t, limitedFile).length, 100);

    // A flood overflows the LB's 64 KiB ring: captures are lost (counted), packets are not.
    const base = blast(t, client, 4000);
    const flood = await record(t, api, ['0.0.0.0/0 0 0.0.0.0/0 0 ANY']);
    const withRec = blast(t, client, 4000);
    const floodFile = await finish(flood);
    const stats = /recording \d+: (\d+) packets, [^\n]*, (\d+) lost \(/.exec(flood.output());
    assert.ok(stats && Number(stats[2]) > 0, `lost captures counted: ${flood.output()}`);
    // Bursts of UDP lose some answers either way on a busy host: the recording must not lose many more.
    assert.ok(withRec >= 0.8 * base, `answers with a full recording ${withRec}, without ${base}`);
    readBoth(t, floodFile);
    const st = JSON.parse(t.must('', ['node', WEFT, 'status', '--json', '--api', api])) as {
      totals: Record<string, number>;
      recorder: { recordings: number; masks: number };
    };
    assert.ok(st.totals.recorderLost > 0 && st.totals.recorderCaptured > 0);
    assert.deepEqual([st.recorder.recordings, st.recorder.masks], [0, 0], 'nothing left programmed');

    // Bad input: each a clear error, nothing started.
    for (const [args, re] of [
      [['198.18.0.0/24 0 198.18.100.1/32 80'], /expected 5 fields/],
      [['198.18.0.1/24 0 198.18.100.1/32 80 TCP'], /host bits set/],
      [['198.18.0.0/24 0 198.18.100.1/32 80 TCP', '198.18.0.0/24 0 198.18.100.1/32 80 TCP'], /given twice/],
      [['198.18.0.0/24 0 198.18.100.1/32 80 TCP', '--time-limit', 'soon'], /not a duration/],
    ] as Array<[string[], RegExp]>) {
      const r = t.run('', ['node', WEFT, 'record', ...args, '--api', api]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    const bad = t.run('', [
      'node',
      WEFT,
      'record',
      '198.18.0.0/24 0 198.18.100.1/32 80 TCP',
      '--api',
      nodes[0].agent.api,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /recording directory .*not-a-directory\/rec/);
    assert.match(t.must('', ['node', WEFT, 'record', 'list', '--json', '--api', nodes[0].agent.api]), /^\[\]/);
  });
});

test('recorder on a backend node: the IPIP packet as it arrives and the decapsulated packet toward the endpoint', {
  timeout: 180000,
}, async () => {
  await withTopology('recb', async (t) => {
    const { client, nodes } = await lbTopology(t, `dir:${join(t.dir, 'store')}`, 1, {
      backend: { recorder: { directory: join(t.dir, 'rec') } },
    });
    await sleep(500);
    const recs = await Promise.all(nodes.map((n) => record(t, n.agent.api, ['198.18.0.0/24 0 198.19.0.0/16 0 ANY'])));
    for (let i = 0; i < 6; i++) t.must(client, ['curl', '-s', '--max-time', '5', `http://${VIP4}/`]);
    await sleep(300);
    let ipip = 0;
    let inner = 0;
    for (const r of recs) {
      const lines = readBoth(t, await finish(r));
      ipip += lines.filter((l) =>
        /IP 198\.18\.0\.15 > 198\.19\.\d+\.\d+: IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80:/.test(l),
      ).length;
      inner += lines.filter((l) => /^\S+ IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80:/.test(l)).length;
    }
    assert.ok(ipip >= 6 * 5, `${ipip} IPIP packets arriving`);
    assert.equal(inner, ipip, 'each one again, decapsulated, on its way to the endpoint');
  });
});
