// Port (and ICMP echo identifier) allocation for SNAT, without locks between workers.
//
// Design: the configured range [lo, hi] (default 32768–60999) is cut into one contiguous
// slice per worker; a worker only ever hands out ports of its own slice. A port is "taken"
// for a (translated address, remote address, protocol) exactly while the conntrack table holds
// the reply-direction entry keyed on (remote address, translated address, protocol, port):
// that entry IS the allocation (conntrack.ts). So allocating is "find a port of my slice
// whose reply key is absent, insert it" — and since no other thread inserts keys with my
// ports, the lookup-then-insert cannot race; freeing is the sweeper deleting the entry. There
// is no per-destination bitmap (destinations are unbounded) and no shared allocator state.
//
// Search: start at a hash of the flow's original tuple (ports are not predictable from the
// outside, and the same tuple tries the same ports first), step through the slice, at most
// maxTries probes: O(1) expected while the slice is not nearly full for that destination.
// When a slice holds fewer ports than maxTries the whole slice is tried, so a tiny range is
// exhausted exactly, not probabilistically.
//
// Trade-off: one worker's slice can run out while another's has room (flows are spread over
// workers by the TAP queue hash, so slices fill evenly on average). The range must hold at
// least one port per worker (checked by portSlice).
export const DEFAULT_PORT_MIN = 32768;
export const DEFAULT_PORT_MAX = 60999;
/** Probes before giving up (Cilium's SNAT collision retries are of the same order). */
export const DEFAULT_MAX_TRIES = 128;

export interface PortSlice {
  /** First port of this worker's slice. */
  first: number;
  /** Number of ports in it. */
  count: number;
  /** Probes per allocation: min(count, maxTries). */
  tries: number;
}

/** Worker `worker` of `workers`: its slice of [lo, hi]. Throws when the range is too small. */
export function portSlice(
  lo: number,
  hi: number,
  worker: number,
  workers: number,
  maxTries = DEFAULT_MAX_TRIES,
): PortSlice {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) {
    throw new RangeError(`port range ${lo}-${hi}: must be 1..65535 with min ≤ max`);
  }
  const total = hi - lo + 1;
  if (!Number.isInteger(workers) || workers < 1 || total < workers) {
    throw new RangeError(`port range ${lo}-${hi} has ${total} ports, fewer than the ${workers} workers sharing it`);
  }
  if (!Number.isInteger(worker) || worker < 0 || worker >= workers)
    throw new RangeError(`worker ${worker} not in 0..${workers - 1}`);
  const first = lo + Math.floor((worker * total) / workers);
  const next = lo + Math.floor(((worker + 1) * total) / workers);
  const count = next - first;
  return { first, count, tries: Math.min(count, maxTries) };
}

/** The i-th candidate port for a flow hash. */
export function candidatePort(s: PortSlice, hash: number, i: number): number {
  return s.first + (((hash >>> 0) + i) % s.count);
}

/** Which worker's slice a port belongs to (-1 outside the range): for accounting and listings. */
export function sliceOwner(lo: number, hi: number, workers: number, port: number): number {
  if (port < lo || port > hi) return -1;
  const total = hi - lo + 1;
  // Largest w with lo + floor(w * total / workers) ≤ port.
  let w = Math.min(workers - 1, Math.floor(((port - lo + 1) * workers) / total));
  while (w > 0 && lo + Math.floor((w * total) / workers) > port) w--;
  return w;
}
