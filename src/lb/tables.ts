// The load balancer's shared tables: services (a hash map keyed by VIP, port and protocol),
// backends (records by id), and two Maglev lookup tables per service. The control thread
// builds a new table into the buffer the current generation does not use, then publishes
// the new generation in the service's value: a reader that started on the old generation
// sees the generation move and retries, so no packet ever sees a half-built table (the
// swap Cilium does with a map-in-map, here with one seqlocked word).
import { SharedHashMap } from '../tables/hashmap.js';
import {
  SVC_KEY_WORDS,
  SVC_VALUE_WORDS,
  SVC_SLOT,
  SVC_GENERATION,
  SVC_BACKENDS,
  BACKEND_WORDS,
  BACKEND_FAMILY,
  BACKEND_ADDR,
  BACKEND_PORT,
  SVC_VIP_MARKER,
} from '../tables/layout.js';
import { buildMaglevTable, sortBackends, backendName } from './maglev.js';
import { type Address, formatAddress } from '../wire/addr.js';
import {
  CT_KEY_WORDS,
  CT_VALUE_WORDS,
  DEFAULT_CONNTRACK_CAPACITY,
  DEFAULT_NEW_FLOWS_PER_SEC,
  ConntrackReader,
  ctNowSec,
  sweepConntrack,
} from './conntrack.js';

export interface LbSizes {
  maxServices: number;
  maxBackends: number;
  /** Maglev table size M (one of MAGLEV_TABLE_SIZES). */
  tableSize: number;
  /** Entries of the shared connection table (SVC_FLAG_CONNTRACK services); default 65536. */
  conntrackCapacity?: number;
  /** New connection-table entries per second per worker (flood bypass); default 100000. */
  newFlowsPerSec?: number;
}

export interface LbSabs {
  services: SharedArrayBuffer;
  maglev: SharedArrayBuffer;
  backends: SharedArrayBuffer;
  /**
   * Backend membership per service slot and generation parity: maxServices * 2 bitmaps of
   * memberWords(maxBackends) words, bit id set when backend id is in the service's list.
   */
  members: SharedArrayBuffer;
  /** The connection table (a SharedHashMap, conntrack.ts). */
  conntrack: SharedArrayBuffer;
  /** Float64 [packets, bytes] per worker, per service slot then per backend id (lbCounterIndex). */
  counters: SharedArrayBuffer;
  sizes: LbSizes;
}

/** Workers an LB table set keeps counters for (MAX_QUEUES). */
export const LB_COUNTER_WORKERS = 16;

/** Per-worker counter row length: [packets, bytes] for every service slot and backend id. */
export function lbCounterRow(sizes: LbSizes): number {
  return (sizes.maxServices + sizes.maxBackends) * 2;
}

/** Words of one membership bitmap. */
export function memberWords(maxBackends: number): number {
  return (maxBackends + 31) >>> 5;
}

export interface ServiceKey {
  vip: Address;
  port: number;
  /** IP protocol number: 6 TCP, 17 UDP. */
  proto: number;
}

export interface BackendSpec {
  addr: Address;
  port: number;
  weight: number;
}

/** Bounded retries of a lookup that keeps seeing the generation move (a rebuild storm). */
const LOOKUP_RETRIES = 8;

/** Fills a service key from VIP bytes in a buffer (packet or control-plane array). */
export function fillServiceKey(
  key: Int32Array,
  family: number,
  b: Uint8Array,
  o: number,
  port: number,
  proto: number,
): void {
  key[0] = family;
  key[1] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  if (family === 4) {
    key[2] = 0;
    key[3] = 0;
    key[4] = 0;
  } else {
    key[2] = (b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7];
    key[3] = (b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11];
    key[4] = (b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15];
  }
  key[5] = (port << 8) | proto;
}

/** What a worker uses: allocation-free lookups. */
export class LbReader {
  readonly services: SharedHashMap;
  readonly maglev: Int32Array;
  readonly backends: Int32Array;
  readonly m: number;
  readonly members: Int32Array;
  private readonly memberStride: number;
  readonly maxBackends: number;
  /** The shared connection table and this worker's new-flow bucket. */
  readonly conntrack: ConntrackReader;
  /** Scratch: the service value and the chosen backend record of the last lookup. */
  readonly service = new Int32Array(SVC_VALUE_WORDS);
  readonly backend = new Int32Array(BACKEND_WORDS);
  readonly key = new Int32Array(SVC_KEY_WORDS);

  /** This worker's [packets, bytes] per service slot, then per backend id. */
  readonly counters: Float64Array;
  private readonly maxServices: number;

