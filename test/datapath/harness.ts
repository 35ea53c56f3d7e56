// In-process harness for the packet pipeline (not a test file): a Datapath built like the
// agent builds one, but without the native shim, TAPs or workers. Frames are copied into
// RX slot 0 and handed to receiveFrame; the test then inspects counters, the TX queues,
// the pending queue and the arena.
import { Datapath } from '../../src/datapath/state.js';
import { receiveFrame } from '../../src/datapath/receive.js';
import { servicePending } from '../../src/datapath/neighbours.js';
import { COUNTER_NAMES, C } from '../../src/datapath/counters.js';
import { HEADROOM, GEN_SLOTS, PENDING_SLOTS } from '../../src/datapath/arena.js';
import { TX_PER_PORT } from '../../src/datapath/tx.js';
import { parseConfig, type NodeConfig } from '../../src/control/config.js';
import { routesFromConfig, programRoute, programVxlan } from '../../src/control/routes.js';
import { NodeSettings } from '../../src/datapath/node-settings.js';
import type { LbReader } from '../../src/lb/tables.js';
import type { RecorderReader } from '../../src/recorder/tables.js';
import type { WgWorker } from '../../src/datapath/wg-worker.js';
import { linkLocalFromMac, parseAddress } from '../../src/wire/addr.js';
import { PortTable, PORT_KIND_ENDPOINT, PORT_KIND_HOST, PORT_KIND_UPLINK } from '../../src/tables/port-table.js';
import { PrefixTable } from '../../src/tables/prefix.js';
import { SharedHashMap } from '../../src/tables/hashmap.js';
import { CounterBlock } from '../../src/tables/counters.js';
import {
  NEIGH_KEY_WORDS,
  NEIGH_VALUE_WORDS,
  ROUTE_VALUE_WORDS,
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_AUX,
  ROUTE_INNER_MAC,
  ROUTE_AUX_INNER_MAC,
  ROUTE_TUNNEL,
  TUNNEL_PORT,
} from '../../src/tables/layout.js';

// ---------------------------------------------------------------------------------------
// Addresses of the test node.

export const EP1 = 0; // endpoint, MTU 1500
export const EP2 = 1; // endpoint, MTU 1400
export const UP = 2; // uplink, MTU 1500
export const NPORTS = 3;

export function mac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
}

export function ip(s: string): Uint8Array {
  const a = parseAddress(s);
  if (!a) throw new Error(`bad address ${s}`);
  return a.bytes;
}

export const PORT_MACS = [mac('02:00:00:00:01:01'), mac('02:00:00:00:01:02'), mac('02:00:00:00:01:03')];
export const PORT_LL = PORT_MACS.map((m) => linkLocalFromMac(m));
export const BCAST = mac('ff:ff:ff:ff:ff:ff');

export const GW4 = ip('198.19.1.1');
export const GW6 = ip('2001:db8:19:1::1');
export const EP1_4 = ip('198.19.1.10');
export const EP2_4 = ip('198.19.1.20');
export const EP1_6 = ip('2001:db8:19:1::10');
export const EP2_6 = ip('2001:db8:19:1::20');
export const UP_4 = ip('198.18.0.1');
export const UP_6 = ip('2001:db8:18::1');
export const NH_4 = ip('198.18.0.254');
export const NH_6 = ip('2001:db8:18::fe');
export const OUT_4 = ip('198.18.200.8');
export const OUT_6 = ip('2001:db8:ffff::8');
export const BLACKHOLE_4 = ip('198.18.253.7');
export const UNREACH_4 = ip('198.18.252.7');
export const BLACKHOLE_6 = ip('2001:db8:dead::7');
export const UNREACH_6 = ip('2001:db8:beef::7');

/** The hosts behind the ports. */
export const EP1_MAC = mac('02:aa:00:00:00:10');
export const EP2_MAC = mac('02:aa:00:00:00:20');
export const NH_MAC = mac('02:aa:00:00:00:fe');

