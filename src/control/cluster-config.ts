// The `cluster:` section of a node's configuration: the cluster CIDRs pod CIDRs come from, how
// nodes reach each other (direct or VXLAN, optionally encrypted), the lease, the underlay port.
import { type Prefix, prefixWithin } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { ConfigError } from './config-error.js';
import type { PortConfig } from './port-config.js';

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

const v: Validator = validator(ConfigError);

type Families<T> = { ipv4?: T; ipv6?: T };

/** The optional `ipv4` / `ipv6` prefixes of a mapping. */
function familyPrefixes(o: Record<string, unknown>, where: string): Families<Prefix> {
  const one = (f: 4 | 6): Prefix | undefined => {
    const x = o[`ipv${f}`];
    return x === undefined ? undefined : v.prefix(x, `${where}.ipv${f}`, { allowHostBits: false, family: f });
  };
  return { ipv4: one(4), ipv6: one(6) };
}

function optionalPair(x: unknown, where: string): Record<string, unknown> {
  const o = x === undefined ? {} : v.obj(x, where);
  v.only(o, where, ['ipv4', 'ipv6']);
  return o;
}

function parsePodPrefixLength(x: unknown, where: string, cidrs: Families<Prefix>): ClusterConfig['podPrefixLength'] {
  const o = optionalPair(x, where);
  const lengths = {
    ipv4: v.int(o.ipv4, `${where}.ipv4`, 8, 30, 24),
    ipv6: v.int(o.ipv6, `${where}.ipv6`, 16, 120, 64),
  };
  for (const f of ['ipv4', 'ipv6'] as const) {
    const cidr = cidrs[f];
    if (cidr && lengths[f] < cidr.len) v.fail(`${where}.${f}`, `must be at least the cluster CIDR's /${cidr.len}`);
  }
  return lengths;
}

function parseUnderlayPort(x: unknown, where: string, ports: PortConfig[]): string {
  const uplinks = ports.filter((p) => p.kind === 'uplink');
  const name = x === undefined ? uplinks[0]?.name : v.str(x, `${where}.underlayPort`);
  if (!name) v.fail(where, "a cluster node needs an uplink port (its addresses are the node's underlay addresses)");
  const up = ports.find((p) => p.name === name);
  if (up?.kind !== 'uplink') v.fail(`${where}.underlayPort`, `no uplink port named "${name}"`);
  if (!up.addresses.length) v.fail(`${where}.underlayPort`, `uplink "${name}" has no addresses`);
  return name;
}

export function parseCluster(x: unknown, where: string, ports: PortConfig[]): ClusterConfig {
  const o = v.obj(x, where);
  v.only(o, where, [
    'mode',
    'ipv4',
    'ipv6',
    'podPrefixLength',
    'podCIDR',
    'leaseTTL',
    'underlayPort',
    'hostPort',
    'encryption',
  ]);
  const encryption = v.oneOf(o.encryption, `${where}.encryption`, ['none', 'wireguard'], 'none');
  const mode = v.oneOf(o.mode, `${where}.mode`, ['direct', 'vxlan'], 'direct');
  const cidrs = familyPrefixes(o, where);
  if (!cidrs.ipv4 && !cidrs.ipv6) v.fail(where, 'needs a cluster CIDR: ipv4 and/or ipv6');
  const podPrefixLength = parsePodPrefixLength(o.podPrefixLength, `${where}.podPrefixLength`, cidrs);
  const podCIDR = familyPrefixes(optionalPair(o.podCIDR, `${where}.podCIDR`), `${where}.podCIDR`);
  for (const f of ['ipv4', 'ipv6'] as const) {
    const own = podCIDR[f],
      cidr = cidrs[f];
    if (own && (!cidr || !prefixWithin(own, cidr))) {
      v.fail(`${where}.podCIDR.${f}`, `must lie inside the cluster ${f} CIDR`);
    }
  }
  const underlayPort = parseUnderlayPort(o.underlayPort, where, ports);
  return {
    mode,
    ...cidrs,
    podPrefixLength,
    podCIDR,
    leaseTTL: v.int(o.leaseTTL, `${where}.leaseTTL`, 1, 3600, 5),
    underlayPort,
    hostPort: v.bool(o.hostPort, `${where}.hostPort`, true),
    encryption,
  };
}
