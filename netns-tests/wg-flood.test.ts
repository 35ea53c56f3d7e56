// A flood of forged WireGuard initiations against a Weft node, with wireguard-go as the real
// peer (set up as in wg-dataplane.test.ts). The flood comes from its own namespace behind a
// second uplink, from several source addresses and ports: thousands of initiations a second,
// random contents, a valid MAC1 (an attacker needs only our public key for that). The node
// must answer with cookie replies instead of Diffie-Hellmans, the real peer must still
// complete its handshake within REKEY_TIMEOUT × 3 = 15 s of its first attempt (it gets a
// cookie too, and retries with MAC2 at its next REKEY_TIMEOUT), and `weft status` must keep
// answering within 2 s throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { wgKeys, wgNodeConfig } from './wg-setup.js';
import { withTopology, sleep, type Topology, WEFT, REPO } from './harness.js';

const GO_ENV = ['env', 'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1', 'WG_PROCESS_FOREGROUND=1'];
const FLOOD = join(REPO, 'dist', 'netns-tests', 'tools', 'wg-flood.js');
/** Forged initiations per second (WG_FLOOD_RATE overrides, to probe the limits). */
const FLOOD_RATE = Number(process.env.WG_FLOOD_RATE ?? 5000);
const FLOOD_SECONDS = 35;
const FLOOD_SOURCES = ['198.18.2.2', '198.18.2.3', '198.18.2.4', '198.18.2.5'];

interface WgStatus {
  refused: Record<string, number>;
  handshakes: number;
  handshakePool: {
    submitted: number;
    refused: number;
    identified: number;
    unidentified: number;
    stale: number;
    maxInFlightSeen: number;
    maxInFlight: number;
  } | null;
}

interface FloodReport {
  t: number;
  sent: number;
  sendErrors: number;
  cookieReplies: number;
  otherReplies: number;
}

/** `weft status --json` and how long it took. */
function status(t: Topology, api: string): { ms: number; wg: WgStatus } {
  const t0 = performance.now();
  const out = t.must('', ['node', WEFT, 'status', '--json', '--api', api], 10000);
  return { ms: performance.now() - t0, wg: (JSON.parse(out) as { wireguard: WgStatus }).wireguard };
}

function lastReport(output: string): FloodReport | null {
  const lines = output
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as FloodReport) : null;
}

