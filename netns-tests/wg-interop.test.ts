// WireGuard interoperability of Weft's protocol core with the real wireguard-go: namespace A
// runs wireguard-go (configured with `wg set`), namespace B runs netns-tests/tools/wg-peer.js
// (the core over a node:dgram socket). Underlay 198.18.60.0/24, tunnel 198.18.61.0/24 and
// 2001:db8:61::/64.
//   1. Weft initiates with the golden initiation of test/fixtures/wireguard/transcript.json
//      (pinned ephemeral, index and timestamp; wireguard-go holds the transcript's responder
//      key), completes the handshake and gets the kernel's echo replies (IPv4 and IPv6) back
//      through wireguard-go.
//   2. wireguard-go initiates (a ping from A), Weft responds and answers the echo requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTopology, sleep, waitExit, REPO, type Topology } from './harness.js';

interface Transcript {
  initiator_static_private: string;
  initiator_static_public: string;
  responder_static_private: string;
  responder_static_public: string;
  initiator_ephemeral_private: string;
  initiator_index: number;
  wall_ms: number;
  initiation: string;
}

const TOOL = join(REPO, 'dist', 'netns-tests', 'tools', 'wg-peer.js');
const T = (
  JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'wireguard', 'transcript.json'), 'utf8')) as Transcript[]
)[0];
const b64 = (h: string): string => Buffer.from(h, 'hex').toString('base64');
const WEFT_PRIV = b64(T.initiator_static_private);
const WEFT_PUB = b64(T.initiator_static_public);
const WGGO_PRIV = b64(T.responder_static_private);
const WGGO_PUB = b64(T.responder_static_public);

type Line = Record<string, unknown>;
const parseLines = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

function toolConfig(mode: 'initiate' | 'respond', extra: Record<string, unknown>): string {
  return JSON.stringify({
    mode,
    privateKey: WEFT_PRIV,
    peerPublicKey: WGGO_PUB,
    listenPort: 51821,
    local4: '198.18.61.2',
    peer4: '198.18.61.1',
    local6: '2001:db8:61::2',
    peer6: '2001:db8:61::1',
    ...extra,
  });
}

/** (Re)adds Weft as wireguard-go's peer: a fresh peer has no session and no stored timestamp. */
function resetPeer(t: Topology, a: string, ifname: string): void {
  t.must(a, ['wg', 'set', ifname, 'peer', WEFT_PUB, 'remove'], 5000);
  t.must(
    a,
    [
      'wg',
      'set',
      ifname,
      'peer',
      WEFT_PUB,
      'allowed-ips',
      '198.18.61.2/32,2001:db8:61::2/128',
      'endpoint',
      '198.18.60.2:51821',
    ],
    5000,
  );
}

