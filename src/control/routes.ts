// Derives the route table of a node from its configuration and programs it.
import { NodeConfig } from './config.js';
import { Address, Prefix, maskBytes, formatPrefix } from './addr.js';
import { PrefixTable } from '../tables/prefix.js';
import {
  ROUTE_VALUE_WORDS, ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_LOCAL, ROUTE_CONNECTED, ROUTE_VIA,
  ROUTE_BLACKHOLE, ROUTE_UNREACHABLE,
} from '../tables/layout.js';

export interface RouteEntry {
  prefix: Prefix;
  type: number;
  port: number;
  via?: Address;
}

const TYPE_NAMES: Record<number, string> = {
  [ROUTE_LOCAL]: 'local', [ROUTE_CONNECTED]: 'connected', [ROUTE_VIA]: 'via',
  [ROUTE_BLACKHOLE]: 'blackhole', [ROUTE_UNREACHABLE]: 'unreachable',
};

export function routeTypeName(t: number): string {
  return TYPE_NAMES[t] ?? `type${t}`;
}

function host(a: Address): Prefix {
  return { ...a, len: a.family === 4 ? 32 : 128 };
}

/** Every route the configuration implies, in the order they are programmed. */
export function routesFromConfig(cfg: NodeConfig): RouteEntry[] {
  const out: RouteEntry[] = [];
  const portIndex = (name: string): number => cfg.ports.findIndex((p) => p.name === name);
  if (cfg.gateway.ipv4) out.push({ prefix: host(cfg.gateway.ipv4), type: ROUTE_LOCAL, port: -1 });
  if (cfg.gateway.ipv6) out.push({ prefix: host(cfg.gateway.ipv6), type: ROUTE_LOCAL, port: -1 });
  cfg.ports.forEach((p, i) => {
    if (p.ipv4) out.push({ prefix: host(p.ipv4), type: ROUTE_CONNECTED, port: i });
    if (p.ipv6) out.push({ prefix: host(p.ipv6), type: ROUTE_CONNECTED, port: i });
    for (const a of p.addresses) {
      out.push({ prefix: { family: a.family, bytes: maskBytes(a.bytes, a.len), len: a.len }, type: ROUTE_CONNECTED, port: i });
      out.push({ prefix: host(a), type: ROUTE_LOCAL, port: i });
    }
  });
  for (const r of cfg.routes) {
    const type = r.type === 'via' ? ROUTE_VIA : r.type === 'connected' ? ROUTE_CONNECTED : r.type === 'blackhole' ? ROUTE_BLACKHOLE : ROUTE_UNREACHABLE;
    out.push({ prefix: r.prefix, type, port: r.port ? portIndex(r.port) : -1, via: r.via });
  }
  return out;
}

export function programRoute(table: PrefixTable, r: RouteEntry): void {
  const v = new Int32Array(ROUTE_VALUE_WORDS);
  v[ROUTE_TYPE] = r.type;
  v[ROUTE_PORT] = r.port;
  if (r.via) {
    const b = r.via.bytes;
    for (let i = 0; i < b.length / 4; i++) v[ROUTE_NEXTHOP + i] = (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3];
  }
  if (!table.insert(r.prefix.family, r.prefix.bytes, r.prefix.len, v)) {
    throw new Error(`route table full: cannot add ${formatPrefix(r.prefix)} (raise tables.routes)`);
  }
}