// VXLAN. Remote VTEPs on the uplink's subnet: B (a Linux node, IPv4, neighbour learned), C
// (IPv6 underlay, neighbour unknown), E (IPv4, unknown); D is behind the IPv4 gateway NH_4.
export const VX_PORT = 8472;
export const VX_VNI = 2;
/** The node's VXLAN MAC (config default): inner source of what we send, inner destination we accept. */
export const VTEP_MAC = mac('02:77:65:66:74:01');
export const VTEP_LL = linkLocalFromMac(VTEP_MAC);
/** The Linux node's vxlan device (inner destination of routes toward B) and its underlay MAC. */
export const LINUX_VX_MAC = mac('02:00:00:00:02:01');
export const VTEP_B_MAC = mac('02:aa:00:00:00:0b');
export const VTEP_B4 = ip('198.18.0.2');
export const VTEP_C6 = ip('2001:db8:18::3');
export const VTEP_D4 = ip('198.18.9.4');
export const VTEP_E4 = ip('198.18.0.5');
/** Pods behind the remote nodes: B over IPv4 (both inner families), C over IPv6, D via the gateway, E unresolved. */
export const POD_B4 = ip('198.19.2.20');
export const POD_B6 = ip('2001:db8:19:2::20');
export const POD_C4 = ip('198.19.3.20');
export const POD_C6 = ip('2001:db8:19:3::20');
export const POD_D4 = ip('198.19.4.20');
export const POD_E4 = ip('198.19.5.20');

export const CONFIG_DOC = {
  node: 'proptest',
  api: '/nonexistent/weft-proptest.sock',
  workers: 1,
  gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
  ports: [
    { name: 'ep1', kind: 'endpoint', mtu: 1500, netns: 'ep1', ipv4: '198.19.1.10', ipv6: '2001:db8:19:1::10' },
    { name: 'ep2', kind: 'endpoint', mtu: 1400, netns: 'ep2', ipv4: '198.19.1.20', ipv6: '2001:db8:19:1::20' },
    { name: 'up0', kind: 'uplink', mtu: 1500, addresses: ['198.18.0.1/24', '2001:db8:18::1/64'] },
  ],
  routes: [
    { prefix: '0.0.0.0/0', via: '198.18.0.254', port: 'up0' },
    { prefix: '::/0', via: '2001:db8:18::fe', port: 'up0' },
    { prefix: '198.18.253.0/24', type: 'blackhole' },
    { prefix: '198.18.252.0/24', type: 'unreachable' },
    { prefix: '2001:db8:dead::/48', type: 'blackhole' },
    { prefix: '2001:db8:beef::/48', type: 'unreachable' },
    { prefix: '198.19.2.0/24', type: 'tunnel', remote: '198.18.0.2', port: 'up0', innerMac: '02:00:00:00:02:01' },
    { prefix: '2001:db8:19:2::/64', type: 'tunnel', remote: '198.18.0.2', port: 'up0', innerMac: '02:00:00:00:02:01' },
    { prefix: '198.19.3.0/24', type: 'tunnel', remote: '2001:db8:18::3', port: 'up0' },
    { prefix: '2001:db8:19:3::/64', type: 'tunnel', remote: '2001:db8:18::3', port: 'up0' },
    { prefix: '198.19.4.0/24', type: 'tunnel', remote: '198.18.9.4', port: 'up0' },
    { prefix: '198.19.5.0/24', type: 'tunnel', remote: '198.18.0.5', port: 'up0' },
  ],
  vxlan: { vni: 2, port: 8472 },
  tables: { routes: 64, neighbours: 1024 },
};

// ---------------------------------------------------------------------------------------
// Harness.

/** Byte written everywhere in the arena that holds no live frame (to catch stray writes). */
export const PATTERN = 0xe7;
const PATTERN32 = 0xe7e7e7e7 | 0;

