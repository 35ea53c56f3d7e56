// The `egress:` section of a node's configuration (issue 6). Every cluster node runs the
// egress stage (policies from the store, masquerading); a gateway node is a normal cluster
// node whose section lists the egress IPs it owns (primary) or stands by for:
//
//   egress:
//     ownIPs: [198.18.0.200, 2001:db8:18::200]   # primary gateway for these
//     standbyFor: []                               # takes these over when their owner's lease expires
//     masquerade: true                             # endpoint → outside: SNAT to the node's address
//     nonMasqueradeCIDRs: []                       # beyond the cluster CIDRs and underlay subnets
//     portMin: 32768                               # SNAT source ports (split between workers)
//     portMax: 60999
//     conntrackCapacity: 65536                     # connections
//     policyEntries: 16384                         # (endpoint address, destination CIDR) entries
//     timeouts: { tcpEstablished: 21600, ... }     # seconds per state (ct-state.ts has the list)
//
// Errors name the field and the value, as the rest of the configuration does.
import { parseAddress, formatAddress, parsePrefix, type Prefix } from '../wire/addr.js';
import { DEFAULT_TIMEOUTS, type NatTimeouts } from '../nat/ct-state.js';
import { DEFAULT_PORT_MIN, DEFAULT_PORT_MAX } from '../nat/port-alloc.js';
import { MAX_LOCAL_EGRESS_IPS } from '../nat/local-ips.js';
import { ConfigError } from './config.js';

export interface EgressConfig {
  ownIPs: string[];
  standbyFor: string[];
  masquerade: boolean;
  nonMasqueradeCIDRs: Prefix[];
  portMin: number;
  portMax: number;
  conntrackCapacity: number;
  policyEntries: number;
  timeouts: NatTimeouts;
}

type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw new ConfigError(`${where}: ${msg}`);
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function ips(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(where, 'must be a list of addresses');
  const out = v.map((x, i) => {
    const a = typeof x === 'string' ? parseAddress(x) : null;
    if (!a) fail(`${where}[${i}]`, `${JSON.stringify(x)} is not an IPv4 or IPv6 address`);
    return formatAddress(a);
  });
  const dup = out.find((x, i) => out.indexOf(x) !== i);
  if (dup) fail(where, `${dup} is listed twice`);
  return out;
}

/** Parses the section (absent: the defaults). `workers`: the node's worker count (each needs a port). */
export function parseEgressConfig(v: unknown, where: string, workers: number): EgressConfig {
  const o = (v ?? {}) as Obj;
  if (typeof o !== 'object' || Array.isArray(o)) fail(where, 'must be a mapping');
  const allowed = ['ownIPs', 'standbyFor', 'masquerade', 'nonMasqueradeCIDRs', 'portMin', 'portMax', 'conntrackCapacity', 'policyEntries', 'timeouts'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
  const ownIPs = ips(o.ownIPs, `${where}.ownIPs`);
  const standbyFor = ips(o.standbyFor, `${where}.standbyFor`);
  const both = ownIPs.find((x) => standbyFor.includes(x));
  if (both) fail(`${where}.standbyFor`, `${both} is already in ownIPs`);
  if (ownIPs.length + standbyFor.length > MAX_LOCAL_EGRESS_IPS) fail(where, `at most ${MAX_LOCAL_EGRESS_IPS} egress IPs per node`);
  if (o.masquerade !== undefined && typeof o.masquerade !== 'boolean') fail(`${where}.masquerade`, `must be true or false, got ${JSON.stringify(o.masquerade)}`);
  if (o.nonMasqueradeCIDRs !== undefined && !Array.isArray(o.nonMasqueradeCIDRs)) fail(`${where}.nonMasqueradeCIDRs`, 'must be a list of CIDRs');
  const nonMasqueradeCIDRs = ((o.nonMasqueradeCIDRs ?? []) as unknown[]).map((x, i) => {
    const p = typeof x === 'string' ? parsePrefix(x, { allowHostBits: false }) : `${JSON.stringify(x)} is not a CIDR`;
    if (typeof p === 'string') fail(`${where}.nonMasqueradeCIDRs[${i}]`, p);
    return p;
  });
  const portMin = o.portMin === undefined ? DEFAULT_PORT_MIN : int(o.portMin, `${where}.portMin`, 1, 65535);
  const portMax = o.portMax === undefined ? DEFAULT_PORT_MAX : int(o.portMax, `${where}.portMax`, 1, 65535);
  if (portMax < portMin) fail(`${where}.portMax`, `${portMax} is below portMin ${portMin}`);
  if (portMax - portMin + 1 < workers) fail(`${where}.portMax`, `the range ${portMin}-${portMax} has fewer ports than the ${workers} workers`);
  const t = (o.timeouts ?? {}) as Obj;
  if (typeof t !== 'object' || Array.isArray(t)) fail(`${where}.timeouts`, 'must be a mapping');
  const timeouts: NatTimeouts = { ...DEFAULT_TIMEOUTS };
  for (const [k, x] of Object.entries(t)) {
    if (!(k in DEFAULT_TIMEOUTS)) fail(`${where}.timeouts.${k}`, `unknown timeout (expected one of: ${Object.keys(DEFAULT_TIMEOUTS).join(', ')})`);
    timeouts[k as keyof NatTimeouts] = int(x, `${where}.timeouts.${k}`, 1, 864000);
  }
  return {
    ownIPs, standbyFor,
    masquerade: o.masquerade === undefined ? true : (o.masquerade as boolean),
    nonMasqueradeCIDRs, portMin, portMax,
    conntrackCapacity: o.conntrackCapacity === undefined ? 65536 : int(o.conntrackCapacity, `${where}.conntrackCapacity`, 16, 1 << 22),
    policyEntries: o.policyEntries === undefined ? 16384 : int(o.policyEntries, `${where}.policyEntries`, 16, 1 << 20),
    timeouts,
  };
}
