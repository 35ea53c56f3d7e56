// The SNAT connection table: one SharedHashMap in a SharedArrayBuffer that every worker
// writes and the control thread sweeps. Two entries per connection:
//
//   original  [ORIG  | family | proto, src (4), dst (4), sport << 16 | dport]
//             → [state, last seen (s), translated address (4), translated port, worker]
//   reply     [REPLY | family | proto, remote (4), translated address (4), translated port]
//             → [0, created (s), original src (4), original sport, remote port]
//
// The reply key leaves out the remote port on purpose: it makes the reply entry the port
// allocation itself, per (translated address, remote address, protocol) as issue 6 asks
// (port-alloc.ts explains why that is lock-free across workers). A reply from another remote
// port than the one the flow went to finds the entry but fails its check (NO_ENTRY).
// ICMP echo: the identifier is the port (sport of the request, dport 0 in the original key).
//
// Writers: a worker creates a flow by claiming a port of its slice (reply entry), then
// inserting the original entry; if that fails the reply entry is deleted again (rollback), so
// a refused flow leaves nothing behind. State and last seen live in the original entry;
// packets of both directions refresh it (a value-only seqlocked update), at most once per
// second unless the state changes. Two packets of one flow handled at the same instant by two
// workers may each write their own view: the later write wins and the next packet corrects it
// (the states differ by one step, and the steps' timeouts are of the same order).
//
// Bounds: `capacity` connections (2 × capacity map entries). A full table refuses new flows
// (TABLE_FULL) while existing flows keep working; a worker's port slice without a free port
// for that destination refuses with PORTS_EXHAUSTED. Both are counted in the table header for
// `weft status`, besides the verdict the datapath counts.
//
// Garbage collection (control thread, NatTable.sweep(nowSec)): an original entry idle longer
// than its state's timeout is deleted with its reply entry (when that still points back to
// it), which frees the port. Reply entries no original entry points to (a flow created twice
// at once by two workers, or a worker stopped between the two inserts) are deleted once older
// than ORPHAN_GRACE_SEC. Time is whole seconds, injected by the caller (tests drive it).
import { SharedHashMap } from '../tables/hashmap.js';
import { hashWords } from '../tables/hash.js';
import type { NatPacket } from './packet.js';
import {
  type PortSlice,
  portSlice,
  candidatePort,
  DEFAULT_PORT_MIN,
  DEFAULT_PORT_MAX,
  DEFAULT_MAX_TRIES,
} from './port-alloc.js';
import {
  CT_NONE,
  UDP_UNREPLIED,
  UDP_REPLIED,
  ICMP_ECHO,
  CT_STATE_NAMES,
  DEFAULT_TIMEOUTS,
  type NatTimeouts,
  tcpInitialState,
  tcpNextState,
  timeoutOf,
} from './ct-state.js';
import { IPPROTO_TCP, IPPROTO_UDP, formatIpv4 } from '../wire/ipv4.js';
import { formatIpv6 } from '../wire/ipv6.js';

export const CT_KEY_WORDS = 10;
export const CT_VALUE_WORDS = 8;
const K_TAG = 0,
  K_A = 1,
  K_B = 5,
  K_PORTS = 9;
const DIR_ORIG = 0,
  DIR_REPLY = 1;
/** Value words (both directions). */
export const V_STATE = 0;
export const V_SEEN = 1;
export const V_ADDR = 2;
export const V_PORT = 6;
export const V_INFO = 7;

/** Verdicts of the worker-side lookups. */
export const CT_HIT = 0;
export const CT_NEW = 1;
/** No entry, and this packet does not start one (a reply, an RST, an echo reply, an ICMP error). */
export const CT_NO_ENTRY = 2;
export const CT_PORTS_EXHAUSTED = 3;
export const CT_TABLE_FULL = 4;
/** The map refused an insert for another reason (its writer lock stayed busy, probe limit). */
export const CT_INSERT_FAILED = 5;
export const CT_VERDICT_NAMES: readonly string[] = [
  'hit',
  'new',
  'noEntry',
  'portsExhausted',
  'tableFull',
  'insertFailed',
];

