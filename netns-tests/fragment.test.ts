// IPv4 fragmentation by the router: ep2's port has MTU 1400, ep1's 1500. Packets without DF
// that ep1 sends above 1400 bytes are fragmented by Weft toward ep2, whose kernel reassembles
// them; tcpdump in ep2 sees the fragments. (DF packets still get frag needed: icmp-errors.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology, twoEndpoints, sleep } from './harness.js';

/** An IPv4 packet as `tcpdump -v` shows it. */
interface Seen {
  id: number;
  offset: number;
  more: boolean;
  proto: string;
  length: number;
}

function parseCapture(out: string): Seen[] {
  const re =
    /IP \(tos 0x[0-9a-f]+, ttl (\d+), id (\d+), offset (\d+), flags \[([^\]]*)\], proto (\w+) \(\d+\), length (\d+)/g;
  return [...out.matchAll(re)].map((m) => ({
    id: Number(m[2]),
    offset: Number(m[3]),
    more: m[4].includes('+'),
    proto: m[5],
    length: Number(m[6]),
  }));
}

/** The packets of one IP datagram (one id), by offset. */
function byDatagram(seen: Seen[], proto: string): Seen[][] {
  const groups = new Map<number, Seen[]>();
  for (const s of seen.filter((x) => x.proto === proto)) groups.set(s.id, [...(groups.get(s.id) ?? []), s]);
  return [...groups.values()].map((g) => g.sort((x, y) => x.offset - y.offset));
}

const RECEIVER = `
import socket, hashlib
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('198.19.1.20', 9999))
s.settimeout(15)
print('ready', flush=True)
d, a = s.recvfrom(65535)
print('got', len(d), hashlib.sha256(d).hexdigest(), flush=True)
`;

const SENDER = `
import socket, hashlib
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: no DF
d = bytes((i * 7 + 3) & 255 for i in range(4000))
s.sendto(d, ('198.19.1.20', 9999))
print('sent', len(d), hashlib.sha256(d).hexdigest(), flush=True)
`;

test('packets without DF above the egress MTU are fragmented by the router and reassembled by the receiver', {
  timeout: 90000,
}, async () => {
  await withTopology('frag', async (t) => {
    const { ep1, ep2, agent } = await twoEndpoints(t, { mtu2: 1400 });
    const cap = t.spawn(ep2, ['tcpdump', '-n', '-l', '-v', '-i', 'eth0', 'ip and src host 198.19.1.10']);
    await sleep(1000);

    // ICMP echo of 2000 bytes: ep1 sends 1500 + 548 bytes of IP; Weft cuts the first into
    // 1396 + 124 for ep2's port (1376 bytes of data, a multiple of 8); ep2 answers.
    const ping = t.run(
      ep1,
      ['ping', '-c', '3', '-i', '0.3', '-W', '2', '-M', 'dont', '-s', '2000', '198.19.1.20'],
      20000,
    );
    assert.match(
      ping.stdout,
      /3 packets transmitted, 3 received/,
      `ping -M dont -s 2000:\n${ping.stdout}${ping.stderr}`,
    );
    assert.match(ping.stdout, /2008 bytes from 198\.19\.1\.20: icmp_seq=1 ttl=63/);

    // A UDP datagram of 4000 bytes arrives whole.
    const rx = t.spawn(ep2, ['python3', '-c', RECEIVER]);
    for (let i = 0; i < 50 && !rx.output().includes('ready'); i++) await sleep(100);
    assert.match(rx.output(), /ready/, `UDP receiver did not start: ${rx.output()}`);
    const sent = t.must(ep1, ['python3', '-c', SENDER]);
    const digest = /sent 4000 ([0-9a-f]{64})/.exec(sent)?.[1];
    assert.ok(digest, `sender: ${sent}`);
    for (let i = 0; i < 50 && !rx.output().includes('got'); i++) await sleep(100);
    assert.match(rx.output(), new RegExp(`got 4000 ${digest}`), `UDP receiver: ${rx.output()}`);

    for (let i = 0; i < 30 && parseCapture(cap.output()).length < 14; i++) await sleep(100);
    const seen = parseCapture(cap.output());
    assert.ok(seen.length > 0, `tcpdump in ep2 saw nothing:\n${cap.output()}`);
    for (const s of seen)
      assert.ok(s.length <= 1400, `a packet of ${s.length} bytes of IP arrived on the 1400-byte port`);
    const layout = (g: Seen[]): string => g.map((s) => `${s.offset}+${s.length}${s.more ? '+MF' : ''}`).join(' ');
    const pings = byDatagram(seen, 'ICMP');
    assert.equal(pings.length, 3, `echo requests seen: ${pings.map(layout).join(' | ')}`);
    for (const g of pings) assert.equal(layout(g), '0+1396+MF 1376+124+MF 1480+548', 'fragments of one echo request');
    const udps = byDatagram(seen, 'UDP');
    assert.equal(udps.length, 1, `UDP datagrams seen: ${udps.map(layout).join(' | ')}`);
    // ep1 sends 1500 + 1500 + 1068; Weft cuts each 1500 into 1396 + 124.
    assert.equal(layout(udps[0]), '0+1396+MF 1376+124+MF 1480+1396+MF 2856+124+MF 2960+1068');

    const s = await agent.status();
    assert.equal(s.health, 'ok');
    assert.equal(s.totals.fragmented, 5, `fragmented: ${JSON.stringify(s.totals)}`);
    assert.equal(
      (s.totals.fragmentsSent ?? 0) + (s.totals.fragmentsQueued ?? 0),
      10,
      'fragments sent at once, or parked until ep2 was resolved',
    );
    assert.equal(s.totals.fragmentsLost ?? 0, 0);
  });
});
