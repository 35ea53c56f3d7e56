// The agent's status as plain JSON: ports, workers, counters, table usage.
import type { Agent, PortStats } from './agent.js';
import { formatMac } from '../wire/ethernet.js';
import { formatAddress, formatPrefix } from '../wire/addr.js';
import { isDrop } from '../datapath/counters.js';
import { routeTypeName } from './routes.js';
import { ROUTE_TYPE, ROUTE_PORT } from '../tables/layout.js';

export interface WorkerStatus {
  index: number;
  cpu: number;
  alive: boolean;
  rx: number;
  tx: number;
  drops: number;
  dropReasons: Record<string, number>;
  counters: Record<string, number>;
}

export interface Status {
  node: string;
  health: 'ok' | 'degraded';
  uptimeSec: number;
  ports: Array<{
    name: string;
    kind: string;
    tap: string;
    netns: string | null;
    mac: string;
    addresses: string[];
    mtu: number;
    queues: number;
    offloads: boolean;
    rxSuperFrames: number;
    txSuperFrames: number;
  }>;
  workers: WorkerStatus[];
  totals: Record<string, number>;
  tables: Record<string, { size: number; capacity: number; full: number }>;
  routes: Array<{ prefix: string; type: string; port: string | null }>;
  nodes?: Array<{ name: string; health: string; underlay: string[]; podCIDRs: string[]; self: boolean }>;
}

function nonZero(o: Record<string, number>, pick: (k: string) => boolean): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== 0 && pick(k)));
}

function superFrames(s: PortStats): { rxSuperFrames: number; txSuperFrames: number } {
  return { rxSuperFrames: s.rxSuperFrames, txSuperFrames: s.txSuperFrames };
}

export function buildStatus(agent: Agent): Status {
  const cfg = agent.cfg;
  const counters = agent.counters.read();
  const workers: WorkerStatus[] = agent.workers.map((w) => {
    const c = counters.perWorker[w.index];
    const dropReasons = nonZero(c, isDrop);
    return {
      index: w.index,
      cpu: w.cpu,
      alive: w.alive,
      rx: c.rxFrames,
      tx: c.txFrames,
      drops: Object.values(dropReasons).reduce((a, b) => a + b, 0),
      dropReasons,
      counters: nonZero(c, (k) => !isDrop(k)),
    };
  });
  const ports = agent.ports.list().map((rt) => {
    const p = rt.cfg;
    const own =
      p.kind === 'endpoint'
        ? [rt.gateway.ipv4, rt.gateway.ipv6].filter((a) => a !== undefined).map((a) => formatAddress(a!))
        : p.addresses.map(formatPrefix);
    const peer =
      p.kind === 'endpoint'
        ? [p.ipv4, p.ipv6].filter((a) => a !== undefined).map((a) => `endpoint ${formatAddress(a!)}`)
        : p.peerAddresses.map((a) => `peer ${formatPrefix(a)}`);
    return {
      name: p.name,
      kind: p.kind,
      tap: rt.tap,
      netns: p.netns ?? null,
      mac: formatMac(rt.mac),
      addresses: [...own, ...peer],
      mtu: p.mtu,
      queues: rt.fds.length,
      offloads: rt.offloads !== 0,
      ...superFrames(agent.portStats(rt)),
    };
  });
  const portName = (i: number): string | null => agent.ports.list().find((p) => p.index === i)?.cfg.name ?? null;
  const rs = agent.routeTable.stats();
  const ns = agent.neighbours.stats();
  const fs = agent.recorderTables.filterStats();
  const routes = agent.routeTable.entries().map((e) => ({
    prefix: formatPrefix({ family: e.family, bytes: e.addr, len: e.prefixLen }),
    type: routeTypeName(e.value[ROUTE_TYPE]),
    port: e.value[ROUTE_PORT] >= 0 ? portName(e.value[ROUTE_PORT]) : null,
  }));
  return {
    node: cfg.node,
    health: workers.every((w) => w.alive) ? 'ok' : 'degraded',
    uptimeSec: Math.round((Date.now() - agent.startedAt) / 1000),
    ports,
    workers,
    totals: nonZero(counters.total, () => true),
    tables: {
      routes: { size: rs.size, capacity: rs.capacity, full: rs.full },
      neighbours: { size: ns.size, capacity: ns.capacity, full: ns.full },
      recorderFilters: { size: fs.size, capacity: fs.capacity, full: fs.full },
    },
    routes,
    ...Object.assign({}, ...agent.extensions.map((x) => x.status?.() ?? {})),
  };
}
