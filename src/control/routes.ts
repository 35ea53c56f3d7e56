// Derives the route table of a node from its configuration and programs it.
import type { NodeConfig } from './config.js';
import type { Gateway, PortConfig } from './port-config.js';
import type { VxlanConfig } from './route-config.js';
import { type Address, type Prefix, maskBytes, formatPrefix, linkLocalFromMac } from '../wire/addr.js';
import type { PrefixTable } from '../tables/prefix.js';
import { type PortTable, PORT_KIND_TUNNEL } from '../tables/port-table.js';
import type { NodeSettings } from '../datapath/node-settings.js';
import {
  ROUTE_VALUE_WORDS,
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_LOCAL,
  ROUTE_CONNECTED,
  ROUTE_VIA,
  ROUTE_BLACKHOLE,
  ROUTE_UNREACHABLE,
  ROUTE_TUNNEL,
  ROUTE_AUX,
  ROUTE_INNER_MAC,
  ROUTE_AUX_INNER_MAC,
  TUNNEL_PORT,
} from '../tables/layout.js';

export interface RouteEntry {
  prefix: Prefix;
  type: number;
  /** Output port; for ROUTE_TUNNEL the uplink toward the remote VTEP. */
  port: number;
  via?: Address;
  /** ROUTE_TUNNEL: the remote VTEP's underlay address (either family, whatever the prefix's). */
  remote?: Address;
  /** ROUTE_TUNNEL: inner destination MAC; absent: the node's VXLAN MAC (every Weft node's default). */
  innerMac?: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  [ROUTE_LOCAL]: 'local',
  [ROUTE_CONNECTED]: 'connected',
  [ROUTE_VIA]: 'via',
  [ROUTE_BLACKHOLE]: 'blackhole',
  [ROUTE_UNREACHABLE]: 'unreachable',
  [ROUTE_TUNNEL]: 'tunnel',
};

export function routeTypeName(t: number): string {
  return TYPE_NAMES[t] ?? `type${t}`;
}

function host(a: Address): Prefix {
  return { ...a, len: a.family === 4 ? 32 : 128 };
}

/** The router's own gateway addresses: answered on every endpoint port. */
export function gatewayRoutes(gw: Gateway): RouteEntry[] {
  const out: RouteEntry[] = [];
  if (gw.ipv4) out.push({ prefix: host(gw.ipv4), type: ROUTE_LOCAL, port: -1 });
  if (gw.ipv6) out.push({ prefix: host(gw.ipv6), type: ROUTE_LOCAL, port: -1 });
  return out;
}

/** What a port brings: an endpoint's host routes; an uplink's local and connected routes. */
export function portRoutes(p: PortConfig, index: number): RouteEntry[] {
  const out: RouteEntry[] = [];
  if (p.ipv4) out.push({ prefix: host(p.ipv4), type: ROUTE_CONNECTED, port: index });
  if (p.ipv6) out.push({ prefix: host(p.ipv6), type: ROUTE_CONNECTED, port: index });
  for (const a of p.addresses) {
    out.push({
      prefix: { family: a.family, bytes: maskBytes(a.bytes, a.len), len: a.len },
      type: ROUTE_CONNECTED,
      port: index,
    });
    out.push({ prefix: host(a), type: ROUTE_LOCAL, port: index });
  }
  return out;
}

/** The config's static routes; portIndex maps a port name to its slot. */
export function configRoutes(cfg: NodeConfig, portIndex: (name: string) => number): RouteEntry[] {
  return cfg.routes.map((r) =>
    r.type === 'tunnel'
      ? tunnelRoute(r.prefix, r.remote!, r.port ? portIndex(r.port) : -1, r.innerMac)
      : {
          prefix: r.prefix,
          type:
            r.type === 'via'
              ? ROUTE_VIA
              : r.type === 'connected'
                ? ROUTE_CONNECTED
                : r.type === 'blackhole'
                  ? ROUTE_BLACKHOLE
                  : ROUTE_UNREACHABLE,
          port: r.port ? portIndex(r.port) : -1,
          via: r.via,
        },
  );
}

/**
 * "prefix is behind the VTEP at remote, out of uplink port `port`": what the cluster code
 * programs for another node's pod CIDR in VXLAN mode (through programRoute / RouteManager).
 */
export function tunnelRoute(prefix: Prefix, remote: Address, port: number, innerMac?: Uint8Array): RouteEntry {
  return { prefix, type: ROUTE_TUNNEL, port, remote, innerMac };
}

/** Every route a static configuration implies, with ports in config order. */
export function routesFromConfig(cfg: NodeConfig): RouteEntry[] {
  return [
    ...gatewayRoutes(cfg.gateway),
    ...cfg.ports.flatMap((p, i) => portRoutes(p, i)),
    ...configRoutes(cfg, (name) => cfg.ports.findIndex((p) => p.name === name)),
  ];
}