  constructor(sabs: LbSabs, worker = 0) {
    const row = lbCounterRow(sabs.sizes);
    this.counters = new Float64Array(sabs.counters, worker * row * 8, row);
    this.maxServices = sabs.sizes.maxServices;
    this.services = SharedHashMap.attach(sabs.services);
    this.maglev = new Int32Array(sabs.maglev);
    this.backends = new Int32Array(sabs.backends);
    this.m = sabs.sizes.tableSize;
    this.members = new Int32Array(sabs.members);
    this.maxBackends = sabs.sizes.maxBackends;
    this.memberStride = memberWords(sabs.sizes.maxBackends);
    this.conntrack = new ConntrackReader(sabs.conntrack, sabs.sizes.newFlowsPerSec ?? DEFAULT_NEW_FLOWS_PER_SEC);
  }

  /** Counts one packet of `len` bytes for the service found and backend `id`. */
  countPacket(id: number, len: number): void {
    const s = this.service[SVC_SLOT] * 2;
    this.counters[s]++;
    this.counters[s + 1] += len;
    const k = (this.maxServices + id) * 2;
    this.counters[k]++;
    this.counters[k + 1] += len;
  }

  /**
   * For the service found by findService: fills `backend` with backend `id`'s record when id
   * is (still) in the service's backend list and the record has this family, address (4 words
   * at addr[ao]) and port; false otherwise (or when lookups keep racing a rebuild).
   */
  useBackend(id: number, family: number, addr: Int32Array, ao: number, port: number): boolean {
    if (id < 0 || id >= this.maxBackends) return false;
    for (let attempt = 0; attempt < LOOKUP_RETRIES; attempt++) {
      const gen = this.service[SVC_GENERATION];
      const m = (this.service[SVC_SLOT] * 2 + (gen & 1)) * this.memberStride + (id >>> 5);
      if ((Atomics.load(this.members, m) & (1 << (id & 31))) === 0) return false;
      const r = id * BACKEND_WORDS;
      for (let i = 0; i < BACKEND_WORDS; i++) this.backend[i] = this.backends[r + i];
      if (!this.services.unchangedSinceLookup()) {
        if (!this.services.lookup(this.key, 0, this.service, 0)) return false;
        if (this.service[SVC_GENERATION] !== gen) continue;
      }
      const be = this.backend;
      return (
        be[BACKEND_FAMILY] === family &&
        be[BACKEND_PORT] === port &&
        be[BACKEND_ADDR] === addr[ao] &&
        be[BACKEND_ADDR + 1] === addr[ao + 1] &&
        be[BACKEND_ADDR + 2] === addr[ao + 2] &&
        be[BACKEND_ADDR + 3] === addr[ao + 3]
      );
    }
    return false;
  }

  /** Looks up the service in `key`; false when there is none. Fills `service`. */
  findService(): boolean {
    return this.services.lookup(this.key, 0, this.service, 0);
  }

  /**
   * Picks the backend for a flow hash from the service found by findService; fills `backend`
   * and returns its id, or -1 when the service has no backend (or lookups keep racing).
   */
  pickBackend(hash: number): number {
    const slot = (hash >>> 0) % this.m;
    for (let attempt = 0; attempt < LOOKUP_RETRIES; attempt++) {
      const gen = this.service[SVC_GENERATION];
      if (this.service[SVC_BACKENDS] === 0) return -1;
      const base = (this.service[SVC_SLOT] * 2 + (gen & 1)) * this.m;
      const id = Atomics.load(this.maglev, base + slot);
      if (id < 0) return -1;
      const r = id * BACKEND_WORDS;
      for (let i = 0; i < BACKEND_WORDS; i++) this.backend[i] = this.backends[r + i];
      // The service must not have moved meanwhile (the table or record may be reused): its slot
      // unwritten since findService read it, or else a re-read with the same generation.
      if (this.services.unchangedSinceLookup()) return id;
      if (!this.services.lookup(this.key, 0, this.service, 0)) return -1;
      if (this.service[SVC_GENERATION] === gen) return id;
    }
    return -1;
  }
}

interface ServiceState {
  slot: number;
  key: Int32Array;
  flags: number;
  generation: number;
  backendIds: number[];
}

