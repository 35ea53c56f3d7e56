// The agent's control thread: creates the ports and tables, starts one pinned worker per
// queue, runs the extensions it is given (start-agent.ts chooses them), serves the API, and on
// SIGTERM stops the workers and removes what it created.
import { Worker } from 'node:worker_threads';
import { cpus } from 'node:os';
import type { NodeConfig } from './config.js';
import type { PortConfig, Gateway } from './port-config.js';
import type { Prefix } from '../wire/addr.js';
import { RouteManager, gatewayRoutes, portRoutes, configRoutes, programVxlan } from './routes.js';
import { NodeSettings } from '../datapath/node-settings.js';
import { openStore, type Store } from './store/store.js';
import { PortManager, type PortRuntime } from './port-manager.js';
import { startApi, type ApiServer, type ApiRoutes } from './api.js';
import { buildStatus } from './status.js';
import { loadNative, type NativeShim } from '../native/tap.js';
import { PortTable, MAX_QUEUES, MAX_PORTS, PORT_COUNTERS, readPortCounters } from '../tables/port-table.js';
import { PrefixTable } from '../tables/prefix.js';
import { SharedHashMap } from '../tables/hashmap.js';
import { CounterBlock } from '../tables/counters.js';
import { ROUTE_VALUE_WORDS, NEIGH_KEY_WORDS, NEIGH_VALUE_WORDS } from '../tables/layout.js';
import { COUNTER_NAMES } from '../datapath/counters.js';
import type { WorkerInit } from '../datapath/worker.js';
import { RecorderTables } from '../recorder/tables.js';
import type { AgentExtension, WorkerTables } from './extension.js';

export type PortStats = ReturnType<typeof readPortCounters>;

export interface WorkerRuntime {
  index: number;
  cpu: number;
  worker: Worker;
  wakeFd: number;
  alive: boolean;
}

export class Agent {
  readonly startedAt = Date.now();
  readonly portTable = PortTable.create();
  readonly routeTable: PrefixTable;
  readonly neighbours: SharedHashMap;
  readonly counters: CounterBlock;
  readonly portCounters: SharedArrayBuffer;
  readonly settings = NodeSettings.create();
  private readonly counterBase = new Map<number, PortStats>();
  /** [0] stop flag, [1 + worker] port-table generation each worker has seen. */
  readonly control = new Int32Array(new SharedArrayBuffer(4 * (1 + MAX_QUEUES)));
  readonly ports: PortManager;
  readonly routes: RouteManager;
  readonly workers: WorkerRuntime[] = [];
  private extensionList: readonly AgentExtension[] = [];
  private readonly native: NativeShim;
  private api?: ApiServer;
  private storeOpen?: Promise<Store>;
  /** The n-tuple recorder's filters, capture rings and lost counters (every agent records). */
  readonly recorderTables: RecorderTables;
  private stopping = false;
  /** What the control thread does when a worker says something needs it (e.g. "wg": a handshake is waiting). */
  private readonly workerNotices = new Map<string, () => void>();

  /** `storeUrl`: the state store (the config's, or weft agent --store). */
  constructor(
    readonly cfg: NodeConfig,
    readonly storeUrl: string = cfg.store,
  ) {
    this.native = loadNative();
    this.routeTable = PrefixTable.create({ capacity: cfg.tables.routes, valueWords: ROUTE_VALUE_WORDS });
    this.neighbours = SharedHashMap.create({
      keyWords: NEIGH_KEY_WORDS,
      valueWords: NEIGH_VALUE_WORDS,
      capacity: cfg.tables.neighbours,
    });
    this.counters = CounterBlock.create(COUNTER_NAMES, cfg.workers);
    this.portCounters = new SharedArrayBuffer(cfg.workers * MAX_PORTS * PORT_COUNTERS * 8);
    this.routes = new RouteManager(this.routeTable);
    this.ports = new PortManager(this.portTable, this.native, cfg.node, cfg.workers, this.control, () =>
      this.wakeWorkers(),
    );
    const { maxFilters, ringBytes } = cfg.recorder;
    this.recorderTables = new RecorderTables({ maxFilters, workers: cfg.workers, ringBytes });
  }

