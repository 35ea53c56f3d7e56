// The real `wg` tool against a Weft UAPI device (test/wireguard-uapi/uapi-device-runner), and
// the same `wg` commands against a real wireguard-go interface in a namespace: what `wg`
// prints must be the same for both, and must be what the Weft model holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO, Topology, sleep, waitExit } from './harness.js';
import { exchange } from '../test/wireguard-uapi/helpers.js';

const RUNNER = join(REPO, 'dist', 'test', 'wireguard-uapi', 'uapi-device-runner.js');
const RUN_DIR = '/var/run/wireguard';
const b64ToHex = (s: string): string => Buffer.from(s.trim(), 'base64').toString('hex');

interface PeerDump {
  publicKey: string;
  presharedKey: string | null;
  endpoint: string | null;
  persistentKeepaliveInterval: number;
  allowedIps: string[];
  lastHandshakeSec: string;
  rxBytes: string;
  txBytes: string;
}
interface DeviceDump {
  version: number;
  publicKey: string | null;
  listenPort: number;
  fwmark: number;
  peers: PeerDump[];
}

/** The runner process: JSON commands on stdin, one {"reply"} line back for each. */
class Runner {
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  readonly proc: ChildProcess;
  stderr = '';

  constructor(ifname: string) {
    this.proc = spawn(process.execPath, [RUNNER, ifname], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr!.on('data', (d) => (this.stderr += d.toString()));
  }

  /** The next stdout line with this key, bounded in time. */
  async next<T>(key: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => key in (JSON.parse(l) as object));
      if (i >= 0) return (JSON.parse(this.lines.splice(i, 1)[0]) as Record<string, T>)[key];
      if (Date.now() > deadline)
        throw new Error(`runner: no "${key}" line within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(100)]);
    }
  }

  async call<T>(cmd: object): Promise<T> {
    this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return this.next<T>('reply');
  }

  async stop(): Promise<void> {
    this.proc.stdin!.end();
    if ((await waitExit(this.proc, 3000)) === undefined) {
      this.proc.kill('SIGKILL');
      await waitExit(this.proc, 2000);
    }
  }
}

/** `wg showconf` with peers sorted by key (wireguard-go lists peers in map order). */
function normalizeConf(text: string): string {
  const sections = text
    .trim()
    .split(/\n(?=\[)/)
    .map((s) => s.trim());
  const [iface, ...peers] = sections;
  return [iface, ...peers.sort()].join('\n\n');
}

/** `wg show IF dump` lines with peers sorted. */
function normalizeDump(text: string): string {
  const [head, ...peers] = text.trim().split('\n');
  return [head, ...peers.sort()].join('\n');
}

/** A `get` answer with peer blocks sorted, so map order in wireguard-go does not matter. */
function normalizeGet(text: string): string {
  const status = /errno=-?\d+\n\n$/.exec(text)?.[0] ?? '(no status)';
  const blocks = text.slice(0, text.length - (status === '(no status)' ? 0 : status.length)).split(/(?=^public_key=)/m);
  const [device, ...peers] = blocks[0].startsWith('public_key=') ? ['', ...blocks] : blocks;
  return [device, ...peers.sort(), status].join('');
}

async function waitForSocket(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const hex = (byte: number): string => Buffer.alloc(32, byte).toString('hex');
const OWN_PRIV = hex(0x07);
/** Public key of OWN_PRIV. */
const OWN_PUB = '13be4feaeaf204c7fd3358fc9c00721881d174278128227ec674f37f7fe97b6d';
const [PA, PB, PC, PD] = [hex(0xa1), hex(0xb2), hex(0xc3), hex(0xd4)];

/** Valid sets exercising each key's semantics; after each, both devices must answer `get` identically. */
const VALID_SETS: string[][] = [
  [
    `private_key=${hex(0x42)}`,
    'listen_port=51871',
    'fwmark=7',
    `public_key=${PA}`,
    `preshared_key=${hex(0x5a)}`,
    'endpoint=198.18.0.9:51871',
    'persistent_keepalive_interval=25',
    'replace_allowed_ips=true',
    'allowed_ip=198.18.70.0/24',
    'allowed_ip=2001:db8:70::/64',
  ],
  [`public_key=${PB}`, 'update_only=true', 'allowed_ip=198.18.71.0/24'],
  [`public_key=${PA}`, 'update_only=true', 'endpoint=[2001:db8::9]:51871'],
  [`public_key=${PB}`, 'endpoint=198.18.0.10:1', 'update_only=true'],
  [
    `public_key=${PB}`,
    'allowed_ip=198.18.70.5/24',
    'allowed_ip=198.18.72.0/24',
    `public_key=${PA}`,
    'allowed_ip=2001:db8:70::/64',
  ],
  [
    `public_key=${PA.toUpperCase()}`,
    'allowed_ip=2001:DB8:0071:0::1/64',
    'allowed_ip=::ffff:198.18.0.1/128',
    'endpoint=[::ffff:198.18.0.9]:7',
  ],
  [
    `public_key=${PA}`,
    'remove=true',
    'endpoint=198.18.0.11:1',
    'allowed_ip=198.18.79.0/24',
    `public_key=${PC}`,
    'remove=true',
  ],
  [
    `public_key=${PC}`,
    'allowed_ip=198.18.73.0/24',
    `public_key=${PC}`,
    'allowed_ip=198.18.74.0/24',
    'protocol_version=1',
  ],
  [
    'replace_peers=true',
    `public_key=${PC}`,
    'allowed_ip=198.18.75.0/24',
    `public_key=${OWN_PUB}`,
    'allowed_ip=198.18.76.0/24',
  ],
  [`private_key=${OWN_PRIV}`],
  [
    `public_key=${OWN_PUB}`,
    'allowed_ip=198.18.77.0/24',
    `public_key=${PC}`,
    'replace_allowed_ips=true',
    `preshared_key=${hex(0)}`,
    'persistent_keepalive_interval=0',
  ],
  // (Not listen_port=0: wireguard-go then binds a random port and reports it; see recordBoundPort.)
  ['fwmark=0', `private_key=${hex(0)}`, `public_key=${OWN_PUB}`, 'allowed_ip=198.18.77.0/24'],
  [`private_key=${OWN_PRIV}`, 'listen_port=00051871'],
];

/**
 * Invalid sets whose errno wireguard-go and Weft agree on (Weft applies none of them; wireguard-go may apply the lines
 * before the bad one).
 */
const INVALID_SETS: string[][] = [
  ['listen_port=65536'],
  ['listen_port'],
  ['bogus=1'],
  ['endpoint=198.18.0.9:1'],
  ['replace_peers=false'],
  ['fwmark=-1'],
  [`private_key=${'zz'.repeat(32)}`],
  [`public_key=${'ab'.repeat(31)}`],
  [`public_key=${PD}`, 'listen_port=1'],
  [`public_key=${PC}`, 'remove=1'],
  [`public_key=${PC}`, 'update_only=false'],
  [`public_key=${PC}`, 'protocol_version=2'],
  [`public_key=${PC}`, 'endpoint=198.18.0.9'],
  [`public_key=${PC}`, 'endpoint=2001:db8::9:1'],
  [`public_key=${PC}`, 'endpoint=[198.18.0.9]:1'],
  [`public_key=${PC}`, 'persistent_keepalive_interval=65536'],
  [`public_key=${PC}`, 'allowed_ip=198.18.70.0/33'],
  [`public_key=${PC}`, 'allowed_ip=198.18.70.0'],
  [`public_key=${PC}`, 'replace_allowed_ips=yes'],
];

test('raw UAPI: the same sets give the same errno and the same get on Weft and wireguard-go', {
  timeout: 60_000,
}, async () => {
  const t = new Topology('wgu');
  const id = process.pid % 100000;
  const weftIf = `wtua${id}1`;
  const goIf = `wtug${id}1`;
  let runner: Runner | undefined;
  try {
    runner = new Runner(weftIf);
    await runner.next<string>('ready');
    const ns = t.ns('raw');
    const wggo = t.spawn(ns, [
      'env',
      'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1',
      'WG_PROCESS_FOREGROUND=1',
      'wireguard-go',
      goIf,
    ]);
    await waitForSocket(join(RUN_DIR, `${goIf}.sock`), 10_000).catch((e: Error) => {
      throw new Error(`${e.message}\nwireguard-go: ${wggo.output()}`);
    });
    const ask = (req: string): Promise<[string, string]> =>
      Promise.all([exchange(join(RUN_DIR, `${weftIf}.sock`), req), exchange(join(RUN_DIR, `${goIf}.sock`), req)]);
    for (const [i, lines] of VALID_SETS.entries()) {
      const [ws, gs] = await ask(`set=1\n${lines.join('\n')}\n\n`);
      assert.equal(ws, 'errno=0\n\n', `Weft refused valid set ${i}: ${lines.join(' | ')}`);
      assert.equal(gs, 'errno=0\n\n', `wireguard-go refused valid set ${i}`);
      const [wg, gg] = await ask('get=1\n\n');
      if (process.env.WGU_VERBOSE) console.log(`--- set ${i}\n${wg}`);
      assert.equal(normalizeGet(wg), normalizeGet(gg), `get after set ${i}: ${lines.join(' | ')}`);
    }
    const [weftBefore] = await ask('get=1\n\n');
    for (const lines of INVALID_SETS) {
      const [ws, gs] = await ask(`set=1\n${lines.join('\n')}\n\n`);
      assert.equal(ws, gs, `errno for ${lines.join(' | ')}`);
      assert.match(ws, /^errno=-(22|71)\n\n$/);
    }
    const [weftAfter, goAfter] = await ask('get=1\n\n');
    assert.equal(weftAfter, weftBefore, 'Weft applied nothing of the refused sets');
    // wireguard-go applies lines up to the bad one: peer D was created by "public_key=D / listen_port=1".
    assert.match(goAfter, new RegExp(`public_key=${PD}`));
    assert.doesNotMatch(weftAfter, new RegExp(`public_key=${PD}`));
  } finally {
    await runner?.stop();
    await t.cleanup();
    for (const f of [weftIf, goIf]) rmSync(join(RUN_DIR, `${f}.sock`), { force: true });
  }
});

test('wg set / show / showconf / syncconf / setconf on a Weft UAPI device, compared with wireguard-go', {
  timeout: 120_000,
}, async () => {
  const t = new Topology('wgu');
  const id = process.pid % 100000;
  const weftIf = `wtua${id}0`;
  const goIf = `wtug${id}0`;
  let runner: Runner | undefined;
  try {
    runner = new Runner(weftIf);
    assert.equal(await runner.next<string>('ready'), join(RUN_DIR, `${weftIf}.sock`));

    const ns = t.ns('go');
    const wggo = t.spawn(ns, [
      'env',
      'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1',
      'WG_PROCESS_FOREGROUND=1',
      'wireguard-go',
      goIf,
    ]);
    await waitForSocket(join(RUN_DIR, `${goIf}.sock`), 10_000).catch((e: Error) => {
      throw new Error(`${e.message}\nwireguard-go: ${wggo.output()}`);
    });

    // Keys, as files the way `wg` reads them.
    const key = (name: string, argv: string[], input?: string): string => {
      const v = t.must('', argv, 5000, input).trim();
      writeFileSync(join(t.dir, name), `${v}\n`, { mode: 0o600 });
      return v;
    };
    const priv = key('priv', ['wg', 'genkey']);
    const pubA = t.must('', ['wg', 'pubkey'], 5000, key('a.priv', ['wg', 'genkey'])).trim();
    const pubB = t.must('', ['wg', 'pubkey'], 5000, key('b.priv', ['wg', 'genkey'])).trim();
    const pubC = t.must('', ['wg', 'pubkey'], 5000, key('c.priv', ['wg', 'genkey'])).trim();
    const psk = key('psk', ['wg', 'genpsk']);
    const file = (name: string): string => join(t.dir, name);

    // Every `wg` command runs on both interfaces; their outputs must agree.
    const wg = (iface: string, args: string[]): string =>
      t.must(iface === goIf ? ns : '', ['wg', ...args.map((a) => (a === 'IF' ? iface : a))], 10_000);
    const both = (args: string[]): [string, string] => [wg(weftIf, args), wg(goIf, args)];
    const sameConf = (what: string): string => {
      const [w, g] = both(['showconf', 'IF']);
      if (process.env.WGU_VERBOSE) console.log(`--- ${what}\n${w}\n--- wireguard-go\n${g}`);
      assert.equal(normalizeConf(w), normalizeConf(g), `showconf after ${what}`);
      const [wd, gd] = both(['show', 'IF', 'dump']);
      assert.equal(normalizeDump(wd), normalizeDump(gd), `dump after ${what}`);
      return w;
    };
    const dump = (): Promise<DeviceDump> => runner!.call<DeviceDump>({ op: 'dump' });

    // 1. wg set: key, port, one peer with everything.
    both([
      'set',
      'IF',
      'private-key',
      file('priv'),
      'listen-port',
      '51871',
      'peer',
      pubA,
      'allowed-ips',
      '198.18.70.0/24,2001:db8:70::/64',
      'endpoint',
      '198.18.0.9:51871',
      'persistent-keepalive',
      '25',
    ]);
    const conf1 = sameConf('wg set');
    assert.match(conf1, new RegExp(`PrivateKey = ${priv.replace(/[+/]/g, '\\$&')}`));
    let m = await dump();
    assert.equal(m.publicKey, b64ToHex(t.must('', ['wg', 'pubkey'], 5000, `${priv}\n`)));
    assert.equal(m.listenPort, 51871);
    assert.deepEqual(
      m.peers.map((p) => [p.publicKey, p.endpoint, p.persistentKeepaliveInterval, p.allowedIps]),
      [[b64ToHex(pubA), '198.18.0.9:51871', 25, ['198.18.70.0/24', '2001:db8:70::/64']]],
    );

    // 2. What the dataplane writes shows in `wg show`: latest handshake and transfer.
    const hsSec = Math.floor(Date.now() / 1000) - 65;
    assert.deepEqual(
      await runner.call({
        op: 'stats',
        peer: b64ToHex(pubA),
        handshakeSec: hsSec,
        handshakeNsec: 7,
        rx: 1234567,
        tx: 3456,
      }),
      { ok: true },
    );
    const show = wg(weftIf, ['show', 'IF']);
    assert.match(show, new RegExp(`peer: ${pubA.replace(/[+/]/g, '\\$&')}`));
    assert.match(show, /latest handshake: 1 minute, \d+ seconds? ago/);
    assert.match(show, /transfer: 1\.18 MiB received, 3\.3\d KiB sent/);
    assert.match(show, /allowed ips: 198\.18\.70\.0\/24, 2001:db8:70::\/64/);
    const peerLine = wg(weftIf, ['show', 'IF', 'dump']).trim().split('\n')[1].split('\t');
    assert.deepEqual(peerLine, [
      pubA,
      '(none)',
      '198.18.0.9:51871',
      '198.18.70.0/24,2001:db8:70::/64',
      String(hsSec),
      '1234567',
      '3456',
      '25',
    ]);
    assert.equal(wg(weftIf, ['show', 'IF', 'latest-handshakes']).trim(), `${pubA}\t${hsSec}`);
    assert.equal(wg(weftIf, ['show', 'IF', 'transfer']).trim(), `${pubA}\t1234567\t3456`);
    // Put the counters back to zero so the dumps of both implementations compare again.
    await runner.call({ op: 'stats', peer: b64ToHex(pubA), handshakeSec: 0, rx: 0, tx: 0 });

    // 3. A second peer with a preshared key takes one of A's prefixes (it moves), plus one of its own.
    both(['set', 'IF', 'peer', pubB, 'preshared-key', file('psk'), 'allowed-ips', '198.18.71.0/24,2001:db8:70::/64']);
    sameConf('a prefix moving to peer B');
    m = await dump();
    const a = m.peers.find((p) => p.publicKey === b64ToHex(pubA));
    const bPeer = m.peers.find((p) => p.publicKey === b64ToHex(pubB));
    assert.deepEqual(a?.allowedIps, ['198.18.70.0/24']);
    assert.deepEqual(bPeer?.allowedIps, ['198.18.71.0/24', '2001:db8:70::/64']);
    assert.equal(bPeer?.presharedKey, b64ToHex(psk));

    // 4. Remove peer A.
    both(['set', 'IF', 'peer', pubA, 'remove']);
    sameConf('removing peer A');
    m = await dump();
    assert.deepEqual(
      m.peers.map((p) => p.publicKey),
      [b64ToHex(pubB)],
    );

    // 5. syncconf: incremental (B keeps its counters), C added, port and B's prefixes changed.
    await runner.call({ op: 'stats', peer: b64ToHex(pubB), rx: 4242, tx: 2121 });
    writeFileSync(
      file('sync.conf'),
      [
        '[Interface]',
        `PrivateKey = ${priv}`,
        'ListenPort = 51872',
        '',
        '[Peer]',
        `PublicKey = ${pubB}`,
        `PresharedKey = ${psk}`,
        'AllowedIPs = 198.18.71.0/24, 198.18.73.0/24',
        '',
        '[Peer]',
        `PublicKey = ${pubC}`,
        'AllowedIPs = 198.18.72.0/24, 2001:db8:72::/64',
        'Endpoint = [2001:db8::9]:51871',
        'PersistentKeepalive = 0',
        '',
      ].join('\n'),
    );
    both(['syncconf', 'IF', file('sync.conf')]);
    m = await dump();
    assert.equal(m.listenPort, 51872);
    const b2 = m.peers.find((p) => p.publicKey === b64ToHex(pubB));
    assert.deepEqual(b2?.allowedIps, ['198.18.71.0/24', '198.18.73.0/24']);
    assert.equal(b2?.rxBytes, '4242', 'syncconf updated B in place');
    const c = m.peers.find((p) => p.publicKey === b64ToHex(pubC));
    assert.equal(c?.endpoint, '[2001:db8::9]:51871');
    await runner.call({ op: 'stats', peer: b64ToHex(pubB), rx: 0, tx: 0 });
    sameConf('wg syncconf');

    // 6. setconf replaces every peer.
    writeFileSync(
      file('set.conf'),
      [
        '[Interface]',
        `PrivateKey = ${priv}`,
        'ListenPort = 51873',
        'FwMark = 0x2a',
        '',
        '[Peer]',
        `PublicKey = ${pubA}`,
        'AllowedIPs = 0.0.0.0/0, ::/0',
        '',
      ].join('\n'),
    );
    both(['setconf', 'IF', file('set.conf')]);
    sameConf('wg setconf');
    m = await dump();
    assert.equal(m.fwmark, 42);
    assert.deepEqual(
      m.peers.map((p) => [p.publicKey, p.allowedIps]),
      [[b64ToHex(pubA), ['0.0.0.0/0', '::/0']]],
    );

    // 7. `wg show` without arguments lists the Weft interface with the others.
    assert.match(t.must('', ['wg', 'show', 'interfaces'], 10_000), new RegExp(`\\b${weftIf}\\b`));

    // 8. Raw invalid sets: the same errno from both, and neither changes.
    const before = [wg(weftIf, ['showconf', 'IF']), wg(goIf, ['showconf', 'IF'])];
    for (const bad of [
      'listen_port=65536',
      'bogus=1',
      'listen_port',
      `public_key=${'zz'.repeat(32)}`,
      `public_key=${b64ToHex(pubA)}\nprotocol_version=2`,
      `public_key=${b64ToHex(pubA)}\nendpoint=198.18.0.9`,
      `public_key=${b64ToHex(pubA)}\nallowed_ip=198.18.70.0/33`,
    ]) {
      const req = `set=1\n${bad}\n\n`;
      const [w, g] = await Promise.all([
        exchange(join(RUN_DIR, `${weftIf}.sock`), req),
        exchange(join(RUN_DIR, `${goIf}.sock`), req),
      ]);
      assert.equal(w, g, `errno for ${JSON.stringify(bad)}`);
      assert.match(w, /^errno=-\d+\n\n$/);
    }
    assert.deepEqual([wg(weftIf, ['showconf', 'IF']), wg(goIf, ['showconf', 'IF'])], before);

    // 9. The Weft socket goes away with the process.
    await runner.stop();
    assert.equal(existsSync(join(RUN_DIR, `${weftIf}.sock`)), false);
    assert.equal(t.run('', ['wg', 'show', weftIf], 5000).code !== 0, true);
  } finally {
    await runner?.stop();
    await t.cleanup();
    for (const f of [weftIf, goIf]) rmSync(join(RUN_DIR, `${f}.sock`), { force: true });
  }
});
