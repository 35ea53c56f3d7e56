// Services on a load-balancer agent: kept in the store (so every LB agent with the same
// seed builds the same Maglev tables and sends a flow to the same backend), watched, and
// programmed into the shared LB tables the workers read.
import type { Agent } from './agent.js';
import type { AgentExtension, WorkerTables } from './extension.js';
import type { LbConfig } from './lb-config.js';
import type { Watcher, WatchEvent } from './store/store.js';
import { ApiError } from './api.js';
import { parseAddress } from '../wire/addr.js';
import { LbTables } from '../lb/tables.js';
import { maglevSeed, buildMaglevTable, sortBackends, backendName } from '../lb/maglev.js';
import { parseService, type ServiceSpec, type ServiceError, protoNumber, serviceKey, SERVICES } from '../lb/service.js';
import { SVC_FLAG_L4_XLATE, SVC_FLAG_CONNTRACK } from '../tables/layout.js';

function log(msg: string): void {
  process.stderr.write(`weft: ${msg}\n`);
}

export class LbController implements AgentExtension {
  readonly tables: LbTables;
  readonly workerTables: WorkerTables;
  private readonly seed: number;
  private readonly specs = new Map<string, ServiceSpec>();
  private watcher?: Watcher;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly agent: Agent,
    readonly cfg: LbConfig,
  ) {
    this.seed = maglevSeed(cfg.seed);
    this.tables = new LbTables({
      maxServices: cfg.maxServices,
      maxBackends: cfg.maxBackends,
      tableSize: cfg.tableSize,
      conntrackCapacity: cfg.conntrackCapacity,
      newFlowsPerSec: cfg.newFlowsPerSec,
    });
    this.workerTables = { lbSabs: this.tables.sabs };
  }

  async start(): Promise<void> {
    // Outer sources of DSR packets: prefix + flow hash (default: the egress port's address).
    if (this.cfg.ipv4SourceCIDR)
      this.agent.settings.setLbSourcePrefix(4, this.cfg.ipv4SourceCIDR.bytes, this.cfg.ipv4SourceCIDR.len);
    if (this.cfg.ipv6SourceCIDR)
      this.agent.settings.setLbSourcePrefix(6, this.cfg.ipv6SourceCIDR.bytes, this.cfg.ipv6SourceCIDR.len);
    const store = await this.agent.store();
    // Idle flows leave the connection table, so a full table makes room again.
    this.sweeper = setInterval(() => this.tables.sweepConntrack(this.cfg.conntrackIdleSec), 5000);
    this.sweeper.unref();
    this.watcher = await store.watch(
      SERVICES,
      (e) => this.onEvent(e),
      (e) => log(`store ${store.url}: ${e.message} (services keep their tables)`),
    );
  }

  private keyOf(s: ServiceSpec): { vip: NonNullable<ReturnType<typeof parseAddress>>; port: number; proto: number } {
    return { vip: parseAddress(s.vip)!, port: s.port, proto: protoNumber(s.protocol) };
  }

  private onEvent(e: WatchEvent): void {
    const name = e.key.slice(SERVICES.length);
    const old = this.specs.get(name);
    if (e.type === 'delete') {
      if (old) this.tables.delete(this.keyOf(old));
      this.specs.delete(name);
      return;
    }
    let spec: ServiceSpec;
    try {
      spec = parseService(JSON.parse(e.value), e.key);
    } catch (err) {
      log(`store: ${(err as Error).message}; ignored`);
      return;
    }
    try {
      if (old && (old.vip !== spec.vip || old.port !== spec.port || old.protocol !== spec.protocol))
        this.tables.delete(this.keyOf(old));
      const backends = spec.backends.map((b) => ({ addr: parseAddress(b.ip)!, port: b.port, weight: b.weight }));
      const flags = (spec.l4Xlate === 'backend' ? SVC_FLAG_L4_XLATE : 0) | (spec.conntrack ? SVC_FLAG_CONNTRACK : 0);
      this.tables.upsert(this.keyOf(spec), flags, backends, this.seed);
      this.specs.set(name, spec);
    } catch (err) {
      log(`service ${name}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.watcher?.close();
  }

  /** A service with how its Maglev table spreads over the backends. */
  describe(name: string): ServiceSpec & {
    tableSize: number;
    seed: string;
    slots: Record<string, number>;
    counters: ReturnType<LbTables['counters']>;
  } {
    const s = this.specs.get(name);
    if (!s) throw new ApiError(404, `no service named "${name}"`);
    const sorted = sortBackends(s.backends.map((b) => ({ name: backendName(b.ip, b.port), weight: b.weight })));
    const slots: Record<string, number> = Object.fromEntries(sorted.map((b) => [b.name, 0]));
    for (const i of buildMaglevTable(sorted, this.cfg.tableSize, this.seed)) if (i >= 0) slots[sorted[i].name]++;
    return {
      ...s,
      tableSize: this.cfg.tableSize,
      seed: this.cfg.seed,
      slots,
      counters: this.tables.counters(this.keyOf(s)),
    };
  }

  readonly api = {
    'GET /v1/services': () =>
      [...this.specs.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((s) => ({ ...s, counters: this.tables.counters(this.keyOf(s)) })),
    'GET /v1/services/*': (r: { params: string[] }) => this.describe(r.params[0]),
    'POST /v1/services': async (r: { body: unknown }) => {
      let spec: ServiceSpec;
      try {
        spec = parseService(r.body);
      } catch (e) {
        throw new ApiError(400, (e as ServiceError).message);
      }
      const clash = [...this.specs.values()].find(
        (s) => s.name !== spec.name && s.vip === spec.vip && s.port === spec.port && s.protocol === spec.protocol,
      );
      if (clash)
        throw new ApiError(409, `${spec.vip}:${spec.port}/${spec.protocol} is already service "${clash.name}"`);
      const value = JSON.stringify(spec);
      await (await this.agent.store()).put(serviceKey(spec.name), value);
      // Program it now rather than when the watch comes round (the same value again is harmless).
      this.onEvent({ type: 'put', key: serviceKey(spec.name), value });
      return spec;
    },
    'DELETE /v1/services/*': async (r: { params: string[] }) => {
      if (!(await (await this.agent.store()).delete(serviceKey(r.params[0]))))
        throw new ApiError(404, `no service named "${r.params[0]}"`);
      return { deleted: r.params[0] };
    },
  };

  status(): Record<string, unknown> {
    return { services: this.specs.size, lb: { tableSize: this.cfg.tableSize, seed: this.cfg.seed } };
  }
}