test('Weft WireGuard core and wireguard-go: handshakes either way, ICMP v4 and v6 through the tunnel', {
  timeout: 120000,
}, async () => {
  let sock = '';
  await withTopology('wgi', async (t) => {
    const a = t.ns('a');
    const b = t.ns('b');
    const ifname = t.prefix.slice(0, 15);
    sock = `/var/run/wireguard/${ifname}.sock`;
    rmSync(sock, { force: true });
    try {
      t.must('', ['ip', 'link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
      t.must(a, ['ip', 'addr', 'add', '198.18.60.1/24', 'dev', 'eth0']);
      t.must(b, ['ip', 'addr', 'add', '198.18.60.2/24', 'dev', 'eth0']);
      t.must(a, ['ip', 'link', 'set', 'eth0', 'up']);
      t.must(b, ['ip', 'link', 'set', 'eth0', 'up']);

      const wggo = t.spawn(a, [
        'env',
        'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1',
        'WG_PROCESS_FOREGROUND=1',
        'wireguard-go',
        ifname,
      ]);
      for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
      assert.ok(existsSync(sock), `wireguard-go did not create ${sock}:\n${wggo.output()}`);
      const keyFile = join(t.dir, 'wggo.key');
      writeFileSync(keyFile, `${WGGO_PRIV}\n`, { mode: 0o600 });
      t.must(a, ['wg', 'set', ifname, 'private-key', keyFile, 'listen-port', '51820'], 5000);
      resetPeer(t, a, ifname);
      t.must(a, ['ip', 'addr', 'add', '198.18.61.1/24', 'dev', ifname]);
      t.must(a, ['ip', 'addr', 'add', '2001:db8:61::1/64', 'dev', ifname, 'nodad']);
      t.must(a, ['ip', 'link', 'set', ifname, 'up']);

      // 1. Weft initiates, with the golden initiation first.
      const fixed = { ephemeral: T.initiator_ephemeral_private, index: T.initiator_index, wallMs: T.wall_ms };
      const r1 = t.run(
        b,
        [
          'node',
          TOOL,
          toolConfig('initiate', {
            endpoint: { address: '198.18.60.1', port: 51820 },
            pings: 3,
            timeoutMs: 15000,
            fixed,
          }),
        ],
        25000,
      );
      const l1 = parseLines(r1.stdout);
      const done1 = l1.find((l) => 'done' in l);
      assert.ok(done1, `wg-peer gave no result:\n${r1.stdout}${r1.stderr}\n${wggo.output()}`);
      const firstInit = l1.find((l) => l.event === 'sent' && l.kind === 'initiation');
      assert.equal(firstInit?.hex, T.initiation, 'the first initiation is the golden one');
      assert.ok(
        l1.some((l) => l.event === 'received' && l.kind === 'response'),
        'wireguard-go answered it',
      );
      assert.equal(done1.done, true, `all echo replies came back: ${JSON.stringify(done1)}`);
      assert.equal(done1.handshakes, 1);
      assert.deepEqual(done1.replies, ['4/1', '4/2', '4/3', '6/1', '6/2', '6/3']);
      assert.deepEqual(done1.errors, {});
      const echoes = l1.filter((l) => l.event === 'echo');
      assert.ok(
        echoes.every((e) => e.type === 'reply' && e.checksumOk === true && e.payloadOk === true),
        JSON.stringify(echoes),
      );
      const show1 = t.must(a, ['wg', 'show', ifname, 'dump'], 5000);
      assert.match(show1, /198\.18\.60\.2:51821/, 'wireguard-go learned our endpoint');

      // 2. wireguard-go initiates: a ping from A starts the handshake, Weft responds.
      resetPeer(t, a, ifname);
      const responder = t.spawn(b, ['node', TOOL, toolConfig('respond', { answer: 6, timeoutMs: 20000 })]);
      await sleep(700);
      const p4 = t.run(a, ['ping', '-c', '3', '-i', '0.3', '-W', '3', '198.18.61.2'], 20000);
      const p6 = t.run(a, ['ping', '-6', '-c', '3', '-i', '0.3', '-W', '3', '2001:db8:61::2'], 20000);
      const code = await waitExit(responder.proc, 10000);
      const l2 = parseLines(responder.output());
      assert.match(
        p4.stdout,
        /3 received/,
        `IPv4 ping through the tunnel:\n${p4.stdout}${p4.stderr}\n${responder.output()}`,
      );
      assert.match(p6.stdout, /3 received/, `IPv6 ping through the tunnel:\n${p6.stdout}${p6.stderr}`);
      assert.equal(code, 0);
      const done2 = l2.find((l) => 'done' in l);
      assert.ok(done2 && done2.done === true, responder.output());
      assert.equal(done2.answered, 6);
      assert.ok(
        l2.some((l) => l.event === 'received' && l.kind === 'initiation'),
        'wireguard-go initiated',
      );
      assert.ok(
        l2.some((l) => l.event === 'sent' && l.kind === 'response'),
        'Weft responded',
      );
      assert.ok(l2.filter((l) => l.event === 'echo').every((e) => e.type === 'request' && e.checksumOk === true));
      assert.deepEqual(done2.errors, {});

      const dump = t.must(a, ['wg', 'show', ifname, 'dump'], 5000).trim().split('\n');
      const peer = dump.find((l) => l.startsWith(WEFT_PUB))!.split('\t');
      assert.ok(Number(peer[4]) > 0, 'wireguard-go records a latest handshake');
      assert.ok(Number(peer[5]) > 0 && Number(peer[6]) > 0, `transfer counters: rx ${peer[5]} tx ${peer[6]}`);
    } finally {
      rmSync(sock, { force: true });
    }
  });
  if (sock) rmSync(sock, { force: true });
});