export const OUTCOME_NAMES: readonly string[] = COUNTER_NAMES.filter(
  (n) =>
    n === 'forwarded' ||
    n === 'consumed' ||
    n === 'pendingQueued' ||
    n === 'fragmented' ||
    n === 'segmented' ||
    n.startsWith('drop'),
);
export const OUTCOME_IDX: readonly number[] = OUTCOME_NAMES.map((n) => COUNTER_NAMES.indexOf(n as never));

export interface TxDesc {
  port: number;
  off: number;
  len: number;
  /** The descriptor's virtio_net_hdr words (zero unless sent whole to a port with offloads). */
  vnet: number[];
}

export interface StepResult {
  port: number;
  /** The bytes that were received (after truncation to the slot). */
  input: Uint8Array;
  rxOff: number;
  /** after - before, per counter. */
  delta: Float64Array;
  tx: TxDesc[];
  /** Pending slots that became used during the step. */
  parked: number[];
  /** Pending slots released during the step. */
  released: number[];
  /** Generated slots allocated before and after the step (slots genBase + genBefore .. genAfter - 1 are new). */
  genBefore: number;
  genAfter: number;
  error?: unknown;
}

export class Harness {
  readonly cfg: NodeConfig;
  readonly ports = PortTable.create();
  readonly routes: PrefixTable;
  readonly neighbours: SharedHashMap;
  readonly counters: CounterBlock;
  readonly settings = NodeSettings.create();
  readonly dp: Datapath;
  readonly maxFrame: number;
  /** Frames handed to receiveFrame by this harness. */
  frames = 0;
  private readonly neighSnapshot: Int32Array;
  private readonly neighWords: Int32Array;
  private readonly arena32: Int32Array;
  private lastRxLen = 0;

  /**
   * `mtus`: other MTUs for the ports than 1500, 1400, 1500 (e.g. a jumbo ep1); `lb`: load-balancer tables,
   * `recorder`: recorder tables (none by default); `offloads`: which ports take TAP offloads
   * (super-frames: 64 KB slots and a segment area when any does).
   */
  constructor(
    opts: { mtus?: number[]; lb?: LbReader; recorder?: RecorderReader; wg?: WgWorker; offloads?: boolean[] } = {},
  ) {
    const doc = opts.mtus
      ? { ...CONFIG_DOC, ports: CONFIG_DOC.ports.map((p, i) => ({ ...p, mtu: opts.mtus![i] })) }
      : CONFIG_DOC;
    this.cfg = parseConfig(doc, 'harness');
    const cfg = this.cfg;
    this.routes = PrefixTable.create({ capacity: cfg.tables.routes, valueWords: ROUTE_VALUE_WORDS });
    this.neighbours = SharedHashMap.create({
      keyWords: NEIGH_KEY_WORDS,
      valueWords: NEIGH_VALUE_WORDS,
      capacity: cfg.tables.neighbours,
    });
    this.counters = CounterBlock.create(COUNTER_NAMES, 1);
    // Like Agent.createPorts, with fixed MACs and no TAP (fds = [-1]).
    cfg.ports.forEach((p, index) => {
      this.ports.set(index, {
        kind: p.kind === 'endpoint' ? PORT_KIND_ENDPOINT : p.kind === 'host' ? PORT_KIND_HOST : PORT_KIND_UPLINK,
        mtu: p.mtu,
        mac: PORT_MACS[index],
        ipv4: p.kind === 'endpoint' ? cfg.gateway.ipv4?.bytes : p.addresses.find((a) => a.family === 4)?.bytes,
        ipv6: p.kind === 'endpoint' ? cfg.gateway.ipv6?.bytes : p.addresses.find((a) => a.family === 6)?.bytes,
        ipv6LinkLocal: linkLocalFromMac(PORT_MACS[index]),
        fds: [-1],
        offloads: opts.offloads?.[index] ?? false,
        uso: opts.offloads?.[index] ?? false,
      });
    });
    for (const r of routesFromConfig(cfg)) programRoute(this.routes, r);
    programVxlan(this.ports, this.settings, cfg.vxlan, cfg.gateway);
    this.maxFrame = Math.max(1500, ...cfg.ports.map((p) => p.mtu)) + 14; // Agent.maxFrame
    this.dp = new Datapath(
      {
        ports: this.ports,
        routes: this.routes,
        neighbours: this.neighbours,
        settings: this.settings,
        lb: opts.lb,
        recorder: opts.recorder,
        wg: opts.wg,
      },
      this.counters.row(0),
      this.maxFrame,
      (opts.offloads ?? []).some((x) => x),
    );
    this.dp.now = 10_000;
    // Pre-learned neighbours: EP1 (both families), the IPv4 uplink gateway. Not EP2, not the
    // IPv6 uplink gateway: frames toward those are parked and solicited.
    this.learn(EP1, 4, EP1_4, EP1_MAC);
    this.learn(EP1, 6, EP1_6, EP1_MAC);
    this.learn(UP, 4, NH_4, NH_MAC);
    this.learn(UP, 4, VTEP_B4, VTEP_B_MAC);
    this.neighWords = new Int32Array(this.neighbours.sab);
    this.neighSnapshot = this.neighWords.slice();
    const b = this.dp.arena.bytes;
    this.arena32 = new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
    b.fill(PATTERN);
  }