export const ORPHAN_GRACE_SEC = 10;
/** Tries of one map insert before a new flow counts as insertFailed. */
const INSERT_TRIES = 4;

// Table header (Int32 words before the map).
const H_MAGIC = 0,
  H_CAP = 1,
  H_PORT_MIN = 2,
  H_PORT_MAX = 3,
  H_WORKERS = 4,
  H_MAX_TRIES = 5;
const H_NEW = 8,
  H_PORTS_EXHAUSTED = 9,
  H_TABLE_FULL = 10,
  H_EXPIRED = 11,
  H_ORPHANS = 12,
  H_INSERT_FAILED = 13;
const HEADER_WORDS = 64;
const HEADER_BYTES = HEADER_WORDS * 4;
const MAGIC = 0x574e4154; // "WNAT"

export interface NatTableOptions {
  /** Connections (each takes two map entries). */
  capacity: number;
  /** Workers sharing the port range (each gets a slice). */
  workers: number;
  portMin?: number;
  portMax?: number;
  maxTries?: number;
}

export interface NatTableStats {
  connections: number;
  capacity: number;
  newFlows: number;
  portsExhausted: number;
  tableFull: number;
  expired: number;
  orphansRemoved: number;
  /** Map inserts that failed for another reason than capacity (lock busy, probe limit). */
  insertFailed: number;
}

export interface NatFlowEntry {
  family: 4 | 6;
  proto: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  xlateAddr: string;
  xlatePort: number;
  state: string;
  idleSec: number;
  worker: number;
}

function addrText(family: number, w: Int32Array, at: number): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const x = w[at + i]!;
    b[4 * i] = x >>> 24;
    b[4 * i + 1] = (x >>> 16) & 0xff;
    b[4 * i + 2] = (x >>> 8) & 0xff;
    b[4 * i + 3] = x & 0xff;
  }
  return family === 4 ? formatIpv4(b) : formatIpv6(b);
}

function readAddr(b: Uint8Array, off: number, family: number, k: Int32Array, at: number): void {
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < 4; i++) {
    const o = off + 4 * i;
    k[at + i] = i < n ? (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]! : 0;
  }
}

function sameAddr(a: Int32Array, ai: number, b: Int32Array, bi: number): boolean {
  return a[ai] === b[bi] && a[ai + 1] === b[bi + 1] && a[ai + 2] === b[bi + 2] && a[ai + 3] === b[bi + 3];
}

function tag(dir: number, family: number, proto: number): number {
  return (dir << 16) | (family << 8) | proto;
}

