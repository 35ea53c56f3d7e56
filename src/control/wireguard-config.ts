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
import { parseAddress, type Prefix } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { ConfigError } from './config-error.js';

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
const v: Validator = validator(ConfigError);

function key32(x: unknown, where: string): Uint8Array {
  if (typeof x !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(x.trim())) {
    v.fail(where, 'must be a 32-byte key in base64 (as wg genkey / wg pubkey print it)');
  }
  return Uint8Array.from(Buffer.from(x.trim(), 'base64'));
}

function prefixes(x: unknown, where: string, allowHostBits: boolean): Prefix[] {
  return v.list(x, where, 'prefixes').map((p, i) => v.prefix(p, `${where}[${i}]`, { allowHostBits }));
}

function endpoint(x: unknown, where: string): { address: string; port: number } {
  const m = typeof x === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(x) : null;
  const address = m ? (m[1] ?? m[2]) : '';
  if (!m || !parseAddress(address) || Number(m[3]) < 1 || Number(m[3]) > 65535) {
    v.fail(where, `${JSON.stringify(x)} is not IP:port (IPv6 as [IP]:port)`);
  }
  return { address, port: Number(m[3]) };
}

function privateKey(o: Record<string, unknown>, where: string): Uint8Array | undefined {
  if (o.privateKey !== undefined && o.privateKeyFile !== undefined) {
    v.fail(`${where}.privateKeyFile`, 'give privateKey or privateKeyFile, not both');
  }
  if (o.privateKey !== undefined) return key32(o.privateKey, `${where}.privateKey`);
  if (o.privateKeyFile === undefined) return undefined;
  if (typeof o.privateKeyFile !== 'string') v.fail(`${where}.privateKeyFile`, 'must be a path');
  let text: string;
  try {
    text = readFileSync(o.privateKeyFile, 'utf8');
  } catch (e) {
    v.fail(`${where}.privateKeyFile`, `cannot read ${o.privateKeyFile}: ${(e as Error).message}`);
  }
  return key32(text, `${where}.privateKeyFile`);
}

function parsePeer(x: unknown, w: string): WireGuardPeerConfig {
  const q = v.obj(x, w);
  v.only(q, w, ['publicKey', 'presharedKey', 'endpoint', 'allowedIPs', 'persistentKeepalive']);
  if (q.publicKey === undefined) v.fail(`${w}.publicKey`, 'missing field');
  return {
    publicKey: key32(q.publicKey, `${w}.publicKey`),
    presharedKey: q.presharedKey === undefined ? undefined : key32(q.presharedKey, `${w}.presharedKey`),
    endpoint: q.endpoint === undefined ? undefined : endpoint(q.endpoint, `${w}.endpoint`),
    allowedIPs: prefixes(q.allowedIPs, `${w}.allowedIPs`, false),
    persistentKeepalive: v.int(q.persistentKeepalive, `${w}.persistentKeepalive`, 0, 65535, 0),
  };
}

export function parseWireGuardConfig(x: unknown, where: string, defaultInterface = 'wg0'): WireGuardConfig {
  const o = v.obj(x ?? {}, where);
  v.only(o, where, [
    'interface',
    'listenPort',
    'privateKey',
    'privateKeyFile',
    'mtu',
    'addresses',
    'maxPeers',
    'peers',
  ]);
  const ifname = o.interface === undefined ? defaultInterface : o.interface;
  if (typeof ifname !== 'string' || !IFNAME.test(ifname)) {
    v.fail(`${where}.interface`, `${JSON.stringify(ifname)} is not an interface name (1-15 letters, digits, _=+.-)`);
  }
  const key = privateKey(o, where);
  const peers = v.list(o.peers, `${where}.peers`).map((p, i) => parsePeer(p, `${where}.peers[${i}]`));
  return {
    interface: ifname,
    listenPort: v.int(o.listenPort, `${where}.listenPort`, 1, 65535, WIREGUARD_DEFAULT_PORT),
    privateKey: key,
    mtu: v.int(o.mtu, `${where}.mtu`, 1280, 9000, 1420),
    addresses: prefixes(o.addresses, `${where}.addresses`, true),
    maxPeers: v.int(o.maxPeers, `${where}.maxPeers`, 1, 65536, 256),
    peers,
  };
}