  /** Starts the workers, the config's ports and routes, then `extensions` in order, then the API. */
  async start(extensions: readonly AgentExtension[]): Promise<void> {
    this.extensionList = extensions;
    try {
      // Workers first: ports added later are picked up through the port table generation.
      await this.startWorkers();
      for (const p of this.cfg.ports) this.addPort(p, this.cfg.gateway);
      this.routes.set('gateway', gatewayRoutes(this.cfg.gateway));
      // In a cluster the controller programs VXLAN once it knows its gateway addresses.
      if (!this.cfg.cluster) this.setVxlanGateway(this.cfg.gateway);
      this.routes.set(
        'config',
        configRoutes(this.cfg, (name) => this.ports.find(name)?.index ?? -1),
      );
      for (const x of this.extensions) await x.start();
      const extra = Object.assign({}, ...this.extensions.map((x) => x.api ?? {})) as ApiRoutes;
      this.api = await startApi(this.cfg.api, { 'GET /v1/status': () => buildStatus(this), ...extra });
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** What the agent runs beside the dataplane, in start order (given to start()). */
  get extensions(): readonly AgentExtension[] {
    return this.extensionList;
  }

  /** Adds a port with its routes (owner "port:<name>"); its counters start from zero. */
  addPort(cfg: PortConfig, gateway: Gateway, opts: { tap?: string; endpointRoutes?: Prefix[] } = {}): PortRuntime {
    const rt = this.ports.add(cfg, gateway, opts);
    this.counterBase.set(rt.index, readPortCounters(this.portCounters, this.cfg.workers, rt.index));
    this.routes.set(`port:${cfg.name}`, portRoutes(cfg, rt.index));
    return rt;
  }

  async removePort(name: string): Promise<void> {
    this.routes.set(`port:${name}`, []);
    const index = this.ports.find(name)?.index;
    await this.ports.remove(name);
    // The slot will be reused: its neighbours (the old kernel side's MAC) must not be.
    const stale: Int32Array[] = [];
    this.neighbours.forEach((key) => {
      if (key[0] === index) stale.push(Int32Array.from(key));
    });
    for (const k of stale) this.neighbours.delete(k, 0);
  }

  /** Frames and bytes through a port since it was added. */
  portStats(rt: PortRuntime): PortStats {
    const now = readPortCounters(this.portCounters, this.cfg.workers, rt.index);
    const base = this.counterBase.get(rt.index);
    if (base === undefined) return now;
    return Object.fromEntries(
      Object.entries(now).map(([k, v]) => [k, v - base[k as keyof PortStats]]),
    ) as unknown as PortStats;
  }

  maxFrame(): number {
    return Math.max(1500, ...this.cfg.ports.map((p) => p.mtu)) + 14;
  }

  /** Publishes the VXLAN settings and the tunnel pseudo-port answering for `gateway`. */
  setVxlanGateway(gateway: Gateway): void {
    programVxlan(this.portTable, this.settings, this.cfg.vxlan, gateway);
    this.wakeWorkers();
  }

  /** The state store, opened on first use and shared by everything the agent runs. */
  store(): Promise<Store> {
    this.storeOpen ??= openStore(this.storeUrl);
    return this.storeOpen;
  }

  wakeWorkers(): void {
    for (const w of this.workers) this.native.eventfdSignal(w.wakeFd);
  }

  /** Calls fn (on this thread) when a worker posts a notice of this type. */
  onWorkerNotice(type: string, fn: () => void): void {
    this.workerNotices.set(type, fn);
  }

  wakeWorker(index: number): void {
    const w = this.workers[index];
    if (w) this.native.eventfdSignal(w.wakeFd);
  }

  /** The tables the extensions share with the workers; a table shared twice is a wiring mistake. */
  private workerTables(): WorkerTables {
    const all: WorkerTables = {};
    for (const x of this.extensions) {
      for (const [k, v] of Object.entries(x.workerTables ?? {})) {
        if (k in all) throw new Error(`two extensions share worker table ${k}`);
        Object.assign(all, { [k]: v });
      }
    }
    return all;
  }

  private async startWorkers(): Promise<void> {
    const ncpu = cpus().length;
    const shared = this.workerTables();
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.cfg.workers; i++) {
      const cpu = this.cfg.pinWorkers ? (this.cfg.cpus[i] ?? i % ncpu) : -1;
      const wakeFd = this.native.eventfdCreate();
      const init: WorkerInit = {
        index: i,
        queue: i,
        cpu,
        maxFrame: this.maxFrame(),
        superFrames: this.cfg.offloads || this.cfg.ports.some((p) => p.offloads),
        portsSab: this.portTable.sab,
        routesSab: this.routeTable.sab,
        neighboursSab: this.neighbours.sab,
        countersSab: this.counters.sab,
        portCountersSab: this.portCounters,
        settingsSab: this.settings.sab,
        recorderSabs: this.recorderTables.sabs,
        ...shared,
        controlSab: this.control.buffer as SharedArrayBuffer,
        wakeFd,
      };
      const worker = new Worker(new URL('../datapath/worker.js', import.meta.url), { workerData: init });
      const rt: WorkerRuntime = { index: i, cpu, worker, wakeFd, alive: true };
      this.workers.push(rt);
      ready.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: { type: string; message?: string }) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'warn') console.error(`weft: ${m.message}`);
            else this.workerNotices.get(m.type)?.();
          });
          worker.once('error', (e) => {
            rt.alive = false;
            console.error(`weft: worker ${i} failed: ${e.stack ?? e.message}`);
            reject(e);
          });
          worker.once('exit', () => {
            rt.alive = false;
          });
        }),
      );
    }
    await Promise.all(ready);
  }

  /** Stops extensions and workers, then closes the TAPs (the kernel deletes them). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const x of [...this.extensions].reverse()) {
      try {
        await x.stop();
      } catch (e) {
        console.error(`weft: stopping: ${(e as Error).message}`);
      }
    }
    Atomics.store(this.control, 0, 1);
    this.wakeWorkers();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.alive) return resolve();
            const t = setTimeout(() => void w.worker.terminate().then(() => resolve()), 2000);
            w.worker.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const w of this.workers) this.native.close(w.wakeFd);
    this.ports.closeAll();
    await this.api?.close();
    if (this.storeOpen)
      await this.storeOpen.then(
        (s) => s.close(),
        () => undefined,
      );
  }
}
