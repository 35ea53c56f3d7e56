// Node configuration: YAML in, validated plain objects out. Every error names the field.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { Address, Prefix, parseAddress, parsePrefix, prefixWithin } from '../wire/addr.js';
import { checkTableSize, maglevSeed, MaglevError, MAGLEV_DEFAULT_SEED, MAGLEV_DEFAULT_SIZE } from '../lb/maglev.js';
import { parseMac } from '../wire/ethernet.js';
import { MASKS_CEILING } from '../recorder/tables.js';
import { parseWireGuardConfig, type WireGuardConfig } from './wireguard-config.js';
import { VXLAN_DEFAULT_PORT, VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI } from '../wire/vxlan.js';
import { parseEgressConfig, type EgressConfig } from './egress-config.js';
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
}

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

export interface Gateway {
  ipv4?: Address;
  ipv6?: Address;
}

export interface LbConfig {
  /** Maglev table size M (one of MAGLEV_TABLE_SIZES). */
  tableSize: number;
  /** 12 bytes of base64, as Cilium's --bpf-lb-maglev-hash-seed. */
  seed: string;
  maxServices: number;
  maxBackends: number;
  /** Outer source of DSR packets: this prefix with host bits from the flow hash (Cilium's --lb-rss-ipv4-src-cidr). */
  ipv4SourceCIDR?: Prefix;
  ipv6SourceCIDR?: Prefix;
  /** Connection table (services with conntrack: true): entries, idle timeout, new flows/s tracked. */
  conntrackCapacity: number;
  conntrackIdleSec: number;
  newFlowsPerSec: number;
}

/** The n-tuple PCAP recorder (every node has one). */
export interface RecorderConfig {
  /** Where pcap files are created (mode 0600, directory made 0700 when missing). */
  directory: string;
  /** Distinct filter masks (prefix lengths + wildcards) across running recordings. */
  maxMasks: number;
  /** Filters across running recordings (the shared filter table's capacity). */
  maxFilters: number;
  /** Capture ring per worker, bytes; a full ring loses captures (counted), never packets. */
  ringBytes: number;
}

export interface ClusterConfig {
  /** Node-to-node: next hop on the underlay, or VXLAN between nodes. */
  mode: 'direct' | 'vxlan';
  /** Cluster CIDRs, from which every node's pod CIDRs are allocated. */
  ipv4?: Prefix;
  ipv6?: Prefix;
  podPrefixLength: { ipv4: number; ipv6: number };
  /** Static pod CIDRs for this node (else allocated from the cluster CIDRs). */
  podCIDR: { ipv4?: Prefix; ipv6?: Prefix };
  /** Seconds a node stays in the cluster after its agent stops renewing its lease. */
  leaseTTL: number;
  /** The uplink port whose addresses are the node's underlay addresses. */
  underlayPort: string;
  /** A host port: the node's own kernel stack reaches the cluster through the dataplane. */
  hostPort: boolean;
  /** Transparent encryption between nodes: every node peers with every other over WireGuard (UDP 51871). */
  encryption: 'none' | 'wireguard';
}

export interface NodeConfig {
  node: string;
  api: string;
  workers: number;
  /** Worker i's CPU (default i modulo the CPU count). */
  cpus: number[];
  /** False with `cpus: none`: the scheduler places the workers. */
  pinWorkers: boolean;
  gateway: Gateway;
  ports: PortConfig[];
  routes: RouteConfig[];
  tables: { routes: number; neighbours: number };
  vxlan: VxlanConfig;
  /** The L4 load balancer's tables and Maglev parameters; absent: no services here. */
  lb?: LbConfig;
  recorder: RecorderConfig;
  /** A WireGuard device in the dataplane (wireguard-config.ts); absent: none. */
  wireguard?: WireGuardConfig;
  /** "dir:/path" or "etcd://host:port"; only used with cluster. */
  store: string;
  cluster?: ClusterConfig;
  /** Egress gateway and masquerading (egress-config.ts); present on every cluster node. */
  egress?: EgressConfig;
}

