// WireGuard setup for netns tests: key pairs made by the real `wg` tool (genkey / pubkey), with the
// private key also in a 0600 file (what `wg set private-key FILE` wants).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from './harness.js';

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
  o: { ep: string; uplinks: unknown[]; wgIf: string; privateKey: string; addresses: string[] },
): Record<string, unknown> {
  return {
    node: t.prefix,
    workers: 2,
    gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
    ports: [
      { name: 'ep', kind: 'endpoint', netns: o.ep, ipv4: '198.19.1.10', ipv6: '2001:db8:19:1::10' },
      ...o.uplinks,
    ],
    wireguard: { interface: o.wgIf, privateKey: o.privateKey, addresses: o.addresses },
  };
}
