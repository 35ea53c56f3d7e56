// The `routes:` and `vxlan:` sections of a node's configuration: static routes (via a next hop,
// connected, blackhole, unreachable, or through a VXLAN tunnel) and the node's VXLAN endpoint.
import type { Address, Prefix } from '../wire/addr.js';
import { parseMac } from '../wire/ethernet.js';
import { VXLAN_DEFAULT_PORT, VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI } from '../wire/vxlan.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { ConfigError } from './config-error.js';
import type { PortConfig } from './port-config.js';

export interface RouteConfig {
  prefix: Prefix;
  via?: Address;
  port?: string;
  type: 'via' | 'connected' | 'blackhole' | 'unreachable' | 'tunnel';
  /** tunnel: the remote VTEP's underlay address (IPv4 or IPv6, independent of the prefix's family). */
  remote?: Address;
  /** tunnel: inner destination MAC (a Linux vxlan device's MAC); default: vxlan.mac. */
  innerMac?: Uint8Array;
}

/** The node's VXLAN endpoint (Cilium's tunnel mode; a Linux `vxlan` device interoperates). */
export interface VxlanConfig {
  /** On when the config has a vxlan section, a tunnel route, or cluster mode vxlan. */
  enabled: boolean;
  vni: number;
  /** UDP port we send to and listen on. */
  port: number;
  /** Our MAC inside the tunnel, and the default inner destination of tunnel routes. */
  mac: Uint8Array;
}

/** The default VXLAN MAC of every Weft node ("wef" "t"), locally administered unicast. */
export const DEFAULT_VXLAN_MAC = '02:77:65:66:74:01';

const v: Validator = validator(ConfigError);
const ROUTE_TYPES: readonly RouteConfig['type'][] = ['via', 'connected', 'blackhole', 'unreachable', 'tunnel'];

function unicastMac(x: unknown, where: string): Uint8Array {
  const text = v.str(x, where);
  let m: Uint8Array;
  try {
    m = parseMac(text);
  } catch {
    v.fail(where, `"${text}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  }
  if (m[0] & 1) v.fail(where, `"${text}" is a group (multicast) address; a unicast MAC is needed`);
  return m;
}

/** The section's settings; whether VXLAN is on depends on the rest of the config. */
export function parseVxlan(x: unknown, where: string): Omit<VxlanConfig, 'enabled'> {
  const o = x === undefined || x === null ? {} : v.obj(x, where);
  v.only(o, where, ['vni', 'port', 'mac']);
  return {
    vni: v.int(o.vni, `${where}.vni`, 0, VXLAN_MAX_VNI, VXLAN_DEFAULT_VNI),
    port: v.int(o.port, `${where}.port`, 1, 65535, VXLAN_DEFAULT_PORT),
    mac: unicastMac(o.mac ?? DEFAULT_VXLAN_MAC, `${where}.mac`),
  };
}

function parseTunnelRoute(o: Record<string, unknown>, r: RouteConfig, where: string, ports: PortConfig[]): RouteConfig {
  if (r.via) v.fail(`${where}.via`, "a tunnel route takes remote (the remote VTEP's underlay address), not via");
  if (o.remote === undefined) v.fail(`${where}.remote`, "a tunnel route needs the remote VTEP's underlay address");
  const remote = v.address(o.remote, `${where}.remote`);
  r.remote = remote;
  if (!r.port) v.fail(`${where}.port`, 'a tunnel route needs the uplink port it leaves through');
  const up = ports.find((p) => p.name === r.port);
  if (!up) v.fail(`${where}.port`, `no port named "${r.port}"`);
  if (up.kind !== 'uplink') {
    v.fail(`${where}.port`, `tunnel routes leave through an uplink port; "${r.port}" is of kind ${up.kind}`);
  }
  if (!up.addresses.some((a) => a.family === remote.family)) {
    v.fail(`${where}.remote`, `uplink "${r.port}" has no IPv${remote.family} address to send from`);
  }
  if (o.innerMac !== undefined) r.innerMac = unicastMac(o.innerMac, `${where}.innerMac`);
  return r;
}

function parseRoute(x: unknown, where: string, ports: PortConfig[]): RouteConfig {
  const o = v.obj(x, where);
  v.only(o, where, ['prefix', 'via', 'port', 'type', 'remote', 'innerMac']);
  const r: RouteConfig = {
    prefix: v.prefix(o.prefix, `${where}.prefix`, { allowHostBits: false }),
    via: o.via === undefined ? undefined : v.address(o.via, `${where}.via`),
    port: o.port === undefined ? undefined : v.str(o.port, `${where}.port`),
    type: 'via',
  };
  const type = v.oneOf(o.type, `${where}.type`, ROUTE_TYPES, r.via ? 'via' : 'connected');
  r.type = type;
  if (type === 'tunnel') return parseTunnelRoute(o, r, where, ports);
  if (o.remote !== undefined) v.fail(`${where}.remote`, 'only tunnel routes take remote');
  if (o.innerMac !== undefined) v.fail(`${where}.innerMac`, 'only tunnel routes take innerMac');
  if (r.via && r.via.family !== r.prefix.family) v.fail(`${where}.via`, 'address family differs from the prefix');
  if ((type === 'via' || type === 'connected') && !r.port) {
    v.fail(`${where}.port`, `a ${type} route needs the port it leaves through`);
  }
  if (type === 'via' && !r.via) v.fail(`${where}.via`, 'a via route needs a next hop');
  if (r.port && !ports.some((p) => p.name === r.port)) v.fail(`${where}.port`, `no port named "${r.port}"`);
  return r;
}

/** The static routes; `source`: the file, prefixing every field path. */
export function parseRoutes(x: unknown, source: string, ports: PortConfig[]): RouteConfig[] {
  return v.list(x, `${source}: routes`).map((r, i) => parseRoute(r, `${source}: routes[${i}]`, ports));
}