/** The control thread's side: services and backends in, published tables out. */
export class LbTables {
  readonly sabs: LbSabs;
  private readonly services: SharedHashMap;
  private readonly maglev: Int32Array;
  private readonly backends: Int32Array;
  private readonly members: Int32Array;
  private readonly memberStride: number;
  /** The connection table (shared with the workers). */
  readonly conntrack: SharedHashMap;
  private readonly state = new Map<string, ServiceState>();
  private readonly freeSlots: number[];
  private readonly backendIds = new Map<string, { id: number; refs: number }>();
  private readonly freeBackends: number[];
  /** Services per (VIP, protocol): the port-0 marker entry lives while this is above zero. */
  private readonly vipRefs = new Map<string, number>();

  constructor(readonly sizes: LbSizes) {
    // Room for every service and one VIP marker per service (SVC_VIP_MARKER).
    this.services = SharedHashMap.create({
      keyWords: SVC_KEY_WORDS,
      valueWords: SVC_VALUE_WORDS,
      capacity: sizes.maxServices * 2,
    });
    const maglev = new SharedArrayBuffer(sizes.maxServices * 2 * sizes.tableSize * 4);
    const backends = new SharedArrayBuffer(sizes.maxBackends * BACKEND_WORDS * 4);
    this.maglev = new Int32Array(maglev);
    this.backends = new Int32Array(backends);
    this.memberStride = memberWords(sizes.maxBackends);
    const members = new SharedArrayBuffer(sizes.maxServices * 2 * this.memberStride * 4);
    this.members = new Int32Array(members);
    const ctCapacity = sizes.conntrackCapacity ?? DEFAULT_CONNTRACK_CAPACITY;
    const flows = sizes.newFlowsPerSec ?? DEFAULT_NEW_FLOWS_PER_SEC;
    if (!Number.isInteger(ctCapacity) || ctCapacity < 1)
      throw new Error(`conntrackCapacity ${ctCapacity} must be a positive integer`);
    if (!(flows >= 0)) throw new Error(`newFlowsPerSec ${flows} must be a number >= 0`);
    this.conntrack = SharedHashMap.create({ keyWords: CT_KEY_WORDS, valueWords: CT_VALUE_WORDS, capacity: ctCapacity });
    this.sabs = {
      services: this.services.sab,
      maglev,
      backends,
      members,
      conntrack: this.conntrack.sab,
      counters: new SharedArrayBuffer(LB_COUNTER_WORKERS * lbCounterRow(sizes) * 8),
      sizes: { ...sizes, conntrackCapacity: ctCapacity, newFlowsPerSec: flows },
    };
    this.freeSlots = Array.from({ length: sizes.maxServices }, (_, i) => sizes.maxServices - 1 - i);
    this.freeBackends = Array.from({ length: sizes.maxBackends }, (_, i) => sizes.maxBackends - 1 - i);
  }

  private keyOf(s: ServiceKey): Int32Array {
    const k = new Int32Array(SVC_KEY_WORDS);
    fillServiceKey(k, s.vip.family, s.vip.bytes, 0, s.port, s.proto);
    return k;
  }

  private name(s: ServiceKey): string {
    return `${formatAddress(s.vip)}/${s.port}/${s.proto}`;
  }

  private markerKey(s: ServiceKey): Int32Array {
    return this.keyOf({ vip: s.vip, port: 0, proto: s.proto });
  }

  private addVip(s: ServiceKey): void {
    const name = `${formatAddress(s.vip)}/${s.proto}`;
    const refs = this.vipRefs.get(name) ?? 0;
    if (refs === 0 && !this.services.insert(this.markerKey(s), 0, Int32Array.of(SVC_VIP_MARKER, 0, 0, 0), 0)) {
      throw new Error(`service table refused the VIP marker of ${name}`);
    }
    this.vipRefs.set(name, refs + 1);
  }

  private dropVip(s: ServiceKey): void {
    const name = `${formatAddress(s.vip)}/${s.proto}`;
    const refs = (this.vipRefs.get(name) ?? 1) - 1;
    if (refs > 0) {
      this.vipRefs.set(name, refs);
      return;
    }
    this.vipRefs.delete(name);
    this.services.delete(this.markerKey(s), 0);
  }

  private takeBackend(b: BackendSpec): number {
    const name = backendName(formatAddress(b.addr), b.port);
    const have = this.backendIds.get(name);
    if (have) {
      have.refs++;
      return have.id;
    }
    const id = this.freeBackends.pop();
    if (id === undefined) throw new Error(`backend table full (${this.sizes.maxBackends} backends)`);
    this.zeroCounters(this.sizes.maxServices + id);
    const r = id * BACKEND_WORDS;
    this.backends[r + BACKEND_FAMILY] = b.addr.family;
    for (let i = 0; i < 4; i++) {
      const o = 4 * i;
      const a = b.addr.bytes;
      this.backends[r + BACKEND_ADDR + i] =
        o < a.length ? (a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3] : 0;
    }
    this.backends[r + BACKEND_PORT] = b.port;
    this.backendIds.set(name, { id, refs: 1 });
    return id;
  }