  /** Inserts a neighbour entry with the layout of neighbours.ts fillKey / learnNeighbour. */
  learn(port: number, family: 4 | 6, addr: Uint8Array, m: Uint8Array): void {
    const k = new Int32Array(NEIGH_KEY_WORDS);
    k[0] = port;
    k[1] = family;
    for (let i = 0; i < (family === 4 ? 1 : 4); i++)
      k[2 + i] = (addr[4 * i] << 24) | (addr[4 * i + 1] << 16) | (addr[4 * i + 2] << 8) | addr[4 * i + 3];
    const v = Int32Array.of(
      (m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3],
      (m[4] << 8) | m[5],
      (this.dp.now / 1000) | 0,
    );
    if (!this.neighbours.insert(k, 0, v, 0)) throw new Error('neighbour insert failed');
  }

  /** The MAC the neighbour table holds for (port, family, addr), or null. */
  neighbour(port: number, family: 4 | 6, addr: Uint8Array, addrOff = 0): Uint8Array | null {
    const k = new Int32Array(NEIGH_KEY_WORDS);
    k[0] = port;
    k[1] = family;
    for (let i = 0; i < (family === 4 ? 1 : 4); i++) {
      const o = addrOff + 4 * i;
      k[2 + i] = (addr[o] << 24) | (addr[o + 1] << 16) | (addr[o + 2] << 8) | addr[o + 3];
    }
    const v = new Int32Array(NEIGH_VALUE_WORDS);
    if (!this.neighbours.lookup(k, 0, v, 0)) return null;
    return Uint8Array.of(
      v[0] >>> 24,
      (v[0] >>> 16) & 255,
      (v[0] >>> 8) & 255,
      v[0] & 255,
      (v[1] >>> 8) & 255,
      v[1] & 255,
    );
  }

