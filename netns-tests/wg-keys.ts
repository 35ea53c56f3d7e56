// WireGuard key pairs for netns tests, made by the real `wg` tool (genkey / pubkey), with the
// private key also in a 0600 file (what `wg set private-key FILE` wants).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Topology } from './harness.js';

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
  writeFileSync(file, key + '\n', { mode: 0o600 });
  return { key, pub, file };
}
