// A peer's rows in WireGuard's shared memory (dataplane-tables.ts) as the control thread keeps
// them: the peer row (active, current slot, endpoint under its lock and generation, underlay
// addresses) and the workers' activity rows, read as "what happened since the last look".
import {
  type WgShared,
  PEER_WORDS,
  P_ACTIVE,
  P_CURRENT,
  P_EP_LOCK,
  P_EP_GEN,
  P_EP_FAMILY,
  P_EP_PORT,
  P_EP_ADDR,
  P_ASKED_AT,
  P_NODE4,
  P_NODE6,
  ACT_WORDS,
  A_DATA_SENT,
  A_DATA_RECV,
  A_AUTH_RECV,
  A_TX_BYTES,
  A_RX_BYTES,
  A_AUTH_SENT,
  SET_PEER_LIMIT,
} from './dataplane-tables.js';
import { lock, unlock } from './spinlock.js';
import { parseAddress, formatAddress } from '../wire/addr.js';
import type { Endpoint, DataplaneActivity } from './tunnel.js';

/** Starts row `index` afresh (no keys, no activity, this endpoint), then makes it active. */
export function openPeerRow(t: WgShared, index: number, workers: number, ep: Endpoint | null): void {
  const pw = index * PEER_WORDS;
  t.peers.fill(0, pw, pw + PEER_WORDS);
  Atomics.store(t.peers, pw + P_CURRENT, -1);
  // Activity rows start at zero, as the device's record of what it has seen does.
  for (let w = 0; w < workers; w++) t.activity.fill(0, t.activityAt(w, index), t.activityAt(w, index) + ACT_WORDS);
  writeEndpoint(t, index, ep);
  Atomics.store(t.peers, pw + P_ACTIVE, 1);
  if (index >= Atomics.load(t.settings, SET_PEER_LIMIT)) Atomics.store(t.settings, SET_PEER_LIMIT, index + 1);
}

/** The workers stop using row `index`: inactive, nothing to send with. */
export function closePeerRow(t: WgShared, index: number): void {
  const pw = index * PEER_WORDS;
  Atomics.store(t.peers, pw + P_ACTIVE, 0);
  Atomics.store(t.peers, pw + P_CURRENT, -1);
}

/** The keypair slot the workers send with (-1: none). */
export function setCurrentSlot(t: WgShared, index: number, slot: number): void {
  Atomics.store(t.peers, index * PEER_WORDS + P_CURRENT, slot);
}

/** The control thread took the peer's request for a session: a worker may ask again. */
export function clearSessionAsked(t: WgShared, index: number): void {
  Atomics.store(t.peers, index * PEER_WORDS + P_ASKED_AT, 0);
}

/** Writes the endpoint under the row's lock; with onlyIfChanged, leaves an equal one alone. */
export function writeEndpoint(t: WgShared, index: number, ep: Endpoint | null, onlyIfChanged = false): void {
  const pw = index * PEER_WORDS;
  const pe = t.peers;
  const a = ep ? parseAddress(ep.address) : null;
  const fam = a ? a.family : 0;
  if (
    onlyIfChanged &&
    fam === pe[pw + P_EP_FAMILY] &&
    ep &&
    ep.port === pe[pw + P_EP_PORT] &&
    a &&
    sameAddr(pe, pw + P_EP_ADDR, a.bytes)
  )
    return;
  lock(pe, pw + P_EP_LOCK);
  Atomics.add(pe, pw + P_EP_GEN, 1);
  pe[pw + P_EP_FAMILY] = fam;
  pe[pw + P_EP_PORT] = ep?.port ?? 0;
  for (let i = 0; i < 4; i++) {
    const b = a?.bytes;
    pe[pw + P_EP_ADDR + i] = b && 4 * i < b.length ? word(b, i) : 0;
  }
  Atomics.add(pe, pw + P_EP_GEN, 1);
  unlock(pe, pw + P_EP_LOCK);
}

/** The endpoint in the row (a worker moves it when an authenticated packet comes from elsewhere). */
export function readEndpoint(t: WgShared, index: number): Endpoint | null {
  const pw = index * PEER_WORDS;
  const pe = t.peers;
  const fam = pe[pw + P_EP_FAMILY];
  if (fam !== 4 && fam !== 6) return null;
  const bytes = new Uint8Array(fam === 4 ? 4 : 16);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (pe[pw + P_EP_ADDR + (i >> 2)] >>> (24 - 8 * (i & 3))) & 255;
  return { address: formatAddress({ family: fam, bytes }), port: pe[pw + P_EP_PORT] };
}

/** A cluster node peer's underlay addresses (egress redirects find the gateway's peer by them). */
export function writeNodeAddresses(t: WgShared, index: number, v4: Uint8Array | null, v6: Uint8Array | null): void {
  const pw = index * PEER_WORDS;
  Atomics.store(t.peers, pw + P_NODE4, v4 ? word(v4, 0) : 0);
  for (let i = 0; i < 4; i++) Atomics.store(t.peers, pw + P_NODE6 + i, v6 ? word(v6, i) : 0);
}

/**
 * Sums the workers' activity rows for peer `index` since the last call; `seen` (workers ×
 * ACT_WORDS) holds what was handed on already and is brought up to date. Null: nothing happened.
 */
export function collectActivity(
  t: WgShared,
  index: number,
  workers: number,
  seen: Float64Array,
): DataplaneActivity | null {
  let dataSent = false,
    dataReceived = false,
    authReceived = false,
    authSent = false,
    rx = 0,
    tx = 0;
  const act = t.activity;
  for (let w = 0; w < workers; w++) {
    const a = t.activityAt(w, index);
    const s = w * ACT_WORDS;
    if (act[a + A_DATA_SENT] !== seen[s + A_DATA_SENT]) dataSent = true;
    if (act[a + A_DATA_RECV] !== seen[s + A_DATA_RECV]) dataReceived = true;
    if (act[a + A_AUTH_RECV] !== seen[s + A_AUTH_RECV]) authReceived = true;
    if (act[a + A_AUTH_SENT] !== seen[s + A_AUTH_SENT]) authSent = true;
    tx += act[a + A_TX_BYTES] - seen[s + A_TX_BYTES];
    rx += act[a + A_RX_BYTES] - seen[s + A_RX_BYTES];
    for (let k = 0; k < ACT_WORDS; k++) seen[s + k] = act[a + k];
  }
  if (!dataSent && !dataReceived && !authReceived && !authSent && rx === 0 && tx === 0) return null;
  return { dataSent, dataReceived, authReceived, authSent, rxBytes: rx, txBytes: tx };
}

/** Big-endian word i of an address. */
function word(b: Uint8Array, i: number): number {
  return (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3];
}

function sameAddr(words: Int32Array, at: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length / 4; i++) if (words[at + i] !== word(bytes, i)) return false;
  return true;
}