  /**
   * Longest-prefix match as the pipeline sees it: route type, port and next-hop bytes; for a
   * tunnel route the next hop is the remote VTEP (of its own family) and innerMac the route's
   * inner destination MAC, if it has one.
   */
  route(family: 4 | 6, addr: Uint8Array, addrOff = 0): Route | null {
    const out = new Int32Array(ROUTE_VALUE_WORDS);
    if (this.routes.lookup(family, addr, addrOff, out) < 0) return null;
    const tunnel = out[ROUTE_TYPE] === ROUTE_TUNNEL;
    const nhFamily = tunnel ? ((out[ROUTE_AUX] & 0xff) as 4 | 6) : family;
    const nh = new Uint8Array(nhFamily === 4 ? 4 : 16);
    for (let i = 0; i < nh.length; i++) nh[i] = (out[ROUTE_NEXTHOP + (i >> 2)] >>> (24 - 8 * (i & 3))) & 255;
    const r: Route = { type: out[ROUTE_TYPE], port: out[ROUTE_PORT], nexthop: nh, nhFamily };
    if (tunnel && out[ROUTE_AUX] & ROUTE_AUX_INNER_MAC) {
      const w = out[ROUTE_INNER_MAC];
      const a = out[ROUTE_AUX];
      r.innerMac = Uint8Array.of(w >>> 24, (w >>> 16) & 255, (w >>> 8) & 255, w & 255, a >>> 24, (a >>> 16) & 255);
    }
    return r;
  }

  snapshot(): Float64Array {
    return this.dp.ctr.slice(0, COUNTER_NAMES.length);
  }

  static diff(before: Float64Array, after: Float64Array): Float64Array {
    const d = new Float64Array(before.length);
    for (let i = 0; i < d.length; i++) d[i] = after[i] - before[i];
    return d;
  }

  /** Non-zero entries of a counter delta, by name (for messages). */
  static named(delta: Float64Array): Record<string, number> {
    const o: Record<string, number> = {};
    delta.forEach((v, i) => {
      if (v !== 0) o[COUNTER_NAMES[i]] = v;
    });
    return o;
  }

  /** Descriptors queued this batch, in port first-use order then queue order. */
  txQueued(): TxDesc[] {
    const tx = this.dp.tx;
    const out: TxDesc[] = [];
    for (let k = 0; k < tx.dirtyCount; k++) {
      const port = tx.dirty[k];
      for (let i = 0; i < tx.count[port]; i++) {
        const d = (port * TX_PER_PORT + i) * 2;
        out.push({ port, off: tx.desc[d], len: tx.desc[d + 1], vnet: Array.from(tx.vnet.subarray(d * 3, d * 3 + 6)) });
      }
    }
    return out;
  }

  /** Generated slots allocated since the last resetTx. */
  genUsed(): number {
    return GEN_SLOTS - this.dp.arena.genFree();
  }

  /**
   * What the worker's flush() does, minus the native write; every allocated generated slot
   * goes back to the pattern (the tests check each one before: queued frames, and fragments
   * that were parked or lost).
   */
  resetTx(): void {
    const tx = this.dp.tx;
    const a = this.dp.arena;
    a.bytes.fill(PATTERN, a.genBase * a.slotSize, (a.genBase + this.genUsed()) * a.slotSize);
    for (let k = 0; k < tx.dirtyCount; k++) tx.count[tx.dirty[k]] = 0;
    tx.dirtyCount = 0;
    this.dp.gro.reset();
    a.resetGen();
  }

  /** Offset of the RX frame (slot 0). */
  rxOff(): number {
    return this.dp.arena.frameOff(0);
  }

  /**
   * Copies frame into RX slot `slot` (0 by default; truncated to the slot) and runs receiveFrame
   * on port, with the virtio_net_hdr words `vnet` (a port with offloads) as the worker sets them.
   * Other slots than 0 hold the later frames of one batch (what the worker reads at once).
   */
  inject(frame: Uint8Array, port: number, vnet?: ArrayLike<number>, slot = 0): StepResult {
    const dp = this.dp;
    const a = dp.arena;
    const off = a.frameOff(slot);
    const len = Math.min(frame.length, a.maxFrameLen());
    // The whole slot: encapsulation writes outer headers into the headroom.
    if (slot > 0) a.bytes.fill(PATTERN, slot * a.slotSize, (slot + 1) * a.slotSize);
    else if (this.lastRxLen > 0) a.bytes.fill(PATTERN, 0, a.slotSize);
    a.bytes.set(frame.subarray(0, len), off);
    this.lastRxLen = len;
    a.lens[0] = len;
    const usedBefore = dp.pending.used.slice();
    const before = this.snapshot();
    const genBefore = this.genUsed();
    let error: unknown;
    this.frames++;
    dp.recorder?.refresh(); // the worker does this once per batch
    if (vnet) dp.vnet.set(vnet);
    try {
      receiveFrame(dp, port, off, len);
    } catch (e) {
      error = e;
    }
    dp.vnet.fill(0);
    const after = this.snapshot();
    return {
      port,
      input: frame.slice(0, len),
      rxOff: off,
      delta: Harness.diff(before, after),
      tx: this.txQueued(),
      ...this.pendingChanges(usedBefore),
      genBefore,
      genAfter: this.genUsed(),
      error,
    };
  }