/** Control thread: creates the table, sweeps it, reports on it. */
export class NatTable {
  readonly map: SharedHashMap;
  readonly h: Int32Array;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.h = new Int32Array(sab, 0, HEADER_WORDS);
    if (this.h[H_MAGIC] !== MAGIC) throw new Error('NatTable: bad magic (not a NAT table SAB)');
    this.map = SharedHashMap.attach(sab, HEADER_BYTES);
  }

  static create(o: NatTableOptions): NatTable {
    const lo = o.portMin ?? DEFAULT_PORT_MIN,
      hi = o.portMax ?? DEFAULT_PORT_MAX;
    portSlice(lo, hi, 0, o.workers); // validates the range against the worker count
    if (!Number.isInteger(o.capacity) || o.capacity < 1 || o.capacity > 1 << 24)
      throw new RangeError('NatTable: capacity must be 1..16777216 connections');
    // The map gets room for 3 entries per connection while the table admits 2: at most ~50 %
    // load, so probe chains stay short (the admission bound is H_CAP, checked before inserting).
    const mo = { keyWords: CT_KEY_WORDS, valueWords: CT_VALUE_WORDS, capacity: 3 * o.capacity, maxProbe: 64 };
    const sab = new SharedArrayBuffer(HEADER_BYTES + SharedHashMap.bytesFor(mo));
    SharedHashMap.create({ ...mo, sab, byteOffset: HEADER_BYTES });
    const h = new Int32Array(sab, 0, HEADER_WORDS);
    h[H_CAP] = o.capacity;
    h[H_PORT_MIN] = lo;
    h[H_PORT_MAX] = hi;
    h[H_WORKERS] = o.workers;
    h[H_MAX_TRIES] = o.maxTries ?? DEFAULT_MAX_TRIES;
    Atomics.store(h, H_MAGIC, MAGIC);
    return new NatTable(sab);
  }

  static attach(sab: SharedArrayBuffer): NatTable {
    return new NatTable(sab);
  }

  get portMin(): number {
    return this.h[H_PORT_MIN]!;
  }
  get portMax(): number {
    return this.h[H_PORT_MAX]!;
  }
  get workers(): number {
    return this.h[H_WORKERS]!;
  }

  stats(): NatTableStats {
    const h = this.h;
    return {
      connections: Math.floor(this.map.size() / 2),
      capacity: h[H_CAP]!,
      newFlows: Atomics.load(h, H_NEW),
      portsExhausted: Atomics.load(h, H_PORTS_EXHAUSTED),
      tableFull: Atomics.load(h, H_TABLE_FULL),
      expired: Atomics.load(h, H_EXPIRED),
      orphansRemoved: Atomics.load(h, H_ORPHANS),
      insertFailed: Atomics.load(h, H_INSERT_FAILED),
    };
  }

  /**
   * Deletes connections idle past their state's timeout at nowSec (and orphaned reply
   * entries); returns how many of each. Allocates (control thread only).
   */
  sweep(nowSec: number, timeouts: Readonly<NatTimeouts> = DEFAULT_TIMEOUTS): { expired: number; orphans: number } {
    const origs: Array<[Int32Array, Int32Array]> = [];
    const replies: Array<[Int32Array, Int32Array]> = [];
    this.map.forEach((k, v) => {
      (k[K_TAG]! >>> 16 === DIR_ORIG ? origs : replies).push([k, v]);
    });
    const live = new Set<string>();
    const rk = new Int32Array(CT_KEY_WORDS),
      rv = new Int32Array(CT_VALUE_WORDS),
      cur = new Int32Array(CT_VALUE_WORDS);
    let expired = 0,
      orphans = 0;
    for (const [k, v] of origs) {
      replyKeyOf(k, v, rk);
      // Re-read: a worker may have refreshed it since the snapshot.
      if (!this.map.lookup(k, 0, cur, 0)) continue;
      if (nowSec - cur[V_SEEN]! <= timeoutOf(cur[V_STATE]!, timeouts)) {
        live.add(rk.join(','));
        continue;
      }
      if (!this.map.delete(k, 0)) continue;
      expired++;
      if (this.map.lookup(rk, 0, rv, 0) && pointsBack(k, rv)) this.map.delete(rk, 0);
    }
    for (const [k, v] of replies) {
      if (live.has(k.join(',')) || nowSec - v[V_SEEN]! <= ORPHAN_GRACE_SEC) continue;
      const ok = new Int32Array(CT_KEY_WORDS);
      origKeyOfReply(k, v, ok);
      const ov = new Int32Array(CT_VALUE_WORDS);
      // Still the port of a live connection (created after the snapshot)? Keep it.
      if (this.map.lookup(ok, 0, ov, 0) && ov[V_PORT] === k[K_PORTS] && sameAddr(ov, V_ADDR, k, K_B)) continue;
      if (this.map.delete(k, 0)) orphans++;
    }
    Atomics.add(this.h, H_EXPIRED, expired);
    Atomics.add(this.h, H_ORPHANS, orphans);
    return { expired, orphans };
  }

  /** Every connection (original entries) for listings such as `weft egress conntrack`. */
  entries(nowSec: number): NatFlowEntry[] {
    const out: NatFlowEntry[] = [];
    this.map.forEach((k, v) => {
      if (k[K_TAG]! >>> 16 !== DIR_ORIG) return;
      const family = ((k[K_TAG]! >>> 8) & 0xff) as 4 | 6;
      out.push({
        family,
        proto: k[K_TAG]! & 0xff,
        src: addrText(family, k, K_A),
        sport: k[K_PORTS]! >>> 16,
        dst: addrText(family, k, K_B),
        dport: k[K_PORTS]! & 0xffff,
        xlateAddr: addrText(family, v, V_ADDR),
        xlatePort: v[V_PORT]!,
        state: CT_STATE_NAMES[v[V_STATE]!] ?? String(v[V_STATE]),
        idleSec: nowSec - v[V_SEEN]!,
        worker: v[V_INFO]!,
      });
    });
    return out;
  }
}