test('WireGuard under a flood of forged initiations: cookie replies, the real peer still handshakes, status answers', {
  timeout: 90000,
}, async (tc) => {
  await withTopology('wgf', async (t) => {
    const node = t.ns('node');
    const ep = t.ns('ep');
    const gons = t.ns('go');
    const fl = t.ns('flood');
    const wgIf = `${t.prefix}w`.slice(0, 15);
    const goIf = 'wgfgo0'; // its UAPI socket is in the shared /var/run/wireguard: a name of its own
    const { key: weftKey, pub: weftPub } = wgKeys(t, 'weft');
    const { file: goKeyFile, pub: goPub } = wgKeys(t, 'go');
    let goProc: ReturnType<Topology['spawn']> | undefined;
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
              addresses: ['198.18.0.1/24'],
              peerAddresses: ['198.18.0.2/24'],
            },
            {
              name: 'up1',
              kind: 'uplink',
              netns: fl,
              ifname: 'up1',
              addresses: ['198.18.2.1/24'],
              peerAddresses: ['198.18.2.2/24'],
            },
          ],
          wgIf,
          privateKey: weftKey,
          addresses: ['198.18.60.1/24'],
        }),
      );
      t.must('', ['wg', 'set', wgIf, 'peer', goPub, 'allowed-ips', '198.18.60.2/32', 'endpoint', '198.18.0.2:51820']);
      for (const a of FLOOD_SOURCES.slice(1)) t.must(fl, ['ip', 'addr', 'add', `${a}/24`, 'dev', 'up1']);

      const quiet = status(t, agent.api);
      assert.equal(quiet.wg.handshakePool?.submitted ?? 0, 0);

      // The flood, from 4 addresses × 4 ports.
      const flood = t.spawn(fl, [
        'node',
        FLOOD,
        '--target',
        '198.18.2.1:51871',
        '--public-key',
        weftPub,
        '--sources',
        FLOOD_SOURCES.join(','),
        '--ports-per-source',
        '4',
        '--rate',
        String(FLOOD_RATE),
        '--seconds',
        String(FLOOD_SECONDS),
      ]);
      const statusMs: number[] = [];
      const probe = (): WgStatus => {
        const s = status(t, agent.api);
        statusMs.push(s.ms);
        return s.wg;
      };
      // Under way: the node answers with cookies.
      let underWay: WgStatus | undefined;
      for (let i = 0; i < 20; i++) {
        await sleep(250);
        underWay = probe();
        if ((underWay.refused.cookieSent ?? 0) > 1000) break;
      }
      assert.ok(
        (underWay?.refused.cookieSent ?? 0) > 1000,
        `cookie replies once the flood runs: ${JSON.stringify(underWay)}`,
      );
      const c0 = { at: performance.now(), cookies: underWay!.refused.cookieSent };

      // The real peer comes up during the flood and starts its first handshake with the first ping.
      goProc = t.spawn(gons, [...GO_ENV, 'wireguard-go', goIf]);
      for (let i = 0; i < 50 && t.run(gons, ['wg', 'show', goIf]).code !== 0; i++) await sleep(100);
      t.must(gons, [
        'wg',
        'set',
        goIf,
        'listen-port',
        '51820',
        'private-key',
        goKeyFile,
        'peer',
        weftPub,
        'allowed-ips',
        '198.18.60.1/32,198.19.1.0/24',
        'endpoint',
        '198.18.0.1:51871',
      ]);
      t.must(gons, ['ip', 'addr', 'add', '198.18.60.2/24', 'dev', goIf]);
      t.must(gons, ['ip', 'link', 'set', goIf, 'up']);
      t.must(gons, ['ip', 'route', 'add', '198.19.1.0/24', 'dev', goIf]);
      const pingStart = Date.now();
      // -D: the reply carries its wall time, so status probes in between do not blur the figure.
      const ping = t.spawn(gons, ['ping', '-D', '-c', '1', '-w', '20', '198.19.1.10']);
      while (ping.proc.exitCode === null && ping.proc.signalCode === null && Date.now() - pingStart < 25000) {
        probe();
        await sleep(300);
      }
      const m = /^\[(\d+\.\d+)\] \d+ bytes from 198\.19\.1\.10/m.exec(ping.output());
      assert.ok(m, `no reply through the tunnel during the flood:\n${ping.output()}`);
      const handshakeMs = Number(m[1]) * 1000 - pingStart;
      assert.ok(
        handshakeMs < 15000,
        `the real peer needed ${Math.round(handshakeMs)} ms; refused ${JSON.stringify(probe().refused)}`,
      );

      // Still flooding: more cookies, the tunnel keeps working, status keeps answering.
      assert.ok(flood.proc.exitCode === null, `the flood ended early:\n${flood.output()}`);
      assert.match(t.must(ep, ['ping', '-c', '3', '-i', '0.3', '-W', '3', '198.18.60.2'], 20000), /3 received/);
      const during = probe();
      const cookieRate = (during.refused.cookieSent - c0.cookies) / ((performance.now() - c0.at) / 1000);
      const sent = lastReport(flood.output());
      assert.ok(during.handshakes >= 1, 'handshakes counted');
      assert.ok(
        sent !== null && sent.cookieReplies > 1000,
        `the flood got cookie replies back: ${JSON.stringify(sent)}`,
      );
      const slowest = Math.max(...statusMs);
      assert.ok(
        slowest < 2000,
        `weft status took up to ${Math.round(slowest)} ms: ${statusMs.map(Math.round).join(' ')}`,
      );
      const show = t.must('', ['wg', 'show', wgIf]);
      assert.match(show, /latest handshake: .* ago/);
      tc.diagnostic(
        `flood: ${sent?.sent} forged initiations in ${sent?.t} s, ${sent?.cookieReplies} cookie replies received ` +
          `by the flooder; ` +
          `cookieSent ${Math.round(cookieRate)}/s; real peer handshake + first ping ${Math.round(handshakeMs)} ms; ` +
          `weft status ${statusMs.length} calls, median ` +
          `${Math.round(statusMs.sort((a, b) => a - b)[statusMs.length >> 1])} ms, max ${Math.round(slowest)} ms ` +
          `(quiet ${Math.round(quiet.ms)} ms); ` +
          `refused ${JSON.stringify(during.refused)}; pool ${JSON.stringify(during.handshakePool)}`,
      );
      flood.proc.kill('SIGTERM');
      assert.equal((await agent.status()).health, 'ok');
    } finally {
      if (goProc && goProc.proc.exitCode === null) {
        goProc.proc.kill('SIGTERM');
        for (let i = 0; i < 30 && goProc.proc.exitCode === null && goProc.proc.signalCode === null; i++)
          await sleep(100);
      }
      rmSync(`/var/run/wireguard/${goIf}.sock`, { force: true });
    }
  });
});