  private pendingChanges(usedBefore: Uint8Array): { parked: number[]; released: number[] } {
    const used = this.dp.pending.used;
    const parked: number[] = [];
    const released: number[] = [];
    for (let i = 0; i < PENDING_SLOTS; i++) {
      if (used[i] === 1 && usedBefore[i] === 0) parked.push(i);
      if (used[i] === 0 && usedBefore[i] === 1) released.push(i);
    }
    return { parked, released };
  }

  /** Advances the clock and runs the worker's servicePending step. */
  tick(ms: number): StepResult {
    const dp = this.dp;
    dp.now += ms;
    const usedBefore = dp.pending.used.slice();
    const lensBefore = dp.pending.len.slice();
    const before = this.snapshot();
    const genBefore = this.genUsed();
    let error: unknown;
    try {
      servicePending(dp);
    } catch (e) {
      error = e;
    }
    const after = this.snapshot();
    const ch = this.pendingChanges(usedBefore);
    const r: StepResult = {
      port: -1,
      input: new Uint8Array(0),
      rxOff: -1,
      delta: Harness.diff(before, after),
      tx: this.txQueued(),
      ...ch,
      genBefore,
      genAfter: this.genUsed(),
      error,
    };
    this.releasedLens = ch.released.map((i) => lensBefore[i]);
    return r;
  }

  /** Lengths of the frames in the slots released by the last tick (to re-pattern them). */
  releasedLens: number[] = [];

  /** Puts released pending slots back to the pattern (call after checking a tick's TX). */
  repatternReleased(released: number[]): void {
    const q = this.dp.pending;
    for (const [k, i] of released.entries()) {
      this.dp.arena.bytes.fill(PATTERN, q.frameOff(i), q.frameOff(i) + this.releasedLens[k]!);
    }
    this.releasedLens = [];
  }

