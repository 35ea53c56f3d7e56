// Node configuration: YAML in, validated plain objects out. Every error names the field. This
// file has the document's top level; each section has its own file (port-config.ts, ...).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { validator, type Validator } from '../wire/config-validate.js';
import { ConfigError } from './config-error.js';
import { parseGateway, parsePorts, parseOffloads, type Gateway, type PortConfig } from './port-config.js';
import { parseRoutes, parseVxlan, type RouteConfig, type VxlanConfig } from './route-config.js';
import { parseCluster, type ClusterConfig } from './cluster-config.js';
import { parseLb, parseLbDefaults, type LbConfig } from './lb-config.js';
import { parseRecorder, type RecorderConfig } from './recorder-config.js';
import { parseWireGuardConfig, type WireGuardConfig } from './wireguard-config.js';
import { parseEgressConfig, type EgressConfig } from './egress-config.js';

export { ConfigError } from './config-error.js';
export { DEFAULT_VXLAN_MAC } from './route-config.js';

export interface NodeConfig {
  node: string;
  api: string;
  workers: number;
  /** Worker i's CPU (default i modulo the CPU count). */
  cpus: number[];
  /** False with `cpus: none`: the scheduler places the workers. */
  pinWorkers: boolean;
  /** The ports' default for TAP offloads (`offloads: on|off`, on unless said otherwise); endpoints use it. */
  offloads: boolean;
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

const v: Validator = validator(ConfigError);
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SECTIONS = [
  'node',
  'api',
  'workers',
  'cpus',
  'mtu',
  'offloads',
  'gateway',
  'ports',
  'routes',
  'tables',
  'store',
  'cluster',
  'vxlan',
  'lb',
  'recorder',
  'wireguard',
  'egress',
];

function parseTables(x: unknown, where: string): NodeConfig['tables'] {
  const t = x === undefined ? {} : v.obj(x, where);
  v.only(t, where, ['routes', 'neighbours']);
  return {
    routes: v.int(t.routes, `${where}.routes`, 16, 1 << 20, 4096),
    neighbours: v.int(t.neighbours, `${where}.neighbours`, 16, 1 << 20, 4096),
  };
}

/** `source` (the file's name) prefixes every message: "node.yaml: ports[0].ipv4: ...". */
export function parseConfig(doc: unknown, source: string): NodeConfig {
  const o = v.obj(doc ?? {}, source);
  v.only(o, source, SECTIONS);
  const node = v.str(o.node, `${source}: node`, NODE_NAME);
  const workers = v.int(o.workers, `${source}: workers`, 1, 16, cpus().length);
  // `cpus: none`: workers are not pinned (hosts whose CPUs are shared with busy applications).
  const pinWorkers = o.cpus !== 'none';
  const cpuList = pinWorkers
    ? v.list(o.cpus, `${source}: cpus`).map((c, i) => v.int(c, `${source}: cpus[${i}]`, 0, 1023))
    : [];
  const mtu = v.int(o.mtu, `${source}: mtu`, 1280, 9000, 1500);
  const gateway = parseGateway(o.gateway, `${source}: gateway`);
  const offloads = parseOffloads(o.offloads, `${source}: offloads`, true);
  const ports = parsePorts(o.ports, source, mtu, gateway, offloads);
  const routes = parseRoutes(o.routes, source, ports);
  const tables = parseTables(o.tables, `${source}: tables`);
  const cluster = o.cluster === undefined ? undefined : parseCluster(o.cluster, `${source}: cluster`, ports);
  if (o.egress !== undefined && !cluster) {
    v.fail(`${source}: egress`, 'needs a cluster section (egress policies and gateways are cluster state)');
  }
  if (cluster && (gateway.ipv4 || gateway.ipv6)) {
    v.fail(`${source}: gateway`, 'in a cluster the gateway addresses come from the pod CIDRs; remove gateway');
  }
  const vxlan: VxlanConfig = {
    enabled: o.vxlan !== undefined || routes.some((r) => r.type === 'tunnel') || cluster?.mode === 'vxlan',
    ...parseVxlan(o.vxlan, `${source}: vxlan`),
  };
  return {
    node,
    store: o.store === undefined ? 'dir:/var/lib/weft' : v.str(o.store, `${source}: store`),
    cluster,
    api: o.api === undefined ? `/run/weft/${node}.sock` : v.str(o.api, `${source}: api`),
    workers,
    cpus: cpuList,
    pinWorkers,
    offloads,
    gateway,
    ports,
    routes,
    tables,
    vxlan,
    lb: o.lb === undefined ? undefined : parseLb(o.lb, `${source}: lb`),
    recorder: parseRecorder(o.recorder, `${source}: recorder`),
    // Cluster encryption runs the same device; a wireguard section only tunes it.
    wireguard:
      o.wireguard !== undefined || cluster?.encryption === 'wireguard'
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

/** The config of a load-balancer-only node (weft agent --mode lb): uplinks only, an lb section. */
export function lbModeConfig(cfg: NodeConfig): NodeConfig {
  const other = cfg.ports.find((p) => p.kind !== 'uplink');
  if (other) throw new ConfigError(`--mode lb runs uplink ports only; port "${other.name}" is ${other.kind}`);
  return { ...cfg, lb: cfg.lb ?? parseLbDefaults() };
}
