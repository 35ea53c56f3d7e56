// The `ports:` and `gateway:` sections of a node's configuration: the TAP devices the agent
// owns (uplinks, the host port, endpoints) and the gateway addresses endpoints route through.
import type { Address, Prefix } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { ConfigError } from './config-error.js';

export type PortKind = 'uplink' | 'host' | 'endpoint';

export interface PortConfig {
  name: string;
  kind: PortKind;
  mtu: number;
  /** Namespace the TAP's kernel side moves to (created if missing); absent: stays with the agent. */
  netns?: string;
  /** Name of the kernel side once moved (endpoints default to eth0). */
  ifname: string;
  /** Bridge in `netns` to enslave the kernel side to. */
  bridge?: string;
  /** Endpoint addresses (kernel side, host routes via the gateway). */
  ipv4?: Address;
  ipv6?: Address;
  /** The dataplane's own addresses on this link (uplink/host): local + connected routes. */
  addresses: Prefix[];
  /** Addresses configured on the kernel side (uplink/host). */
  peerAddresses: Prefix[];
  /** Endpoint serving load-balanced VIPs (on its loopback): the dataplane decapsulates IPIP for it. */
  dsrBackend?: boolean;
  /**
   * TAP offloads (docs/offloads.md): frames of up to 64 KB with a virtio_net_hdr, checksums and
   * segmentation left to whoever can do them last. Off: one MTU-sized frame per read and write.
   */
  offloads: boolean;
}

export interface Gateway {
  ipv4?: Address;
  ipv6?: Address;
}

const v: Validator = validator(ConfigError);
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const KINDS: readonly PortKind[] = ['uplink', 'host', 'endpoint'];

/** `on` / `off` (or true / false): a TAP's offloads. */
export function parseOffloads(x: unknown, where: string, def: boolean): boolean {
  if (x === undefined) return def;
  if (x === true || x === 'on') return true;
  if (x === false || x === 'off') return false;
  return v.fail(where, `must be on or off, got ${JSON.stringify(x)}`);
}

function parsePort(x: unknown, where: string, defaultMtu: number, defaultOffloads: boolean): PortConfig {
  const o = v.obj(x, where);
  v.only(o, where, [
    'name',
    'kind',
    'mtu',
    'netns',
    'ifname',
    'bridge',
    'ipv4',
    'ipv6',
    'addresses',
    'peerAddresses',
    'offloads',
  ]);
  const kind = v.oneOf(o.kind, `${where}.kind`, KINDS);
  const prefixes = (field: 'addresses' | 'peerAddresses'): Prefix[] =>
    v
      .list(o[field], `${where}.${field}`)
      .map((a, i) => v.prefix(a, `${where}.${field}[${i}]`, { allowHostBits: true }));
  const port: PortConfig = {
    name: v.str(o.name, `${where}.name`, NAME),
    kind,
    mtu: v.int(o.mtu, `${where}.mtu`, 1280, 9000, defaultMtu),
    netns: o.netns === undefined ? undefined : v.str(o.netns, `${where}.netns`, NETNS),
    ifname:
      o.ifname === undefined
        ? kind === 'endpoint'
          ? 'eth0'
          : v.str(o.name, `${where}.name`)
        : v.str(o.ifname, `${where}.ifname`, NAME),
    bridge: o.bridge === undefined ? undefined : v.str(o.bridge, `${where}.bridge`, NAME),
    ipv4: o.ipv4 === undefined ? undefined : v.address(o.ipv4, `${where}.ipv4`, 4),
    ipv6: o.ipv6 === undefined ? undefined : v.address(o.ipv6, `${where}.ipv6`, 6),
    addresses: prefixes('addresses'),
    peerAddresses: prefixes('peerAddresses'),
    offloads: parseOffloads(o.offloads, `${where}.offloads`, defaultOffloads),
  };
  if (kind === 'endpoint') {
    if (!port.netns) v.fail(`${where}.netns`, 'an endpoint port needs the namespace its kernel side moves to');
    if (!port.ipv4 && !port.ipv6) v.fail(where, 'an endpoint port needs ipv4 and/or ipv6');
    if (port.addresses.length || port.peerAddresses.length) {
      v.fail(where, 'endpoint ports take ipv4/ipv6, not addresses/peerAddresses');
    }
  } else if (port.ipv4 || port.ipv6) {
    v.fail(where, `${kind} ports take addresses/peerAddresses, not ipv4/ipv6`);
  }
  if (port.bridge && !port.netns) v.fail(`${where}.bridge`, 'needs netns (the namespace holding the bridge)');
  return port;
}

export function parseGateway(x: unknown, where: string): Gateway {
  const gw = x === undefined ? {} : v.obj(x, where);
  v.only(gw, where, ['ipv4', 'ipv6']);
  return {
    ipv4: gw.ipv4 === undefined ? undefined : v.address(gw.ipv4, `${where}.ipv4`, 4),
    ipv6: gw.ipv6 === undefined ? undefined : v.address(gw.ipv6, `${where}.ipv6`, 6),
  };
}

/** The ports, with unique names; `source`: the file, prefixing every field path ("node.yaml: ports[0]"). */
export function parsePorts(
  x: unknown,
  source: string,
  defaultMtu: number,
  gateway: Gateway,
  defaultOffloads: boolean,
): PortConfig[] {
  const ports = v
    .list(x, `${source}: ports`)
    .map((p, i) => parsePort(p, `${source}: ports[${i}]`, defaultMtu, defaultOffloads));
  const seen = new Set<string>();
  for (const [i, p] of ports.entries()) {
    if (seen.has(p.name)) v.fail(`${source}: ports[${i}].name`, `duplicate port name "${p.name}"`);
    seen.add(p.name);
    if (p.kind === 'endpoint' && ((p.ipv4 && !gateway.ipv4) || (p.ipv6 && !gateway.ipv6))) {
      v.fail(`${source}: gateway`, `endpoint port "${p.name}" needs a gateway address of each family it uses`);
    }
  }
  return ports;
}