/** The reply key a connection's original entry (k, v) claims. */
function replyKeyOf(k: Int32Array, v: Int32Array, out: Int32Array): void {
  out[K_TAG] = (k[K_TAG]! & 0xffff) | (DIR_REPLY << 16);
  for (let i = 0; i < 4; i++) {
    out[K_A + i] = k[K_B + i]!;
    out[K_B + i] = v[V_ADDR + i]!;
  }
  out[K_PORTS] = v[V_PORT]!;
}

/** The original key a reply entry (k, v) belongs to. */
function origKeyOfReply(k: Int32Array, v: Int32Array, out: Int32Array): void {
  out[K_TAG] = k[K_TAG]! & 0xffff;
  for (let i = 0; i < 4; i++) {
    out[K_A + i] = v[V_ADDR + i]!;
    out[K_B + i] = k[K_A + i]!;
  }
  out[K_PORTS] = ((v[V_PORT]! & 0xffff) << 16) | (v[V_INFO]! & 0xffff);
}

/** The reply value rv belongs to the original key k (not to a later flow on the same port). */
function pointsBack(k: Int32Array, rv: Int32Array): boolean {
  return sameAddr(rv, V_ADDR, k, K_A) && rv[V_PORT] === k[K_PORTS]! >>> 16 && rv[V_INFO] === (k[K_PORTS]! & 0xffff);
}

/** A worker's handle: lookups, flow creation, state refresh. No allocation per packet. */
export class NatFlows {
  readonly map: SharedHashMap;
  private readonly h: Int32Array;
  private readonly slice: PortSlice;
  private readonly key = new Int32Array(CT_KEY_WORDS);
  private readonly rkey = new Int32Array(CT_KEY_WORDS);
  private readonly val = new Int32Array(CT_VALUE_WORDS);
  private readonly rval = new Int32Array(CT_VALUE_WORDS);
  /**
   * Result of the last CT_HIT / CT_NEW: the address (4 words) and port to write — the
   * translation for outbound lookups, the endpoint's original address and port for inbound.
   */
  readonly xlate = new Int32Array(5);
  /** State of the connection after the last lookup (ct-state.ts). */
  state = CT_NONE;

  constructor(
    sab: SharedArrayBuffer,
    readonly worker: number,
  ) {
    const t = NatTable.attach(sab);
    this.map = t.map;
    this.h = t.h;
    this.slice = portSlice(t.portMin, t.portMax, worker, t.workers, this.h[H_MAX_TRIES]);
  }

  /** The first port and the number of ports this worker hands out. */
  get portSlice(): Readonly<PortSlice> {
    return this.slice;
  }

