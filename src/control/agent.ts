// The agent's control thread: creates the ports and tables, starts one pinned worker per
// queue, serves the API, and on SIGTERM stops the workers and removes what it created.
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { NodeConfig } from './config.js';
import { configureKernelSide, requireNetns } from './kernel-side.js';
import { routesFromConfig, programRoute } from './routes.js';
import { linkLocalFromMac } from './addr.js';
import { startApi, ApiServer } from './api.js';
import { buildStatus } from './status.js';
import { loadNative, NativeShim } from '../native/tap.js';
import { PortTable, PORT_KIND_ENDPOINT, PORT_KIND_HOST, PORT_KIND_UPLINK } from '../tables/port-table.js';
import { PrefixTable } from '../tables/prefix.js';
import { SharedHashMap } from '../tables/hashmap.js';
import { CounterBlock } from '../tables/counters.js';
import { ROUTE_VALUE_WORDS, NEIGH_KEY_WORDS, NEIGH_VALUE_WORDS } from '../tables/layout.js';
import { COUNTER_NAMES } from '../datapath/counters.js';
import type { WorkerInit } from '../datapath/worker.js';

export interface PortRuntime {
  index: number;
  name: string;
  tap: string;
  mac: Uint8Array;
  fds: number[];
}

export interface WorkerRuntime {
  index: number;
  cpu: number;
  worker: Worker;
  wakeFd: number;
  alive: boolean;
}

export class Agent {
  readonly startedAt = Date.now();
  readonly ports = PortTable.create();
  readonly routes: PrefixTable;
  readonly neighbours: SharedHashMap;
  readonly counters: CounterBlock;
  readonly control = new Int32Array(new SharedArrayBuffer(16));
  readonly portRuntime: PortRuntime[] = [];
  readonly workers: WorkerRuntime[] = [];
  private readonly native: NativeShim;
  private api?: ApiServer;
  private stopping = false;

  constructor(readonly cfg: NodeConfig) {
    this.native = loadNative();
    this.routes = PrefixTable.create({ capacity: cfg.tables.routes, valueWords: ROUTE_VALUE_WORDS });
    this.neighbours = SharedHashMap.create({ keyWords: NEIGH_KEY_WORDS, valueWords: NEIGH_VALUE_WORDS, capacity: cfg.tables.neighbours });
    this.counters = CounterBlock.create(COUNTER_NAMES, cfg.workers);
  }

  async start(): Promise<void> {
    try {
      this.createPorts();
      for (const r of routesFromConfig(this.cfg)) programRoute(this.routes, r);
      await this.startWorkers();
      this.api = await startApi(this.cfg.api, {
        status: () => buildStatus(this),
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private createPorts(): void {
    const cfg = this.cfg;
    cfg.ports.forEach((p, index) => {
      if (p.netns) requireNetns(p.netns, `port ${p.name}`);
      const tap = this.native.tapOpen(p.name, cfg.workers);
      const mac = portMac(cfg.node, p.name);
      this.portRuntime.push({ index, name: p.name, tap: tap.name, mac, fds: tap.fds });
      // The kernel side gets its own MAC from the kernel; ours is the dataplane side's.
      configureKernelSide(p, tap.name, cfg);
      this.ports.set(index, {
        kind: p.kind === 'endpoint' ? PORT_KIND_ENDPOINT : p.kind === 'host' ? PORT_KIND_HOST : PORT_KIND_UPLINK,
        mtu: p.mtu,
        mac,
        ipv4: p.kind === 'endpoint' ? cfg.gateway.ipv4?.bytes : p.addresses.find((a) => a.family === 4)?.bytes,
        ipv6: p.kind === 'endpoint' ? cfg.gateway.ipv6?.bytes : p.addresses.find((a) => a.family === 6)?.bytes,
        ipv6LinkLocal: linkLocalFromMac(mac),
        fds: tap.fds,
      });
    });
  }

  maxFrame(): number {
    return Math.max(1500, ...this.cfg.ports.map((p) => p.mtu)) + 14;
  }

  private async startWorkers(): Promise<void> {
    const ncpu = cpus().length;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.cfg.workers; i++) {
      const cpu = this.cfg.cpus[i] ?? i % ncpu;
      const wakeFd = this.native.eventfdCreate();
      const init: WorkerInit = {
        index: i,
        queue: i,
        cpu,
        maxFrame: this.maxFrame(),
        portsSab: this.ports.sab,
        routesSab: this.routes.sab,
        neighboursSab: this.neighbours.sab,
        countersSab: this.counters.sab,
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

  /** Stops the workers and closes the TAPs (the kernel then deletes them). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    Atomics.store(this.control, 0, 1);
    for (const w of this.workers) this.native.eventfdSignal(w.wakeFd);
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
    for (const p of this.portRuntime) for (const fd of p.fds) this.native.close(fd);
    await this.api?.close();
  }
}

/** A stable locally administered unicast MAC per (node, port), so captures are readable. */
export function portMac(node: string, port: string): Uint8Array {
  const h = createHash('sha256').update(`${node}/${port}`).digest();
  const mac = Uint8Array.from(h.subarray(0, 6));
  mac[0] = (mac[0] & 0xfc) | 0x02;
  return mac;
}
