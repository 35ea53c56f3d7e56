// Everything one worker's pipeline touches, allocated once when the worker starts.
import { Arena } from './arena.js';
import { TxQueues } from './tx.js';
import type { PortTable } from '../tables/port-table.js';
import type { PrefixTable } from '../tables/prefix.js';
import type { SharedHashMap } from '../tables/hashmap.js';
import { NEIGH_KEY_WORDS, NEIGH_VALUE_WORDS, ROUTE_VALUE_WORDS } from '../tables/layout.js';
import { Ipv6Walk } from '../wire/ipv6.js';
import { loadNative, type NativeShim, VNET_WORDS } from '../native/tap.js';
import { GroTable } from './gro-table.js';
import { PendingQueue } from './pending.js';
import { NodeSettings } from './node-settings.js';
import type { LbReader } from '../lb/tables.js';
import type { RecorderReader } from '../recorder/tables.js';
import type { WgWorker } from './wg-worker.js';
import type { NatWorker } from './nat-worker.js';

export interface DatapathTables {
  ports: PortTable;
  routes: PrefixTable;
  neighbours: SharedHashMap;
  /** Node-wide settings (VXLAN); absent: a private table with VXLAN off. */
  settings?: NodeSettings;
  /** The L4 load balancer's tables; absent: no load balancing in this worker. */
  lb?: LbReader;
  /** The n-tuple recorder; absent: nothing is recorded in this worker. */
  recorder?: RecorderReader;
  /** WireGuard transport (wg-send.ts, wg-receive.ts); absent: no WireGuard in this worker. */
  wg?: WgWorker;
  /** The egress gateway / masquerade stage (nat-stage.ts); absent: no NAT in this worker. */
  nat?: NatWorker;
}

/** What a frame handed back to the dispatcher came out of (Datapath.via, Datapath.reenter). */
export const VIA_IPIP = 1;
export const VIA_VXLAN = 2;
export const VIA_WIREGUARD = 4;
export const VIA_NAT = 8;
/** No tunnel is opened inside another. */
export const VIA_TUNNEL = VIA_IPIP | VIA_VXLAN | VIA_WIREGUARD;

/** ICMP errors per second a worker may send, with a burst (RFC 1812 §4.3.2.8 rate limiting). */
export const ICMP_ERRORS_PER_SEC = 500;
export const ICMP_ERROR_BURST = 100;

export class Datapath {
  readonly ports: PortTable;
  readonly routes: PrefixTable;
  readonly neighbours: SharedHashMap;
  readonly settings: NodeSettings;
  readonly lb: LbReader | null;
  readonly recorder: RecorderReader | null;
  readonly wg: WgWorker | null;
  readonly nat: NatWorker | null;
  readonly ctr: Float64Array;
  readonly arena: Arena;
  readonly tx = new TxQueues();
  readonly pending: PendingQueue;

  // Scratch, reused for every packet.
  readonly route = new Int32Array(ROUTE_VALUE_WORDS);
  readonly neighKey = new Int32Array(NEIGH_KEY_WORDS);
  readonly neighValue = new Int32Array(NEIGH_VALUE_WORDS);
  readonly walk6 = new Ipv6Walk();
  /** Tunnel scratch: the route toward a remote VTEP, its address and the next hop to it. */
  readonly underlayRoute = new Int32Array(ROUTE_VALUE_WORDS);
  readonly tunnelRemote = new Uint8Array(16);
  readonly tunnelNexthop = new Uint8Array(16);
  /**
   * The outer headers of the frame being decapsulated, for what the router sends back through
   * the tunnel: [outer source address (16) | outer destination address (16) | previous hop MAC (6)].
   */
  readonly outer = new Uint8Array(38);
  outerFamily = 0;
  outerPort = -1;

  /** What the frame being processed came through (VIA_* bits): decided by the stages it meets. */
  via = 0;
  /**
   * The frame a stage handed back for another run through the pipeline (receive.ts runs it once
   * the stage has returned): VIA_* of that stage (0: none), the port it enters on, its offset and
   * length in the arena.
   */
  innerVia = 0;
  innerPort = 0;
  innerOff = 0;
  innerLen = 0;

  /**
   * The offload state of the frame being processed (its virtio_net_hdr as VNET_WORDS words; all
   * zero from a port without offloads), and where a GSO frame's L4 header and payload start,
   * relative to the frame (superframe.ts).
   */
  readonly vnet = new Int32Array(VNET_WORDS);
  /** TCP segments being coalesced toward ports with offloads (gro.ts); reset when the worker transmits. */
  readonly gro = new GroTable();
  gsoKind = 0;
  gsoL4 = 0;
  gsoPayload = 0;
  readonly native: NativeShim;

  /** Monotonic milliseconds, refreshed once per batch. */
  now = 0;
  private icmpTokens = ICMP_ERROR_BURST;
  private icmpRefill = 0;

  /** superFrames: some port takes TAP offloads (64 KB slots and a segment area). */
  constructor(tables: DatapathTables, counters: Float64Array, maxFrame: number, superFrames = false) {
    this.ports = tables.ports;
    this.routes = tables.routes;
    this.neighbours = tables.neighbours;
    this.settings = tables.settings ?? NodeSettings.create();
    this.lb = tables.lb ?? null;
    this.recorder = tables.recorder ?? null;
    this.wg = tables.wg ?? null;
    this.nat = tables.nat ?? null;
    this.ctr = counters;
    this.arena = new Arena(maxFrame, superFrames);
    this.native = loadNative();
    this.pending = new PendingQueue(this.arena);
    this.tx.attachRecorder(this.recorder, this.arena.bytes, counters);
  }

  /**
   * Called by a stage that decapsulated or reverse-translated the frame, as its last act: the
   * inner frame (an Ethernet frame at off, len bytes) runs through the pipeline on `port` once the
   * stage has returned (receive.ts). The frame's outcome is the inner frame's.
   */
  reenter(via: number, port: number, off: number, len: number): void {
    this.innerVia = via;
    this.innerPort = port;
    this.innerOff = off;
    this.innerLen = len;
  }

  /** Token bucket for ICMP errors; false means: do not send this one. */
  takeIcmpToken(): boolean {
    if (this.now - this.icmpRefill >= 10) {
      const add = ((this.now - this.icmpRefill) * ICMP_ERRORS_PER_SEC) / 1000;
      this.icmpTokens = Math.min(ICMP_ERROR_BURST, this.icmpTokens + add);
      this.icmpRefill = this.now;
    }
    if (this.icmpTokens < 1) return false;
    this.icmpTokens -= 1;
    return true;
  }
}