  /**
   * Original direction (endpoint → outside), packet parsed as NAT_OK: finds the flow's
   * translation or creates it with address xw[xat..] and a port of this worker's slice.
   * CT_HIT / CT_NEW: rewrite the source with this.xlate. A flow that exists keeps the
   * translation it was created with.
   */
  outbound(p: NatPacket, b: Uint8Array, xw: Int32Array, xat: number, nowSec: number): number {
    const k = this.key,
      v = this.val,
      fam = p.family;
    k[K_TAG] = tag(DIR_ORIG, fam, p.proto);
    readAddr(b, p.srcOff, fam, k, K_A);
    readAddr(b, p.dstOff, fam, k, K_B);
    k[K_PORTS] = (p.sport << 16) | p.dport;
    if (this.map.lookup(k, 0, v, 0)) {
      this.refresh(k, v, p, false, nowSec);
      this.fillXlate(v);
      return CT_HIT;
    }
    let state: number;
    if (p.proto === IPPROTO_TCP) state = tcpInitialState(p.tcpFlags);
    else if (p.proto === IPPROTO_UDP) state = UDP_UNREPLIED;
    else state = p.sportOff >= 0 ? ICMP_ECHO : CT_NONE; // only echo requests start ICMP flows
    if (state === CT_NONE) return CT_NO_ENTRY;
    if (this.map.size() + 2 > 2 * this.h[H_CAP]!) return this.count(H_TABLE_FULL, CT_TABLE_FULL);
    // Claim a port: the reply entry is the allocation.
    const rk = this.rkey,
      rv = this.rval;
    rk[K_TAG] = tag(DIR_REPLY, fam, p.proto);
    for (let i = 0; i < 4; i++) {
      rk[K_A + i] = k[K_B + i]!;
      rk[K_B + i] = xw[xat + i]!;
    }
    if (fam === 4) {
      rk[K_B + 1] = 0;
      rk[K_B + 2] = 0;
      rk[K_B + 3] = 0;
    }
    rv[V_STATE] = 0;
    rv[V_SEEN] = nowSec;
    for (let i = 0; i < 4; i++) rv[V_ADDR + i] = k[K_A + i]!;
    rv[V_PORT] = p.sport;
    rv[V_INFO] = p.dport;
    const s = this.slice,
      hash = hashWords(k, 0, CT_KEY_WORDS);
    let port = -1;
    for (let i = 0; i < s.tries; i++) {
      rk[K_PORTS] = candidatePort(s, hash, i);
      if (this.map.lookup(rk, 0, this.val, 0)) continue;
      if (!this.insertRetry(rk, rv)) return this.insertFailed();
      port = rk[K_PORTS]!;
      break;
    }
    if (port < 0) return this.count(H_PORTS_EXHAUSTED, CT_PORTS_EXHAUSTED);
    v[V_STATE] = state;
    v[V_SEEN] = nowSec;
    for (let i = 0; i < 4; i++) v[V_ADDR + i] = rk[K_B + i]!;
    v[V_PORT] = port;
    v[V_INFO] = this.worker;
    if (!this.insertRetry(k, v)) {
      this.map.delete(rk, 0); // rollback: a refused flow leaves nothing behind
      return this.insertFailed();
    }
    Atomics.add(this.h, H_NEW, 1);
    this.state = state;
    this.fillXlate(v);
    return CT_NEW;
  }

  /**
   * Reply direction (outside → translated address), packet parsed as NAT_OK: CT_HIT with
   * this.xlate = the endpoint's address and port (rewrite the destination), or CT_NO_ENTRY
   * (unsolicited: drop and count).
   */
  inbound(p: NatPacket, b: Uint8Array, nowSec: number): number {
    if (!this.findReply(b, p.family, p.proto, p.srcOff, p.dstOff, p.dport, p.sport)) return CT_NO_ENTRY;
    // State lives in the original entry.
    const k = this.key,
      v = this.val;
    origKeyOfReply(this.rkey, this.rval, k);
    if (this.map.lookup(k, 0, v, 0)) this.refresh(k, v, p, true, nowSec);
    return CT_HIT;
  }