export function programRoute(table: PrefixTable, r: RouteEntry): void {
  if (r.port === TUNNEL_PORT)
    throw new Error(`route ${formatPrefix(r.prefix)}: port ${TUNNEL_PORT} is the tunnel pseudo-port`);
  const v = new Int32Array(ROUTE_VALUE_WORDS);
  v[ROUTE_TYPE] = r.type;
  v[ROUTE_PORT] = r.port;
  const nh = r.type === ROUTE_TUNNEL ? r.remote : r.via;
  if (r.type === ROUTE_TUNNEL) {
    if (!r.remote) throw new Error(`tunnel route ${formatPrefix(r.prefix)} has no remote VTEP address`);
    if (r.innerMac && (r.innerMac.length !== 6 || (r.innerMac[0] & 1) !== 0)) {
      throw new Error(`tunnel route ${formatPrefix(r.prefix)}: inner MAC must be 6 bytes, unicast`);
    }
    const m = r.innerMac;
    v[ROUTE_AUX] = r.remote.family | (m ? ROUTE_AUX_INNER_MAC | (m[4] << 24) | (m[5] << 16) : 0);
    if (m) v[ROUTE_INNER_MAC] = (m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3];
  }
  if (nh) {
    const b = nh.bytes;
    for (let i = 0; i < b.length / 4; i++)
      v[ROUTE_NEXTHOP + i] = (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3];
  }
  if (!table.insert(r.prefix.family, r.prefix.bytes, r.prefix.len, v)) {
    throw new Error(`route table full: cannot add ${formatPrefix(r.prefix)} (raise tables.routes)`);
  }
}

/**
 * Publishes the node's VXLAN endpoint to the workers: the tunnel pseudo-port's port-table
 * record (our MAC inside the tunnel, and the gateway addresses answered there and used as the
 * source of ICMP errors sent back through it) and the shared settings (on/off, VNI, UDP port).
 * Control thread only; call again to change it. With vxlan off, the record is removed.
 */
export function programVxlan(ports: PortTable, settings: NodeSettings, vx: VxlanConfig, gateway: Gateway): void {
  if (!vx.enabled) {
    settings.setVxlan(false, vx.vni, vx.port);
    if (ports.active(TUNNEL_PORT)) ports.remove(TUNNEL_PORT);
    return;
  }
  ports.set(TUNNEL_PORT, {
    kind: PORT_KIND_TUNNEL,
    mtu: 0, // unused: encapsulated frames are checked against their uplink's MTU
    mac: vx.mac,
    ipv4: gateway.ipv4?.bytes,
    ipv6: gateway.ipv6?.bytes,
    ipv6LinkLocal: linkLocalFromMac(vx.mac),
    fds: [],
  });
  settings.setVxlan(true, vx.vni, vx.port);
}

function keyOf(p: Prefix): string {
  return `${formatPrefix(p)}`;
}

/**
 * The route table as owned sets: the config, each port, each remote node owns some routes,
 * and an owner's set is replaced as a whole when it changes. When two owners claim the same
 * prefix the latest wins; removing it falls back to the other claim.
 */
export class RouteManager {
  private readonly claims = new Map<string, Array<{ owner: string; entry: RouteEntry }>>();
  private readonly owned = new Map<string, RouteEntry[]>();

  constructor(private readonly table: PrefixTable) {}

  /** Replaces every route of `owner` with `entries` (only the differences touch the table). */
  set(owner: string, entries: RouteEntry[]): void {
    const old = this.owned.get(owner) ?? [];
    const fresh = new Map(entries.map((e) => [keyOf(e.prefix), e]));
    for (const e of old) if (!fresh.has(keyOf(e.prefix))) this.release(owner, e.prefix);
    for (const e of entries) this.claim(owner, e);
    if (entries.length) this.owned.set(owner, entries);
    else this.owned.delete(owner);
  }

  owners(): string[] {
    return [...this.owned.keys()];
  }

  private claim(owner: string, e: RouteEntry): void {
    const k = keyOf(e.prefix);
    const list = (this.claims.get(k) ?? []).filter((c) => c.owner !== owner);
    list.push({ owner, entry: e });
    this.claims.set(k, list);
    programRoute(this.table, e);
  }

  private release(owner: string, p: Prefix): void {
    const k = keyOf(p);
    const list = (this.claims.get(k) ?? []).filter((c) => c.owner !== owner);
    if (list.length) {
      this.claims.set(k, list);
      programRoute(this.table, list[list.length - 1].entry);
    } else {
      this.claims.delete(k);
      this.table.delete(p.family, p.bytes, p.len);
    }
  }
}