  /**
   * End of a run: empties the TX queues, the pending queue and RX slot 0 (their frames go
   * back to the pattern), then checks that every byte of the arena is the pattern again.
   * Returns the first offset that is not (a write outside any frame), or -1.
   */
  drainAndScan(): number {
    const dp = this.dp;
    const q = dp.pending;
    this.resetTx();
    for (let i = 0; i < PENDING_SLOTS; i++) {
      if (q.used[i] === 0) continue;
      dp.arena.bytes.fill(PATTERN, q.frameOff(i), q.frameOff(i) + q.len[i]);
      q.release(i);
    }
    if (this.lastRxLen > 0) dp.arena.bytes.fill(PATTERN, 0, dp.arena.slotSize);
    this.lastRxLen = 0;
    const w = this.arena32;
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== PATTERN32) {
        const b = dp.arena.bytes;
        let j = i * 4;
        while (b[j] === PATTERN) j++;
        return j;
      }
    }
    return -1;
  }

  /**
   * Back to the initial state before an independent run: TX and pending empty, the whole
   * arena the pattern, the neighbour table as constructed, the ICMP token bucket full (the
   * clock moves on by a second).
   */
  reset(): void {
    const dp = this.dp;
    const q = dp.pending;
    this.resetTx();
    for (let i = 0; i < PENDING_SLOTS; i++) if (q.used[i] === 1) q.release(i);
    dp.arena.bytes.fill(PATTERN);
    this.lastRxLen = 0;
    this.releasedLens = [];
    this.neighWords.set(this.neighSnapshot);
    dp.now += 1000;
  }

  /** Range of arena offsets holding generated frames. */
  isGenerated(off: number): boolean {
    const a = this.dp.arena;
    return off >= a.frameOff(a.genBase) - HEADROOM && off < a.frameOff(a.pendingBase) - HEADROOM;
  }

  isPendingSlot(off: number): boolean {
    const a = this.dp.arena;
    return off >= a.frameOff(a.pendingBase) - HEADROOM && off < a.bytes.length;
  }

  /**
   * First offset in slot `slot` outside [frameOff - before, frameOff+len) that is not the
   * pattern, or -1 (`before`: bytes of headroom an encapsulation may have used).
   */
  slotGuard(slot: number, len: number, before = 0): number {
    const a = this.dp.arena;
    const start = slot * a.slotSize;
    const f = a.frameOff(slot) - before;
    len += before;
    const b = a.bytes;
    for (let i = start; i < f; i++) if (b[i] !== PATTERN) return i;
    for (let i = f + len; i < start + a.slotSize; i++) if (b[i] !== PATTERN) return i;
    return -1;
  }

  slotOf(off: number): number {
    return Math.floor(off / this.dp.arena.slotSize);
  }
}

export { C, COUNTER_NAMES, GEN_SLOTS, PENDING_SLOTS, TX_PER_PORT, HEADROOM, TUNNEL_PORT };

export interface Route {
  type: number;
  port: number;
  nexthop: Uint8Array;
  /** The next hop's family: the prefix's, or for a tunnel route the remote VTEP's. */
  nhFamily: 4 | 6;
  innerMac?: Uint8Array;
}

// ---------------------------------------------------------------------------------------
// Frame builders (independent of src/wire, so they are an oracle, not a copy).

export function csum(b: Uint8Array, off = 0, len = b.length - off, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function be16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 255, v & 255);
}

export function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 255;
  return b;
}

export function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  return concat(dst, src, be16(type), payload);
}

export interface Ipv4Opts {
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragOff?: number; // in 8-byte units
  options?: Uint8Array; // multiple of 4
}

