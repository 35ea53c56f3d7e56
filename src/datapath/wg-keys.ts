// WireGuard, sending: whose keys and which counters. The peer a frame goes to (cryptokey
// routing, or a forced peer), its current keypair while it may send, counters taken under the
// keypair's lock, the peer's endpoint as the control thread last wrote it, and the activity
// the timers read.
import type { Datapath } from './state.js';
import type { WgWorker } from './wg-worker.js';
import {
  SLOT_LIVE,
  K_STATE,
  K_SHARED,
  PEER_WORDS,
  P_ACTIVE,
  P_CURRENT,
  P_NODE4,
  P_NODE6,
  P_EP_GEN,
  P_EP_FAMILY,
  P_EP_PORT,
  P_EP_ADDR,
  SET_PEER_LIMIT,
  A_DATA_SENT,
  A_TX_BYTES,
  A_AUTH_SENT,
  SLOT_WORDS,
} from '../wireguard/dataplane-tables.js';
import { REJECT_AFTER_TIME } from '../wireguard/constants.js';
import { counterBelowReject } from '../wireguard/replay.js';
import { lock, unlock } from '../wireguard/spinlock.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV4_DST } from '../wire/ipv4.js';
import { IPV6_DST } from '../wire/ipv6.js';
import { get16, wordsToBytes, wordsEqualBytes } from '../wire/bytes.js';

/** Wall-clock milliseconds, as the control thread writes keypair creation times. */
export function wallNow(dp: Datapath): number {
  return performance.timeOrigin + dp.now;
}

/**
 * The cluster node peer one of whose underlay addresses is `addr` (family fam), whichever
 * family its tunnel runs over; -1 if none. A scan of the peer rows: clusters have few nodes.
 */
export function wgPeerOfNode(w: WgWorker, fam: number, addr: Uint8Array): number {
  const p = w.t.peers;
  const words = fam === 4 ? 1 : 4;
  const at = fam === 4 ? P_NODE4 : P_NODE6;
  const limit = Atomics.load(w.t.settings, SET_PEER_LIMIT);
  for (let peer = 0; peer < limit && peer < w.t.maxPeers; peer++) {
    const pw = peer * PEER_WORDS;
    if (p[pw + P_ACTIVE] !== 1) continue;
    if (wordsEqualBytes(p, pw + at, addr, 0, words)) return peer;
  }
  return -1;
}

/** The peer the frame at f goes to (forced, or by its destination: cryptokey routing); -1 if none. */
export function peerOf(dp: Datapath, w: WgWorker, f: number, forced: number): number {
  if (forced >= 0) return forced < w.t.maxPeers ? forced : -1;
  const b = dp.arena.bytes;
  const family = get16(b, f + ETH_TYPE) === ETHERTYPE_IPV6 ? 6 : 4;
  const dst = f + ETH_HLEN + (family === 4 ? IPV4_DST : IPV6_DST);
  if (w.t.allowed.lookup(family, b, dst, w.lookup) < 0) return -1;
  return w.lookup[0] < w.t.maxPeers ? w.lookup[0] : -1;
}

/** The peer's current keypair slot when it may send now; -1 when a session must be made first. */
export function sendingSlot(w: WgWorker, peer: number, now: number): number {
  const t = w.t;
  const slot = Atomics.load(t.peers, peer * PEER_WORDS + P_CURRENT);
  if (
    slot < 0 ||
    slot >= t.slotCount ||
    Atomics.load(t.slotWords, slot * SLOT_WORDS + K_STATE) !== SLOT_LIVE ||
    now - t.createdWallMs(slot) >= REJECT_AFTER_TIME
  ) {
    return -1;
  }
  return slot;
}

/**
 * Takes n consecutive counters no other thread will ever use with these keys: the first in
 * `taken`. False when they would reach REJECT_AFTER_MESSAGES (a new session is due).
 */
export function takeCounters(w: WgWorker, slot: number, n: number): boolean {
  const sw = w.t.slotWords;
  const at = slot * SLOT_WORDS + K_SHARED;
  lock(sw, at);
  const hi = sw[at + 1] >>> 0;
  const lo = sw[at + 2] >>> 0;
  const last = lo + n - 1;
  const ok = counterBelowReject(last > 0xffffffff ? hi + 1 : hi, last >>> 0);
  if (ok) {
    const next = lo + n;
    sw[at + 1] = (next > 0xffffffff ? hi + 1 : hi) | 0;
    sw[at + 2] = next >>> 0;
  }
  unlock(sw, at);
  taken.hi = hi;
  taken.lo = lo;
  return ok;
}
/** The first of the counters takeCounters took last. */
export const taken = { hi: 0, lo: 0 };

/** The peer's endpoint into w.endpoint / w.epFamily / w.epPort; false when it has none. */
export function readEndpoint(w: WgWorker, pw: number): boolean {
  const p = w.t.peers;
  for (let tries = 0; tries < 100; tries++) {
    const g = Atomics.load(p, pw + P_EP_GEN);
    if (g & 1) continue;
    const fam = p[pw + P_EP_FAMILY];
    w.epFamily = fam;
    w.epPort = p[pw + P_EP_PORT];
    wordsToBytes(p, pw + P_EP_ADDR, w.endpoint, fam === 6 ? 4 : 1);
    if (Atomics.load(p, pw + P_EP_GEN) === g) return fam === 4 || fam === 6;
  }
  return false;
}

export function sentActivity(w: WgWorker, peer: number, now: number, bytes: number): void {
  const a = w.activityAt(peer);
  w.t.activity[a + A_DATA_SENT] = now;
  w.t.activity[a + A_AUTH_SENT] = now;
  w.t.activity[a + A_TX_BYTES] += bytes;
}
