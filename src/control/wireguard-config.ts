// The `wireguard:` section of a node's configuration: a WireGuard device in the dataplane,
// configurable like any WireGuard interface with the `wg` tool through its UAPI socket.
//
//   wireguard:
//     interface: wg0                 # /var/run/wireguard/wg0.sock: `wg show wg0`, `wg set wg0 ...`
//     listenPort: 51871              # UDP, on the uplinks' addresses (Cilium's port)
//     privateKey: <base64>           # or privateKeyFile: /path (as `wg genkey` writes); default: generated
//     mtu: 1420                      # the tunnel's MTU: larger packets get frag-needed / are fragmented
//     addresses: [198.18.60.1/24]    # the node's own addresses inside the tunnel
//     maxPeers: 256
//     peers:                         # optional; `wg set` adds and removes them too
//       - publicKey: <base64>
//         endpoint: 198.18.0.2:51820
//         allowedIPs: [198.18.61.0/24]
//         persistentKeepalive: 25    # seconds, 0 = off
//         presharedKey: <base64>
//
// Errors name the field and the value, as the rest of the configuration does.
import { readFileSync } from 'node:fs';
import { parsePrefix, parseAddress, type Prefix } from '../wire/addr.js';
import { ConfigError } from './config.js';

export interface WireGuardPeerConfig {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: { address: string; port: number };
  allowedIPs: Prefix[];
  persistentKeepalive: number;
}

export interface WireGuardConfig {
  interface: string;
  listenPort: number;
  privateKey?: Uint8Array;
  mtu: number;
  addresses: Prefix[];
  maxPeers: number;
  peers: WireGuardPeerConfig[];
}

export const WIREGUARD_DEFAULT_PORT = 51871;
const IFNAME = /^[A-Za-z0-9_=+.-]{1,15}$/;

function fail(where: string, msg: string): never {
  throw new ConfigError(`${where}: ${msg}`);
}

function mapping(v: unknown, where: string, allowed: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a mapping');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
  return o;
}

function integer(v: unknown, where: string, min: number, max: number, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function key32(v: unknown, where: string): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(v.trim())) fail(where, 'must be a 32-byte key in base64 (as wg genkey / wg pubkey print it)');
  return Uint8Array.from(Buffer.from(v.trim(), 'base64'));
}

function prefixes(v: unknown, where: string, allowHostBits: boolean): Prefix[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(where, 'must be a list of prefixes');
  return v.map((x, i) => {
    const p = typeof x === 'string' ? parsePrefix(x, { allowHostBits }) : 'must be a string';
    if (typeof p === 'string') fail(`${where}[${i}]`, p);
    return p;
  });
}

function endpoint(v: unknown, where: string): { address: string; port: number } {
  const m = typeof v === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(v) : null;
  const address = m ? m[1] ?? m[2] : '';
  if (!m || !parseAddress(address) || Number(m[3]) < 1 || Number(m[3]) > 65535) fail(where, `${JSON.stringify(v)} is not IP:port (IPv6 as [IP]:port)`);
  return { address, port: Number(m[3]) };
}

export function parseWireGuardConfig(v: unknown, where: string, defaultInterface = 'wg0'): WireGuardConfig {
  const o = mapping(v ?? {}, where, ['interface', 'listenPort', 'privateKey', 'privateKeyFile', 'mtu', 'addresses', 'maxPeers', 'peers']);
  const ifname = o.interface === undefined ? defaultInterface : o.interface;
  if (typeof ifname !== 'string' || !IFNAME.test(ifname)) fail(`${where}.interface`, `${JSON.stringify(ifname)} is not an interface name (1-15 letters, digits, _=+.-)`);
  if (o.privateKey !== undefined && o.privateKeyFile !== undefined) fail(`${where}.privateKeyFile`, 'give privateKey or privateKeyFile, not both');
  let privateKey: Uint8Array | undefined;
  if (o.privateKey !== undefined) privateKey = key32(o.privateKey, `${where}.privateKey`);
  if (o.privateKeyFile !== undefined) {
    if (typeof o.privateKeyFile !== 'string') fail(`${where}.privateKeyFile`, 'must be a path');
    let text: string;
    try {
      text = readFileSync(o.privateKeyFile, 'utf8');
    } catch (e) {
      fail(`${where}.privateKeyFile`, `cannot read ${o.privateKeyFile}: ${(e as Error).message}`);
    }
    privateKey = key32(text, `${where}.privateKeyFile`);
  }
  const peersIn = o.peers === undefined ? [] : o.peers;
  if (!Array.isArray(peersIn)) fail(`${where}.peers`, 'must be a list');
  const peers = peersIn.map((p, i) => {
    const w = `${where}.peers[${i}]`;
    const q = mapping(p, w, ['publicKey', 'presharedKey', 'endpoint', 'allowedIPs', 'persistentKeepalive']);
    if (q.publicKey === undefined) fail(`${w}.publicKey`, 'is required');
    return {
      publicKey: key32(q.publicKey, `${w}.publicKey`),
      presharedKey: q.presharedKey === undefined ? undefined : key32(q.presharedKey, `${w}.presharedKey`),
      endpoint: q.endpoint === undefined ? undefined : endpoint(q.endpoint, `${w}.endpoint`),
      allowedIPs: prefixes(q.allowedIPs, `${w}.allowedIPs`, false),
      persistentKeepalive: integer(q.persistentKeepalive, `${w}.persistentKeepalive`, 0, 65535, 0),
    };
  });
  return {
    interface: ifname,
    listenPort: integer(o.listenPort, `${where}.listenPort`, 1, 65535, WIREGUARD_DEFAULT_PORT),
    privateKey,
    mtu: integer(o.mtu, `${where}.mtu`, 1280, 9000, 1420),
    addresses: prefixes(o.addresses, `${where}.addresses`, true),
    maxPeers: integer(o.maxPeers, `${where}.maxPeers`, 1, 65536, 256),
    peers,
  };
}