export function ipv4(o: Ipv4Opts, payload: Uint8Array): Uint8Array {
  const opt = o.options ?? new Uint8Array(0);
  const hlen = 20 + opt.length;
  const h = new Uint8Array(hlen);
  h[0] = 0x40 | (hlen >> 2);
  h.set(be16(hlen + payload.length), 2);
  h.set(be16(o.id ?? 0x1234), 4);
  h.set(be16((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | (o.fragOff ?? 0)), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  h.set(o.src, 12);
  h.set(o.dst, 16);
  h.set(opt, 20);
  h.set(be16(csum(h)), 10);
  return concat(h, payload);
}

/** ICMPv4 message with checksum: type, code, 4 bytes rest-of-header, data. */
export function icmp4(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const m = concat(
    Uint8Array.of(type, code, 0, 0, rest >>> 24, (rest >>> 16) & 255, (rest >>> 8) & 255, rest & 255),
    data,
  );
  m.set(be16(csum(m)), 2);
  return m;
}

function pseudo4(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = proto + len;
  for (const a of [src, dst]) for (let i = 0; i < 4; i += 2) s += (a[i] << 8) | a[i + 1];
  return s;
}

function pseudo6(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = proto + (len >>> 16) + (len & 0xffff);
  for (const a of [src, dst]) for (let i = 0; i < 16; i += 2) s += (a[i] << 8) | a[i + 1];
  return s;
}

export function udp(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = concat(be16(sport), be16(dport), be16(8 + data.length), be16(0), data);
  const ps = src.length === 4 ? pseudo4(src, dst, 17, u.length) : pseudo6(src, dst, 17, u.length);
  const c = csum(u, 0, u.length, ps);
  u.set(be16(c === 0 ? 0xffff : c), 6);
  return u;
}

export function tcp(
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
  flags: number,
  data: Uint8Array,
): Uint8Array {
  const t = new Uint8Array(20 + data.length);
  t.set(be16(sport), 0);
  t.set(be16(dport), 2);
  t.set(Uint8Array.of(0, 0, 0x10, 0x01), 4);
  t[12] = 5 << 4;
  t[13] = flags;
  t.set(be16(65535), 14);
  t.set(data, 20);
  const ps = src.length === 4 ? pseudo4(src, dst, 6, t.length) : pseudo6(src, dst, 6, t.length);
  t.set(be16(csum(t, 0, t.length, ps)), 16);
  return t;
}

/** IPv6 header + payload; `next` is the first next-header value (ext headers are in payload). */
export function ipv6(src: Uint8Array, dst: Uint8Array, next: number, hops: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h.set(be16(payload.length), 4);
  h[6] = next;
  h[7] = hops;
  h.set(src, 8);
  h.set(dst, 24);
  return concat(h, payload);
}

/** ICMPv6 message with checksum over the pseudo-header (src/dst of the IPv6 header). */
export function icmp6(src: Uint8Array, dst: Uint8Array, type: number, code: number, body: Uint8Array): Uint8Array {
  const m = concat(Uint8Array.of(type, code, 0, 0), body);
  m.set(be16(csum(m, 0, m.length, pseudo6(src, dst, 58, m.length))), 2);
  return m;
}

/** Generic 8n-byte extension header (hop-by-hop / dest-opts / routing) padded with PadN. */
export function extHeader(next: number, totalLen: number, fill?: (h: Uint8Array) => void): Uint8Array {
  const h = new Uint8Array(totalLen);
  h[0] = next;
  h[1] = totalLen / 8 - 1;
  if (fill) fill(h);
  else if (totalLen - 2 > 0) {
    h[2] = 1; // PadN
    h[3] = totalLen - 4;
  }
  return h;
}

export function fragHeader(next: number, offset8: number, more: boolean, id: number): Uint8Array {
  return Uint8Array.of(
    next,
    0,
    (offset8 >> 5) & 255,
    ((offset8 & 31) << 3) | (more ? 1 : 0),
    id >>> 24,
    (id >>> 16) & 255,
    (id >>> 8) & 255,
    id & 255,
  );
}

export function solicitedNode(a: Uint8Array): Uint8Array {
  const g = ip('ff02::1:ff00:0');
  g.set(a.subarray(13, 16), 13);
  return g;
}

export function multicastMac(group: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0x33, 0x33), group.subarray(12, 16));
}

export function arp(op: number, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0, 1, 8, 0, 6, 4, 0, op), sha, spa, tha, tpa);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function equalBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/**
 * A UDP datagram carrying a VXLAN header and the inner frame. The UDP checksum is computed over
 * IPv6 (required) and, over IPv4, only when `csum` is set (Linux sends 0 by default).
 */
export function vxlanUdp(
  src: Uint8Array,
  dst: Uint8Array,
  inner: Uint8Array,
  o: { sport?: number; dport?: number; vni?: number; flags?: number; csum?: boolean } = {},
): Uint8Array {
  const vni = o.vni ?? VX_VNI;
  const vx = Uint8Array.of(o.flags ?? 0x08, 0, 0, 0, (vni >>> 16) & 255, (vni >>> 8) & 255, vni & 255, 0);
  const data = concat(vx, inner);
  if (src.length === 16 || o.csum) return udp(src, dst, o.sport ?? 40000, o.dport ?? VX_PORT, data);
  return concat(be16(o.sport ?? 40000), be16(o.dport ?? VX_PORT), be16(8 + data.length), be16(0), data);
}
