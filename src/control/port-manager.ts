// Creates and removes the node's TAP ports while the workers run. A port's fds are closed
// only after every worker has acknowledged the port table generation without it, so a
// worker never polls or reads an fd number the kernel may already have reused.
import { createHash } from 'node:crypto';
import type { PortConfig, Gateway } from './port-config.js';
import { configureKernelSide, requireNetns } from './kernel-side.js';
import { linkLocalFromMac, type Prefix } from '../wire/addr.js';
import { type NativeShim, TUN_F_USO4 } from '../native/tap.js';
import { type PortTable, PORT_KIND_ENDPOINT, PORT_KIND_HOST, PORT_KIND_UPLINK } from '../tables/port-table.js';
import { FIRST_PSEUDO_PORT } from '../tables/layout.js';

export interface PortRuntime {
  index: number;
  cfg: PortConfig;
  tap: string;
  mac: Uint8Array;
  fds: number[];
  /** The TUN_F_* offloads the kernel accepted for the TAP (0: none, frames without a virtio header). */
  offloads: number;
  /** For endpoint ports: the router addresses answered on the port. */
  gateway: Gateway;
}

export class PortManager {
  private readonly byIndex: (PortRuntime | undefined)[] = [];

  constructor(
    readonly table: PortTable,
    private readonly native: NativeShim,
    private readonly node: string,
    private readonly queues: number,
    /** Int32 control words: [1 + worker] = generation each worker has seen. */
    private readonly control: Int32Array,
    private readonly wakeWorkers: () => void,
  ) {}

  list(): PortRuntime[] {
    return this.byIndex.filter((p): p is PortRuntime => p !== undefined);
  }

  find(name: string): PortRuntime | undefined {
    return this.list().find((p) => p.cfg.name === name);
  }

  /** Opens the TAP, configures its kernel side, and publishes it to the workers. */
  add(cfg: PortConfig, gateway: Gateway, opts: { tap?: string; endpointRoutes?: Prefix[] } = {}): PortRuntime {
    if (this.find(cfg.name)) throw new Error(`port "${cfg.name}" already exists`);
    let index = this.byIndex.indexOf(undefined);
    if (index < 0) index = this.byIndex.length;
    // The last slot is the VXLAN tunnel's pseudo-port.
    if (index >= FIRST_PSEUDO_PORT) throw new Error(`no free port slot (at most ${FIRST_PSEUDO_PORT} ports per node)`);
    if (cfg.netns) requireNetns(cfg.netns, `port ${cfg.name}`);
    const tapName = opts.tap ?? cfg.name;
    const tap = this.native.tapOpen(tapName, this.queues, cfg.offloads);
    const mac = portMac(this.node, cfg.name);
    try {
      configureKernelSide(cfg, tap.name, gateway, opts.endpointRoutes);
    } catch (e) {
      for (const fd of tap.fds) this.native.close(fd);
      throw e;
    }
    const rt: PortRuntime = { index, cfg, tap: tap.name, mac, fds: tap.fds, offloads: tap.offloads, gateway };
    this.byIndex[index] = rt;
    const endpoint = cfg.kind === 'endpoint';
    this.table.set(index, {
      kind: endpoint ? PORT_KIND_ENDPOINT : cfg.kind === 'host' ? PORT_KIND_HOST : PORT_KIND_UPLINK,
      mtu: cfg.mtu,
      mac,
      ipv4: endpoint ? gateway.ipv4?.bytes : cfg.addresses.find((a) => a.family === 4)?.bytes,
      ipv6: endpoint ? gateway.ipv6?.bytes : cfg.addresses.find((a) => a.family === 6)?.bytes,
      ipv6LinkLocal: linkLocalFromMac(mac),
      fds: tap.fds,
      dsrBackend: cfg.dsrBackend,
      offloads: tap.offloads !== 0,
      uso: (tap.offloads & TUN_F_USO4) !== 0,
    });
    this.wakeWorkers();
    return rt;
  }

  /** Unpublishes the port, waits for the workers to let go of it, then closes its TAP. */
  async remove(name: string): Promise<void> {
    const rt = this.find(name);
    if (!rt) throw new Error(`no port named "${name}"`);
    this.table.remove(rt.index);
    await this.quiesce();
    for (const fd of rt.fds) this.native.close(fd);
    this.byIndex[rt.index] = undefined;
  }

  /** Waits (bounded) until every worker has seen the current port table generation. */
  private async quiesce(): Promise<void> {
    const gen = this.table.generation();
    this.wakeWorkers();
    const deadline = Date.now() + 2000;
    for (;;) {
      let all = true;
      for (let w = 0; w < this.queues; w++) if (Atomics.load(this.control, 1 + w) < gen) all = false;
      if (all) return;
      if (Date.now() > deadline) throw new Error('workers did not acknowledge the port change within 2 s');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Closes every TAP (the kernel deletes them). Workers must be stopped first. */
  closeAll(): void {
    for (const p of this.list()) for (const fd of p.fds) this.native.close(fd);
    this.byIndex.length = 0;
  }
}

/** A stable locally administered unicast MAC per (node, port), so captures are readable. */
export function portMac(node: string, port: string): Uint8Array {
  const h = createHash('sha256').update(`${node}/${port}`).digest();
  const mac = Uint8Array.from(h.subarray(0, 6));
  mac[0] = (mac[0] & 0xfc) | 0x02;
  return mac;
}