  private dropBackend(id: number): void {
    for (const [name, e] of this.backendIds) {
      if (e.id !== id) continue;
      if (--e.refs === 0) {
        this.backendIds.delete(name);
        this.freeBackends.push(id);
      }
      return;
    }
  }

  /** Creates or updates a service; its new Maglev table is published atomically. */
  upsert(s: ServiceKey, flags: number, backends: BackendSpec[], seed: number): void {
    const name = this.name(s);
    let st = this.state.get(name);
    if (!st) {
      if (s.port < 1 || s.port > 65535) throw new Error(`service port ${s.port} out of range`);
      const slot = this.freeSlots.pop();
      if (slot === undefined) throw new Error(`service table full (${this.sizes.maxServices} services)`);
      this.zeroCounters(slot);
      this.addVip(s);
      st = { slot, key: this.keyOf(s), flags, generation: 0, backendIds: [] };
      this.state.set(name, st);
    }
    const sorted = sortBackends(backends.map((b) => ({ ...b, name: backendName(formatAddress(b.addr), b.port) })));
    const ids = sorted.map((b) => this.takeBackend(b));
    const table = buildMaglevTable(sorted, this.sizes.tableSize, seed);
    const gen = st.generation + 1;
    const base = (st.slot * 2 + (gen & 1)) * this.sizes.tableSize;
    for (let i = 0; i < table.length; i++) Atomics.store(this.maglev, base + i, table[i] < 0 ? -1 : ids[table[i]]);
    const mb = (st.slot * 2 + (gen & 1)) * this.memberStride;
    for (let i = 0; i < this.memberStride; i++) Atomics.store(this.members, mb + i, 0);
    for (const id of ids) Atomics.or(this.members, mb + (id >>> 5), 1 << (id & 31));
    const value = Int32Array.of(st.slot, flags, gen, sorted.some((b) => b.weight > 0) ? ids.length : 0);
    if (!this.services.insert(st.key, 0, value, 0)) throw new Error(`service table refused ${name}`);
    for (const id of st.backendIds) this.dropBackend(id);
    st.backendIds = ids;
    st.generation = gen;
    st.flags = flags;
  }

  /** A reused slot or id starts from zero (no worker counts it before it is published). */
  private zeroCounters(index: number): void {
    const all = new Float64Array(this.sabs.counters);
    const row = lbCounterRow(this.sizes);
    for (let w = 0; w < LB_COUNTER_WORKERS; w++) all.fill(0, w * row + index * 2, w * row + index * 2 + 2);
  }

  /** Packets and bytes sent to a service and to each of its backends (by "IP:port" name), summed over the workers. */
  counters(
    s: ServiceKey,
  ): { packets: number; bytes: number; backends: Record<string, { packets: number; bytes: number }> } | undefined {
    const st = this.state.get(this.name(s));
    if (!st) return undefined;
    const all = new Float64Array(this.sabs.counters);
    const row = lbCounterRow(this.sizes);
    const sum = (index: number): { packets: number; bytes: number } => {
      let packets = 0;
      let bytes = 0;
      for (let w = 0; w < LB_COUNTER_WORKERS; w++) {
        packets += all[w * row + index * 2];
        bytes += all[w * row + index * 2 + 1];
      }
      return { packets, bytes };
    };
    const backends: Record<string, { packets: number; bytes: number }> = {};
    for (const [name, e] of this.backendIds)
      if (st.backendIds.includes(e.id)) backends[name] = sum(this.sizes.maxServices + e.id);
    return { ...sum(st.slot), backends };
  }

  delete(s: ServiceKey): boolean {
    const name = this.name(s);
    const st = this.state.get(name);
    if (!st) return false;
    this.services.delete(st.key, 0);
    this.dropVip(s);
    for (const id of st.backendIds) this.dropBackend(id);
    this.freeSlots.push(st.slot);
    this.state.delete(name);
    return true;
  }

  size(): number {
    return this.state.size;
  }

  /**
   * Deletes the connection-table entries idle for more than idleSec (call periodically from
   * the control thread); returns how many. A flow refreshed between the scan and the delete
   * loses its entry and is picked with Maglev again (usually the same backend).
   */
  sweepConntrack(idleSec: number, nowSec = ctNowSec(performance.now())): number {
    return sweepConntrack(this.conntrack, nowSec, idleSec);
  }
}
