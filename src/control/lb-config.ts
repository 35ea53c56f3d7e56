// The `lb:` section of a node's configuration: the L4 load balancer's table sizes, Maglev
// parameters, DSR outer source prefixes and connection table limits.
import type { Prefix } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';
import { checkTableSize, maglevSeed, MaglevError, MAGLEV_DEFAULT_SEED, MAGLEV_DEFAULT_SIZE } from '../lb/maglev.js';
import { DEFAULT_CONNTRACK_IDLE_SEC } from '../lb/conntrack.js';
import { ConfigError } from './config-error.js';

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

const v: Validator = validator(ConfigError);

/** Runs a Maglev check, its error naming the field. */
function maglevCheck(check: () => unknown, where: string): void {
  try {
    check();
  } catch (e) {
    if (e instanceof MaglevError) v.fail(where, e.message);
    throw e;
  }
}

export function parseLb(x: unknown, where: string): LbConfig {
  const o = v.obj(x ?? {}, where);
  v.only(o, where, [
    'tableSize',
    'seed',
    'maxServices',
    'maxBackends',
    'ipv4SourceCIDR',
    'ipv6SourceCIDR',
    'conntrackCapacity',
    'conntrackIdleSec',
    'newFlowsPerSec',
  ]);
  const tableSize = v.int(o.tableSize, `${where}.tableSize`, 251, 131071, MAGLEV_DEFAULT_SIZE);
  maglevCheck(() => checkTableSize(tableSize), `${where}.tableSize`);
  const seed = o.seed === undefined ? MAGLEV_DEFAULT_SEED : v.str(o.seed, `${where}.seed`);
  maglevCheck(() => maglevSeed(seed), `${where}.seed`);
  const sourceCIDR = (f: 4 | 6): Prefix | undefined => {
    const x = o[`ipv${f}SourceCIDR`];
    return x === undefined ? undefined : v.prefix(x, `${where}.ipv${f}SourceCIDR`, { allowHostBits: false, family: f });
  };
  return {
    tableSize,
    seed,
    maxServices: v.int(o.maxServices, `${where}.maxServices`, 1, 65536, 64),
    maxBackends: v.int(o.maxBackends, `${where}.maxBackends`, 1, 1 << 20, 4096),
    ipv4SourceCIDR: sourceCIDR(4),
    ipv6SourceCIDR: sourceCIDR(6),
    conntrackCapacity: v.int(o.conntrackCapacity, `${where}.conntrackCapacity`, 16, 1 << 24, 65536),
    conntrackIdleSec: v.int(o.conntrackIdleSec, `${where}.conntrackIdleSec`, 1, 86400, DEFAULT_CONNTRACK_IDLE_SEC),
    newFlowsPerSec: v.int(o.newFlowsPerSec, `${where}.newFlowsPerSec`, 1, 1 << 30, 100000),
  };
}

/** The lb section's defaults (weft agent --mode lb without one). */
export function parseLbDefaults(): LbConfig {
  return parseLb({}, 'lb');
}
