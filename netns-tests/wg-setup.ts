// WireGuard setup for netns tests: key pairs made by the real `wg` tool (genkey / pubkey), with the
// private key also in a 0600 file (what `wg set private-key FILE` wants).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Topology, sleep } from './harness.js';

export interface WgKeys {
  /** base64 private key */
  key: string;
  /** base64 public key */
  pub: string;
  /** path of a file holding the private key */
  file: string;
}

export function wgKeys(t: Topology, name: string): WgKeys {
  const key = t.must('', ['wg', 'genkey']).trim();
  const pub = t.must('', ['wg', 'pubkey'], 5000, key).trim();
  const file = join(t.dir, `${name}.key`);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, pub, file };
}

/**
 * A standalone Weft node with one endpoint (198.19.1.10, 2001:db8:19:1::10 behind gateway .1)
 * and a WireGuard device, given its uplinks (the peers live behind them).
 */
export function wgNodeConfig(
  t: Topology,
  o: {
    ep: string;
    uplinks: unknown[];
    wgIf: string;
    privateKey: string;
    addresses: string[];
    /** TAP offloads of the endpoint's port (default: the harness's). */
    epOffloads?: 'on' | 'off';
  },
): Record<string, unknown> {
  return {
    node: t.prefix,
    workers: 2,
    gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
    ports: [
      {
        name: 'ep',
        kind: 'endpoint',
        netns: o.ep,
        ipv4: '198.19.1.10',
        ipv6: '2001:db8:19:1::10',
        ...(o.epOffloads ? { offloads: o.epOffloads } : {}),
      },
      ...o.uplinks,
    ],
    wireguard: { interface: o.wgIf, privateKey: o.privateKey, addresses: o.addresses },
  };
}

const GO_ENV = ['env', 'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1', 'WG_PROCESS_FOREGROUND=1'];

/**
 * wireguard-go as interface `ifname` in namespace ns, the peer of a Weft node made by wgNodeConfig
 * (whose WireGuard address is 198.18.60.1, its uplink 198.18.0.1): 198.18.60.2 / 2001:db8:60::2,
 * listening on 51820, routing the node's endpoint subnets through the tunnel.
 */
export function startGo(
  t: Topology,
  ns: string,
  ifname: string,
  key: string,
  weftPub: string,
): { stop: () => Promise<void> } {
  const p = t.spawn(ns, [...GO_ENV, 'wireguard-go', ifname]);
  for (let i = 0; i < 50 && t.run(ns, ['wg', 'show', ifname]).code !== 0; i++) spawnSleep(100);
  t.must(ns, [
    'wg',
    'set',
    ifname,
    'listen-port',
    '51820',
    'private-key',
    key,
    'peer',
    weftPub,
    'allowed-ips',
    '198.18.60.1/32,198.19.1.0/24,2001:db8:60::1/128,2001:db8:19:1::/64',
    'endpoint',
    '198.18.0.1:51871',
  ]);
  t.must(ns, ['ip', 'addr', 'add', '198.18.60.2/24', 'dev', ifname]);
  t.must(ns, ['ip', 'addr', 'add', '2001:db8:60::2/64', 'dev', ifname, 'nodad']);
  t.must(ns, ['ip', 'link', 'set', ifname, 'up']);
  t.must(ns, ['ip', 'route', 'add', '198.19.1.0/24', 'dev', ifname]);
  t.must(ns, ['ip', '-6', 'route', 'add', '2001:db8:19:1::/64', 'dev', ifname]);
  return {
    stop: async () => {
      p.proc.kill('SIGTERM');
      for (let i = 0; i < 50 && p.proc.exitCode === null && p.proc.signalCode === null; i++) await sleep(100);
      rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
    },
  };
}

function spawnSleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
