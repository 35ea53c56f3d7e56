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
import { formatAddress, type Prefix } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { DEFAULT_TIMEOUTS, type NatTimeouts } from '../nat/ct-state.js';
import { DEFAULT_PORT_MIN, DEFAULT_PORT_MAX } from '../nat/port-alloc.js';
import { MAX_LOCAL_EGRESS_IPS } from '../nat/local-ips.js';
import { ConfigError } from './config-error.js';

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

const v: Validator = validator(ConfigError);

function ips(x: unknown, where: string): string[] {
  const out = v.list(x, where, 'addresses').map((a, i) => formatAddress(v.address(a, `${where}[${i}]`)));
  const dup = out.find((a, i) => out.indexOf(a) !== i);
  if (dup) v.fail(where, `${dup} is listed twice`);
  return out;
}

function parseTimeouts(x: unknown, where: string): NatTimeouts {
  const t = v.obj(x ?? {}, where);
  v.only(t, where, Object.keys(DEFAULT_TIMEOUTS));
  const timeouts: NatTimeouts = { ...DEFAULT_TIMEOUTS };
  for (const [k, s] of Object.entries(t)) timeouts[k as keyof NatTimeouts] = v.int(s, `${where}.${k}`, 1, 864000);
  return timeouts;
}

/** Parses the section (absent: the defaults). `workers`: the node's worker count (each needs a port). */
export function parseEgressConfig(x: unknown, where: string, workers: number): EgressConfig {
  const o = v.obj(x ?? {}, where);
  v.only(o, where, [
    'ownIPs',
    'standbyFor',
    'masquerade',
    'nonMasqueradeCIDRs',
    'portMin',
    'portMax',
    'conntrackCapacity',
    'policyEntries',
    'timeouts',
  ]);
  const ownIPs = ips(o.ownIPs, `${where}.ownIPs`);
  const standbyFor = ips(o.standbyFor, `${where}.standbyFor`);
  const both = ownIPs.find((a) => standbyFor.includes(a));
  if (both) v.fail(`${where}.standbyFor`, `${both} is already in ownIPs`);
  if (ownIPs.length + standbyFor.length > MAX_LOCAL_EGRESS_IPS) {
    v.fail(where, `at most ${MAX_LOCAL_EGRESS_IPS} egress IPs per node`);
  }
  const masquerade = v.bool(o.masquerade, `${where}.masquerade`, true);
  const nonMasqueradeCIDRs = v
    .list(o.nonMasqueradeCIDRs, `${where}.nonMasqueradeCIDRs`, 'CIDRs')
    .map((c, i) => v.prefix(c, `${where}.nonMasqueradeCIDRs[${i}]`, { allowHostBits: false }));
  const portMin = v.int(o.portMin, `${where}.portMin`, 1, 65535, DEFAULT_PORT_MIN);
  const portMax = v.int(o.portMax, `${where}.portMax`, 1, 65535, DEFAULT_PORT_MAX);
  if (portMax < portMin) v.fail(`${where}.portMax`, `${portMax} is below portMin ${portMin}`);
  if (portMax - portMin + 1 < workers) {
    v.fail(`${where}.portMax`, `the range ${portMin}-${portMax} has fewer ports than the ${workers} workers`);
  }
  const timeouts = parseTimeouts(o.timeouts, `${where}.timeouts`);
  return {
    ownIPs,
    standbyFor,
    masquerade,
    nonMasqueradeCIDRs,
    portMin,
    portMax,
    conntrackCapacity: v.int(o.conntrackCapacity, `${where}.conntrackCapacity`, 16, 1 << 22, 65536),
    policyEntries: v.int(o.policyEntries, `${where}.policyEntries`, 16, 1 << 20, 16384),
    timeouts,
  };
}
