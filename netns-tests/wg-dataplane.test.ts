// WireGuard in the dataplane against the real wireguard-go: a Weft node with an endpoint and a
// WireGuard device (configured with the real `wg` tool through its UAPI socket), and
// wireguard-go in the namespace behind the node's uplink. Handshakes from either side, ping
// over IPv4 and IPv6, iperf3 both ways, `wg show`, wireguard-go restarting, the peer roaming
// to a new address, `wg set` removing and adding the peer; then hostile datagrams: a captured
// transport packet replayed 1000 times, garbage, truncated and unknown-index messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { wgKeys, wgNodeConfig, startGo } from './wg-setup.js';
import { withTopology, sleep, type Topology, WEFT } from './harness.js';

function counters(t: Topology, api: string): Record<string, number> {
  return (
    JSON.parse(t.must('', ['node', WEFT, 'status', '--json', '--api', api])) as { totals: Record<string, number> }
  ).totals;
}

test('WireGuard dataplane interoperates with wireguard-go: ping, iperf3, wg show/set, restart, roaming, hostile ' +
  'input', {
  timeout: 240000,
}, async () => {
  await withTopology('wgd', async (t) => {
    const node = t.ns('node');
    const ep = t.ns('ep');
    const gons = t.ns('go');
    const wgIf = `${t.prefix}w`.slice(0, 15);
    const goIf = 'wggo0';
    const { key: weftKey, pub: weftPub } = wgKeys(t, 'weft');
    const { file: goKeyFile, pub: goPub } = wgKeys(t, 'go');
    let go: { stop: () => Promise<void> } | undefined;
    try {
      const agent = await t.startAgent(
        node,
        wgNodeConfig(t, {
          ep,
          uplinks: [
            {
              name: 'up0',
              kind: 'uplink',
              netns: gons,
              ifname: 'up0',
              addresses: ['198.18.0.1/24', '2001:db8:18::1/64'],
              peerAddresses: ['198.18.0.2/24', '2001:db8:18::2/64'],
            },
          ],
          wgIf,
          privateKey: weftKey,
          addresses: ['198.18.60.1/24', '2001:db8:60::1/64'],
        }),
      );
      // The peer, with the standard tool, through our UAPI socket.
      t.must('', [
        'wg',
        'set',
        wgIf,
        'peer',
        goPub,
        'allowed-ips',
        '198.18.60.2/32,2001:db8:60::2/128',
        'endpoint',
        '198.18.0.2:51820',
      ]);
      go = startGo(t, gons, goIf, goKeyFile, weftPub);

      // wireguard-go initiates (its ping), our responder answers; then traffic both ways.
      assert.match(t.must(gons, ['ping', '-c', '3', '-i', '0.3', '-W', '3', '198.19.1.10'], 30000), /3 received/);
      assert.match(t.must(ep, ['ping', '-c', '3', '-i', '0.3', '-W', '3', '198.18.60.2'], 30000), /3 received/);
      assert.match(
        t.must(ep, ['ping', '-6', '-c', '3', '-i', '0.3', '-W', '3', '2001:db8:60::2'], 30000),
        /3 received/,
      );
      assert.match(
        t.must(gons, ['ping', '-6', '-c', '2', '-i', '0.3', '-W', '3', '2001:db8:19:1::10'], 30000),
        /2 received/,
      );
      // The node's own address inside the tunnel answers too.
      assert.match(t.must(gons, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.18.60.1'], 30000), /2 received/);

      // iperf3 both ways through the tunnel.
      t.spawn(ep, ['iperf3', '-s', '-1']);
      await sleep(500);
      const up = JSON.parse(t.must(gons, ['iperf3', '-c', '198.19.1.10', '-t', '2', '-J'], 30000)) as {
        end: { sum_received: { bits_per_second: number } };
      };
      assert.ok(
        up.end.sum_received.bits_per_second > 1e6,
        `wireguard-go → Weft ${up.end.sum_received.bits_per_second} bit/s`,
      );
      t.spawn(ep, ['iperf3', '-s', '-1']);
      await sleep(500);
      const down = JSON.parse(t.must(gons, ['iperf3', '-c', '198.19.1.10', '-t', '2', '-R', '-J'], 30000)) as {
        end: { sum_received: { bits_per_second: number } };
      };
      assert.ok(
        down.end.sum_received.bits_per_second > 1e6,
        `Weft → wireguard-go ${down.end.sum_received.bits_per_second} bit/s`,
      );

      // wg show on the Weft interface: the peer, a handshake, transfer.
      await sleep(700);
      const show = t.must('', ['wg', 'show', wgIf]);
      assert.match(show, new RegExp(`peer: ${goPub.replace(/[+/]/g, '\\$&')}`));
      assert.match(show, /latest handshake: .* ago/);
      assert.match(show, /transfer: .* received, .* sent/);
      assert.match(show, /endpoint: 198\.18\.0\.2:51820/);

      // wireguard-go restarts (new interface, no session). Our side keeps sending with keys the
      // peer forgot until the protocol's timer (no answer to data within KEEPALIVE_TIMEOUT +
      // REKEY_TIMEOUT = 15 s) makes it initiate a new handshake: the tunnel recovers.
      await go.stop();
      go = startGo(t, gons, goIf, goKeyFile, weftPub);
      const t0 = Date.now();
      assert.match(t.must(ep, ['ping', '-c', '1', '-w', '40', '198.18.60.2'], 50000), /1 received/);
      assert.ok(Date.now() - t0 < 25000, `recovered after ${Date.now() - t0} ms`);
      assert.match(t.must(ep, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.18.60.2'], 30000), /2 received/);

      // Roaming: the peer moves to a new underlay address and port (wireguard-go rebinds, which
      // also drops its cached source address); its next authenticated packet moves our endpoint.
      t.must(gons, ['ip', 'addr', 'del', '198.18.0.2/24', 'dev', 'up0']);
      t.must(gons, ['ip', 'addr', 'add', '198.18.0.3/24', 'dev', 'up0']);
      t.must(gons, ['wg', 'set', goIf, 'listen-port', '51821']);
      assert.match(t.must(gons, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.19.1.10'], 30000), /2 received/);
      assert.match(t.must(ep, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.18.60.2'], 30000), /2 received/);
      await sleep(700);
      assert.match(t.must('', ['wg', 'show', wgIf, 'endpoints']), /198\.18\.0\.3:51821/);

      // wg set: the peer removed → no route; added back → traffic again.
      t.must('', ['wg', 'set', wgIf, 'peer', goPub, 'remove']);
      assert.doesNotMatch(t.run(ep, ['ping', '-c', '1', '-W', '1', '198.18.60.2']).stdout, / 0% packet loss/);
      t.must('', ['wg', 'set', wgIf, 'peer', goPub, 'allowed-ips', '198.18.60.2/32', 'endpoint', '198.18.0.3:51821']);
      assert.match(t.must(ep, ['ping', '-c', '3', '-i', '0.5', '-W', '3', '198.18.60.2'], 40000), /[1-3] received/);
      // An allowed IP removed (replace with a different set): the IPv6 tunnel address is no longer routed.
      assert.doesNotMatch(t.run(ep, ['ping', '-6', '-c', '1', '-W', '1', '2001:db8:60::2']).stdout, / 0% packet loss/);

      // Hostile datagrams to our listen port from the peer's namespace.
      const before = counters(t, agent.api);
      const cap = t.spawn(gons, [
        'tcpdump',
        '-n',
        '-i',
        'up0',
        '-c',
        '1',
        '-w',
        join(t.dir, 'one.pcap'),
        'udp and dst port 51871 and greater 100',
      ]);
      await sleep(500);
      t.must(gons, ['ping', '-c', '1', '-W', '2', '198.19.1.10'], 10000);
      for (let i = 0; i < 30 && cap.proc.exitCode === null; i++) await sleep(100);
      t.must(
        gons,
        [
          '/usr/bin/python3',
          '-c',
          `
from scapy.all import rdpcap, sendp, Ether, IP, UDP, Raw, conf
import os, struct
conf.verb = 0
pkt = rdpcap("${join(t.dir, 'one.pcap')}")[0]
sendp([pkt] * 1000, iface="up0")
base = Ether(dst=pkt[Ether].dst) / IP(src="198.18.0.3", dst="198.18.0.1") / UDP(sport=51821, dport=51871)
bad = [
  base / Raw(os.urandom(40)),                                       # garbage: no WireGuard type
  base / Raw(b"\\x01\\x00\\x00\\x00" + os.urandom(100)),                # initiation of the wrong size
  base / Raw(b"\\x04\\x00\\x00\\x00" + os.urandom(4)),                  # transport, truncated
  base / Raw(b"\\x04\\x00\\x00\\x00" + struct.pack("<I", 0xdeadbeef) + os.urandom(40)),  # unknown receiver index
  base / Raw(b"\\x01\\x00\\x00\\x00" + os.urandom(144)),                # initiation with a bad MAC1
]
sendp(bad * 10, iface="up0")
`,
        ],
        60000,
      );
      await sleep(500);
      const after = counters(t, agent.api);
      const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
      assert.ok(d('dropWgReplay') >= 1000, `replays dropped: ${d('dropWgReplay')}`);
      assert.ok(d('dropWgMalformed') >= 30, `malformed: ${d('dropWgMalformed')}`);
      assert.ok(d('dropWgUnknownIndex') >= 10, `unknown index: ${d('dropWgUnknownIndex')}`);
      const wgStatus = (
        JSON.parse(t.must('', ['node', WEFT, 'status', '--json', '--api', agent.api])) as {
          wireguard: { refused: Record<string, number> };
        }
      ).wireguard;
      assert.ok((wgStatus.refused.badMac1 ?? 0) >= 10, `bad MAC1 refused: ${JSON.stringify(wgStatus.refused)}`);
      // Still working afterwards.
      assert.match(t.must(ep, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.18.60.2'], 30000), /2 received/);
      assert.equal((await agent.status()).health, 'ok');
    } finally {
      await go?.stop();
    }
  });
});