  /**
   * An ICMP error from outside about a packet we translated (parsed as NAT_ICMP_ERROR, the
   * quoted packet's source is the translated address): CT_HIT with this.xlate = the endpoint's
   * address and port for natRewriteIcmpError(SIDE_DST), or CT_NO_ENTRY.
   */
  icmpErrorInbound(p: NatPacket, b: Uint8Array): number {
    return this.findReply(b, p.family, p.innerProto, p.innerDstOff, p.innerSrcOff, p.innerSport, p.innerDport)
      ? CT_HIT
      : CT_NO_ENTRY;
  }

  /**
   * An ICMP error an endpoint sends about a reply it received (the quoted packet's
   * destination is the endpoint): CT_HIT with this.xlate = the translation for
   * natRewriteIcmpError(SIDE_SRC), or CT_NO_ENTRY.
   */
  icmpErrorOutbound(p: NatPacket, b: Uint8Array): number {
    const k = this.key,
      v = this.val;
    k[K_TAG] = tag(DIR_ORIG, p.family, p.innerProto);
    readAddr(b, p.innerDstOff, p.family, k, K_A);
    readAddr(b, p.innerSrcOff, p.family, k, K_B);
    k[K_PORTS] = (p.innerDport << 16) | p.innerSport;
    if (!this.map.lookup(k, 0, v, 0)) return CT_NO_ENTRY;
    this.fillXlate(v);
    return CT_HIT;
  }

  /** Reply entry for (remote at remoteOff, translated address at xOff, port); checks the remote port. */
  private findReply(
    b: Uint8Array,
    fam: number,
    proto: number,
    remoteOff: number,
    xOff: number,
    port: number,
    remotePort: number,
  ): boolean {
    const rk = this.rkey,
      rv = this.rval;
    rk[K_TAG] = tag(DIR_REPLY, fam, proto);
    readAddr(b, remoteOff, fam, rk, K_A);
    readAddr(b, xOff, fam, rk, K_B);
    rk[K_PORTS] = port;
    if (!this.map.lookup(rk, 0, rv, 0) || rv[V_INFO] !== remotePort) return false;
    for (let i = 0; i < 4; i++) this.xlate[i] = rv[V_ADDR + i]!;
    this.xlate[4] = rv[V_PORT]!;
    return true;
  }

  /** Next state for this packet; writes the entry when the state or the second changed. */
  private refresh(k: Int32Array, v: Int32Array, p: NatPacket, reply: boolean, nowSec: number): void {
    const old = v[V_STATE]!;
    let next = old;
    if (p.proto === IPPROTO_TCP) next = tcpNextState(old, p.tcpFlags, reply);
    else if (reply && old === UDP_UNREPLIED) next = UDP_REPLIED;
    this.state = next;
    if (next === old && v[V_SEEN] === nowSec) return;
    v[V_STATE] = next;
    v[V_SEEN] = nowSec;
    this.map.update(k, 0, v, 0); // false: swept meanwhile; the next packet starts over
  }

  private fillXlate(v: Int32Array): void {
    for (let i = 0; i < 4; i++) this.xlate[i] = v[V_ADDR + i]!;
    this.xlate[4] = v[V_PORT]!;
    this.state = v[V_STATE]!;
  }

  private count(word: number, verdict: number): number {
    Atomics.add(this.h, word, 1);
    return verdict;
  }

  /**
   * map.insert, tried up to INSERT_TRIES times: a refusal is usually the table-wide writer lock
   * held by a thread that lost its CPU (more threads than cores), which a later try outlasts.
   */
  private insertRetry(k: Int32Array, v: Int32Array): boolean {
    for (let i = 0; i < INSERT_TRIES; i++) {
      if (this.map.insert(k, 0, v, 0)) return true;
    }
    return false;
  }

  private insertFailed(): number {
    // A full map (a race past the size check) is "table full"; anything else is counted apart.
    if (this.map.size() + 1 >= 2 * this.h[H_CAP]!) return this.count(H_TABLE_FULL, CT_TABLE_FULL);
    return this.count(H_INSERT_FAILED, CT_INSERT_FAILED);
  }
}
