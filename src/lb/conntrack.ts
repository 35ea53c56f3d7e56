// The load balancer's optional connection table (Katran's LRU), per service with
// SVC_FLAG_CONNTRACK: flow (family, client address, client port, VIP, service port, protocol)
// → backend, so a flow keeps its backend when the service's backend set changes (Maglev alone
// moves the flows on the changed table slots).
//
// Shared: one SharedHashMap for every worker (LbTables creates it, LbReader attaches it);
// workers insert and refresh entries themselves (the map's CAS-claimed slots and table lock).
//
// Entry value: [backend id, backend address (4 words), backend port, last seen (s)]. Backend
// ids are freed and reused by the control thread, so a hit is used only when
//   - the backend id is a member of the service's current backend list (a per-service,
//     per-generation bitmap published with the Maglev table, LbReader.isMember), drained
//     (weight 0) backends included: existing flows stay on a draining backend, as Katran;
//   - the backend record still has the address and port stored in the entry (id reuse);
//   - the service's generation did not move while reading (as pickBackend).
// Otherwise the flow is picked with Maglev again and its entry overwritten (lbConntrackStale).
// Last seen is written at most once per second per entry (a value-only seqlocked update).
//
// Bounds — the chosen approximation of an LRU: refuse and sweep. The map has a fixed capacity
// (LbSizes.conntrackCapacity, default 65536); an insert into a full map is refused and counted
// (lbConntrackFull) and the packet is still forwarded with Maglev (the flow just is not
// tracked). The control thread calls LbTables.sweepConntrack(idleSec) periodically: entries
// idle longer than the timeout are deleted, which makes room. A probe-and-evict-the-oldest
// insert would need slot-level replacement inside SharedHashMap (a key moving under readers);
// refusing keeps the map's invariants untouched and costs nothing on the hot path.
//
// Flood bypass: each worker has a token bucket of LbSizes.newFlowsPerSec (default 100000) new
// entries per second (burst: one second's worth). Without a token, a new flow is forwarded
// with Maglev and not inserted (lbConntrackBypass), so a SYN flood cannot wash out the table.
//
// Time: last seen is whole seconds since the epoch from performance.timeOrigin + the thread's
// performance.now() (ctNowSec), which every thread and the control thread agree on.
import { SharedHashMap } from '../tables/hashmap.js';

/** Key: [family << 8 | protocol, client address (4 words), VIP (4 words), client port << 16 | service port]. */
export const CT_KEY_WORDS = 10;
/** Value: [backend id, backend address (4 words), backend port, last seen (s)]. */
export const CT_VALUE_WORDS = 7;
export const CT_BACKEND = 0;
export const CT_BACKEND_ADDR = 1;
export const CT_BACKEND_PORT = 5;
export const CT_LAST_SEEN = 6;

export const DEFAULT_CONNTRACK_CAPACITY = 65536;
export const DEFAULT_NEW_FLOWS_PER_SEC = 100000;
/** A reasonable idle timeout for the sweeper (seconds). */
export const DEFAULT_CONNTRACK_IDLE_SEC = 300;

/** Whole seconds since the epoch for a thread's monotonic milliseconds (performance.now()). */
export function ctNowSec(nowMs: number): number {
  return Math.floor((performance.timeOrigin + nowMs) / 1000) | 0;
}

function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/** Fills a flow key (client address at b[src], VIP at b[vip], both of the family's length). */
export function fillConnKey(
  key: Int32Array,
  family: number,
  b: Uint8Array,
  src: number,
  vip: number,
  sport: number,
  dport: number,
  proto: number,
): void {
  key[0] = (family << 8) | proto;
  if (family === 4) {
    key[1] = word(b, src);
    key[2] = 0;
    key[3] = 0;
    key[4] = 0;
    key[5] = word(b, vip);
    key[6] = 0;
    key[7] = 0;
    key[8] = 0;
  } else {
    for (let i = 0; i < 4; i++) {
      key[1 + i] = word(b, src + 4 * i);
      key[5 + i] = word(b, vip + 4 * i);
    }
  }
  key[9] = ((sport & 0xffff) << 16) | (dport & 0xffff);
}

/** A worker's view: the shared map, scratch and its own new-flow token bucket. */
export class ConntrackReader {
  readonly map: SharedHashMap;
  readonly key = new Int32Array(CT_KEY_WORDS);
  readonly value = new Int32Array(CT_VALUE_WORDS);
  private tokens: number;
  private refill = -1;

  constructor(
    sab: SharedArrayBuffer,
    readonly newFlowsPerSec: number,
  ) {
    this.map = SharedHashMap.attach(sab);
    this.tokens = newFlowsPerSec;
  }

  /** Takes a new-flow token at monotonic time nowMs; false: over the rate, do not insert. */
  takeNewFlowToken(nowMs: number): boolean {
    if (this.refill < 0) this.refill = nowMs;
    const dt = nowMs - this.refill;
    if (dt > 0) {
      this.tokens = Math.min(this.newFlowsPerSec, this.tokens + (dt * this.newFlowsPerSec) / 1000);
      this.refill = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Control thread: deletes the entries idle for more than idleSec at nowSec; returns how many.
 * (Allocates: it visits a snapshot of every entry.)
 */
export function sweepConntrack(map: SharedHashMap, nowSec: number, idleSec: number): number {
  const stale: Int32Array[] = [];
  map.forEach((k, v) => {
    if (nowSec - v[CT_LAST_SEEN] > idleSec) stale.push(k);
  });
  let n = 0;
  for (const k of stale) if (map.delete(k, 0)) n++;
  return n;
}