export { ConfigError } from './config-error.js';

type Obj = Record<string, unknown>;

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function fail(where: string, msg: string): never {
  throw new ConfigError(`${where}: ${msg}`);
}

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Obj;
}

function only(o: Obj, where: string, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
}

function str(v: unknown, where: string, re?: RegExp): string {
  if (typeof v !== 'string' || v === '') fail(where, 'must be a non-empty string');
  if (re && !re.test(v)) fail(where, `"${v}" is not a valid name`);
  return v;
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function address(v: unknown, where: string, family?: 4 | 6): Address {
  const a = parseAddress(str(v, where));
  if (!a || (family && a.family !== family)) fail(where, `"${String(v)}" is not an IPv${family ?? '4 or IPv6'} address`);
  return a;
}

function prefix(v: unknown, where: string, allowHostBits: boolean): Prefix {
  const p = parsePrefix(str(v, where), { allowHostBits });
  if (typeof p === 'string') fail(where, p);
  return p;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(where, 'must be a list');
  return v;
}

function parsePort(v: unknown, where: string, defaultMtu: number): PortConfig {
  const o = obj(v, where);
  only(o, where, ['name', 'kind', 'mtu', 'netns', 'ifname', 'bridge', 'ipv4', 'ipv6', 'addresses', 'peerAddresses']);
  const kind = str(o.kind, `${where}.kind`);
  if (kind !== 'uplink' && kind !== 'host' && kind !== 'endpoint') fail(`${where}.kind`, `"${kind}" is not one of uplink, host, endpoint`);
  const port: PortConfig = {
    name: str(o.name, `${where}.name`, NAME),
    kind,
    mtu: o.mtu === undefined ? defaultMtu : int(o.mtu, `${where}.mtu`, 1280, 9000),
    netns: o.netns === undefined ? undefined : str(o.netns, `${where}.netns`, NETNS),
    ifname: o.ifname === undefined ? (kind === 'endpoint' ? 'eth0' : str(o.name, `${where}.name`)) : str(o.ifname, `${where}.ifname`, NAME),
    bridge: o.bridge === undefined ? undefined : str(o.bridge, `${where}.bridge`, NAME),
    ipv4: o.ipv4 === undefined ? undefined : address(o.ipv4, `${where}.ipv4`, 4),
    ipv6: o.ipv6 === undefined ? undefined : address(o.ipv6, `${where}.ipv6`, 6),
    addresses: list(o.addresses, `${where}.addresses`).map((a, i) => prefix(a, `${where}.addresses[${i}]`, true)),
    peerAddresses: list(o.peerAddresses, `${where}.peerAddresses`).map((a, i) => prefix(a, `${where}.peerAddresses[${i}]`, true)),
  };
  if (kind === 'endpoint') {
    if (!port.netns) fail(`${where}.netns`, 'an endpoint port needs the namespace its kernel side moves to');
    if (!port.ipv4 && !port.ipv6) fail(where, 'an endpoint port needs ipv4 and/or ipv6');
    if (port.addresses.length || port.peerAddresses.length) fail(where, 'endpoint ports take ipv4/ipv6, not addresses/peerAddresses');
  } else if (port.ipv4 || port.ipv6) {
    fail(where, `${kind} ports take addresses/peerAddresses, not ipv4/ipv6`);
  }
  if (port.bridge && !port.netns) fail(`${where}.bridge`, 'needs netns (the namespace holding the bridge)');
  return port;
}

function unicastMac(v: unknown, where: string): Uint8Array {
  const text = str(v, where);
  let m: Uint8Array;
  try {
    m = parseMac(text);
  } catch {
    fail(where, `"${text}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  }
  if (m[0] & 1) fail(where, `"${text}" is a group (multicast) address; a unicast MAC is needed`);
  return m;
}

function parseVxlan(v: unknown, where: string): Omit<VxlanConfig, 'enabled'> {
  const o = v === undefined || v === null ? {} : obj(v, where);
  only(o, where, ['vni', 'port', 'mac']);
  return {
    vni: o.vni === undefined ? VXLAN_DEFAULT_VNI : int(o.vni, `${where}.vni`, 0, VXLAN_MAX_VNI),
    port: o.port === undefined ? VXLAN_DEFAULT_PORT : int(o.port, `${where}.port`, 1, 65535),
    mac: unicastMac(o.mac ?? DEFAULT_VXLAN_MAC, `${where}.mac`),
  };
}

function parseRoute(v: unknown, where: string, ports: PortConfig[]): RouteConfig {
  const o = obj(v, where);
  only(o, where, ['prefix', 'via', 'port', 'type', 'remote', 'innerMac']);
  const r: RouteConfig = {
    prefix: prefix(o.prefix, `${where}.prefix`, false),
    via: o.via === undefined ? undefined : address(o.via, `${where}.via`),
    port: o.port === undefined ? undefined : str(o.port, `${where}.port`),
    type: 'via',
  };
  const type = o.type === undefined ? (r.via ? 'via' : 'connected') : str(o.type, `${where}.type`);
  if (type !== 'via' && type !== 'connected' && type !== 'blackhole' && type !== 'unreachable' && type !== 'tunnel') fail(`${where}.type`, `"${type}" is not one of via, connected, blackhole, unreachable, tunnel`);
  r.type = type;
  if (type === 'tunnel') {
    if (r.via) fail(`${where}.via`, 'a tunnel route takes remote (the remote VTEP\'s underlay address), not via');
    if (o.remote === undefined) fail(`${where}.remote`, 'a tunnel route needs the remote VTEP\'s underlay address');
    r.remote = address(o.remote, `${where}.remote`);
    if (!r.port) fail(`${where}.port`, 'a tunnel route needs the uplink port it leaves through');
    const up = ports.find((p) => p.name === r.port);
    if (!up) fail(`${where}.port`, `no port named "${r.port}"`);
    if (up.kind !== 'uplink') fail(`${where}.port`, `tunnel routes leave through an uplink port; "${r.port}" is of kind ${up.kind}`);
    if (!up.addresses.some((a) => a.family === r.remote!.family)) fail(`${where}.remote`, `uplink "${r.port}" has no IPv${r.remote.family} address to send from`);
    if (o.innerMac !== undefined) r.innerMac = unicastMac(o.innerMac, `${where}.innerMac`);
    return r;
  }
  if (o.remote !== undefined) fail(`${where}.remote`, 'only tunnel routes take remote');
  if (o.innerMac !== undefined) fail(`${where}.innerMac`, 'only tunnel routes take innerMac');
  if (r.via && r.via.family !== r.prefix.family) fail(`${where}.via`, 'address family differs from the prefix');
  if ((type === 'via' || type === 'connected') && !r.port) fail(`${where}.port`, `a ${type} route needs the port it leaves through`);
  if (type === 'via' && !r.via) fail(`${where}.via`, 'a via route needs a next hop');
  if (r.port && !ports.some((p) => p.name === r.port)) fail(`${where}.port`, `no port named "${r.port}"`);
  return r;
}

function parseCluster(v: unknown, where: string, ports: PortConfig[]): ClusterConfig {
  const o = obj(v, where);
  only(o, where, ['mode', 'ipv4', 'ipv6', 'podPrefixLength', 'podCIDR', 'leaseTTL', 'underlayPort', 'hostPort', 'encryption']);
  const encryption = o.encryption === undefined ? 'none' : str(o.encryption, `${where}.encryption`);
  if (encryption !== 'none' && encryption !== 'wireguard') fail(`${where}.encryption`, `"${encryption}" is not one of none, wireguard`);
  const mode = o.mode === undefined ? 'direct' : str(o.mode, `${where}.mode`);
  if (mode !== 'direct' && mode !== 'vxlan') fail(`${where}.mode`, `"${mode}" is not one of direct, vxlan`);
  const fam = (p: Prefix, f: 4 | 6, w: string): Prefix => (p.family === f ? p : fail(w, `must be an IPv${f} prefix`));
  const ipv4 = o.ipv4 === undefined ? undefined : fam(prefix(o.ipv4, `${where}.ipv4`, false), 4, `${where}.ipv4`);
  const ipv6 = o.ipv6 === undefined ? undefined : fam(prefix(o.ipv6, `${where}.ipv6`, false), 6, `${where}.ipv6`);
  if (!ipv4 && !ipv6) fail(where, 'needs a cluster CIDR: ipv4 and/or ipv6');
  const ppl = o.podPrefixLength === undefined ? {} : obj(o.podPrefixLength, `${where}.podPrefixLength`);
  only(ppl, `${where}.podPrefixLength`, ['ipv4', 'ipv6']);
  const podPrefixLength = {
    ipv4: ppl.ipv4 === undefined ? 24 : int(ppl.ipv4, `${where}.podPrefixLength.ipv4`, 8, 30),
    ipv6: ppl.ipv6 === undefined ? 64 : int(ppl.ipv6, `${where}.podPrefixLength.ipv6`, 16, 120),
  };
  if (ipv4 && podPrefixLength.ipv4 < ipv4.len) fail(`${where}.podPrefixLength.ipv4`, `must be at least the cluster CIDR's /${ipv4.len}`);
  if (ipv6 && podPrefixLength.ipv6 < ipv6.len) fail(`${where}.podPrefixLength.ipv6`, `must be at least the cluster CIDR's /${ipv6.len}`);
  const pc = o.podCIDR === undefined ? {} : obj(o.podCIDR, `${where}.podCIDR`);
  only(pc, `${where}.podCIDR`, ['ipv4', 'ipv6']);
  const podCIDR = {
    ipv4: pc.ipv4 === undefined ? undefined : fam(prefix(pc.ipv4, `${where}.podCIDR.ipv4`, false), 4, `${where}.podCIDR.ipv4`),
    ipv6: pc.ipv6 === undefined ? undefined : fam(prefix(pc.ipv6, `${where}.podCIDR.ipv6`, false), 6, `${where}.podCIDR.ipv6`),
  };
  if (podCIDR.ipv4 && (!ipv4 || !prefixWithin(podCIDR.ipv4, ipv4))) fail(`${where}.podCIDR.ipv4`, 'must lie inside the cluster ipv4 CIDR');
  if (podCIDR.ipv6 && (!ipv6 || !prefixWithin(podCIDR.ipv6, ipv6))) fail(`${where}.podCIDR.ipv6`, 'must lie inside the cluster ipv6 CIDR');
  const uplinks = ports.filter((p) => p.kind === 'uplink');
  const underlayPort = o.underlayPort === undefined ? uplinks[0]?.name : str(o.underlayPort, `${where}.underlayPort`);
  if (!underlayPort) fail(where, 'a cluster node needs an uplink port (its addresses are the node\'s underlay addresses)');
  const up = ports.find((p) => p.name === underlayPort);
  if (!up || up.kind !== 'uplink') fail(`${where}.underlayPort`, `no uplink port named "${underlayPort}"`);
  if (!up.addresses.length) fail(`${where}.underlayPort`, `uplink "${underlayPort}" has no addresses`);
  return {
    mode,
    ipv4,
    ipv6,
    podPrefixLength,
    podCIDR,
    leaseTTL: o.leaseTTL === undefined ? 5 : int(o.leaseTTL, `${where}.leaseTTL`, 1, 3600),
    underlayPort,
    hostPort: o.hostPort === undefined ? true : bool(o.hostPort, `${where}.hostPort`),
    encryption,
  };
}

function parseLb(v: unknown, where: string): LbConfig {
  const o = obj(v ?? {}, where);
  only(o, where, ['tableSize', 'seed', 'maxServices', 'maxBackends', 'ipv4SourceCIDR', 'ipv6SourceCIDR', 'conntrackCapacity', 'conntrackIdleSec', 'newFlowsPerSec']);
  const tableSize = o.tableSize === undefined ? MAGLEV_DEFAULT_SIZE : int(o.tableSize, `${where}.tableSize`, 251, 131071);
  try {
    checkTableSize(tableSize);
    if (o.seed !== undefined) maglevSeed(str(o.seed, `${where}.seed`));
  } catch (e) {
    if (e instanceof MaglevError) fail(o.seed !== undefined && !(e.message.includes('table size')) ? `${where}.seed` : `${where}.tableSize`, e.message);
    throw e;
  }
  return {
    tableSize,
    seed: o.seed === undefined ? MAGLEV_DEFAULT_SEED : (o.seed as string),
    maxServices: o.maxServices === undefined ? 64 : int(o.maxServices, `${where}.maxServices`, 1, 65536),
    maxBackends: o.maxBackends === undefined ? 4096 : int(o.maxBackends, `${where}.maxBackends`, 1, 1 << 20),
    ipv4SourceCIDR: o.ipv4SourceCIDR === undefined ? undefined : familyPrefix(o.ipv4SourceCIDR, `${where}.ipv4SourceCIDR`, 4),
    ipv6SourceCIDR: o.ipv6SourceCIDR === undefined ? undefined : familyPrefix(o.ipv6SourceCIDR, `${where}.ipv6SourceCIDR`, 6),
    conntrackCapacity: o.conntrackCapacity === undefined ? 65536 : int(o.conntrackCapacity, `${where}.conntrackCapacity`, 16, 1 << 24),
    conntrackIdleSec: o.conntrackIdleSec === undefined ? 300 : int(o.conntrackIdleSec, `${where}.conntrackIdleSec`, 1, 86400),
    newFlowsPerSec: o.newFlowsPerSec === undefined ? 100000 : int(o.newFlowsPerSec, `${where}.newFlowsPerSec`, 1, 1 << 30),
  };
}

function parseRecorder(v: unknown, where: string): RecorderConfig {
  const o = obj(v ?? {}, where);
  only(o, where, ['directory', 'maxMasks', 'maxFilters', 'ringBytes']);
  return {
    directory: o.directory === undefined ? '/var/lib/weft/recordings' : str(o.directory, `${where}.directory`),
    maxMasks: o.maxMasks === undefined ? 16 : int(o.maxMasks, `${where}.maxMasks`, 1, MASKS_CEILING),
    maxFilters: o.maxFilters === undefined ? 16384 : int(o.maxFilters, `${where}.maxFilters`, 1, 1 << 20),
    ringBytes: o.ringBytes === undefined ? 4 << 20 : int(o.ringBytes, `${where}.ringBytes`, 4096, 1 << 30),
  };
}

function familyPrefix(v: unknown, where: string, family: 4 | 6): Prefix {
  const p = prefix(v, where, false);
  if (p.family !== family) fail(where, `must be an IPv${family} prefix`);
  return p;
}

/** The lb section's defaults (weft agent --mode lb without one). */
export function parseLbDefaults(): LbConfig {
  return parseLb({}, 'lb');
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') fail(where, 'must be true or false');
  return v;
}

export function parseConfig(doc: unknown, source: string): NodeConfig {
  const o = obj(doc ?? {}, source);
  only(o, source, ['node', 'api', 'workers', 'cpus', 'mtu', 'gateway', 'ports', 'routes', 'tables', 'store', 'cluster', 'vxlan', 'lb', 'recorder', 'wireguard', 'egress']);
  const node = str(o.node, `${source}: node`, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/);
  const workers = o.workers === undefined ? cpus().length : int(o.workers, `${source}: workers`, 1, 16);
  // `cpus: none`: workers are not pinned (hosts whose CPUs are shared with busy applications).
  const pinWorkers = o.cpus !== 'none';
  const cpuList = pinWorkers ? list(o.cpus, `${source}: cpus`).map((c, i) => int(c, `${source}: cpus[${i}]`, 0, 1023)) : [];
  const mtu = o.mtu === undefined ? 1500 : int(o.mtu, `${source}: mtu`, 1280, 9000);
  const gw = o.gateway === undefined ? {} : obj(o.gateway, `${source}: gateway`);
  only(gw, `${source}: gateway`, ['ipv4', 'ipv6']);
  const gateway = {
    ipv4: gw.ipv4 === undefined ? undefined : address(gw.ipv4, `${source}: gateway.ipv4`, 4),
    ipv6: gw.ipv6 === undefined ? undefined : address(gw.ipv6, `${source}: gateway.ipv6`, 6),
  };
  const ports = list(o.ports, `${source}: ports`).map((p, i) => parsePort(p, `${source}: ports[${i}]`, mtu));
  const seen = new Set<string>();
  for (const [i, p] of ports.entries()) {
    if (seen.has(p.name)) fail(`${source}: ports[${i}].name`, `duplicate port name "${p.name}"`);
    seen.add(p.name);
    if (p.kind === 'endpoint' && ((p.ipv4 && !gateway.ipv4) || (p.ipv6 && !gateway.ipv6))) {
      fail(`${source}: gateway`, `endpoint port "${p.name}" needs a gateway address of each family it uses`);
    }
  }
  const routes = list(o.routes, `${source}: routes`).map((r, i) => parseRoute(r, `${source}: routes[${i}]`, ports));
  const t = o.tables === undefined ? {} : obj(o.tables, `${source}: tables`);
  only(t, `${source}: tables`, ['routes', 'neighbours']);
  const cluster = o.cluster === undefined ? undefined : parseCluster(o.cluster, `${source}: cluster`, ports);
  if (o.egress !== undefined && !cluster) fail(`${source}: egress`, 'needs a cluster section (egress policies and gateways are cluster state)');
  if (cluster && (gateway.ipv4 || gateway.ipv6)) fail(`${source}: gateway`, 'in a cluster the gateway addresses come from the pod CIDRs; remove gateway');
  const vxlan: VxlanConfig = {
    enabled: o.vxlan !== undefined || routes.some((r) => r.type === 'tunnel') || cluster?.mode === 'vxlan',
    ...parseVxlan(o.vxlan, `${source}: vxlan`),
  };
  return {
    node,
    store: o.store === undefined ? 'dir:/var/lib/weft' : str(o.store, `${source}: store`),
    cluster,
    api: o.api === undefined ? `/run/weft/${node}.sock` : str(o.api, `${source}: api`),
    workers,
    cpus: cpuList,
    pinWorkers,
    gateway,
    ports,
    routes,
    tables: {
      routes: t.routes === undefined ? 4096 : int(t.routes, `${source}: tables.routes`, 16, 1 << 20),
      neighbours: t.neighbours === undefined ? 4096 : int(t.neighbours, `${source}: tables.neighbours`, 16, 1 << 20),
    },
    vxlan,
    lb: o.lb === undefined ? undefined : parseLb(o.lb, `${source}: lb`),
    recorder: parseRecorder(o.recorder, `${source}: recorder`),
    // Cluster encryption runs the same device; a wireguard section only tunes it.
    wireguard: o.wireguard !== undefined || cluster?.encryption === 'wireguard'
      ? parseWireGuardConfig(o.wireguard, `${source}: wireguard`, `wg-${node}`.slice(0, 15))
      : undefined,
    egress: cluster ? parseEgressConfig(o.egress, `${source}: egress`, workers) : undefined,
  };
}

export function loadConfig(path: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseConfig(doc, path);
}
