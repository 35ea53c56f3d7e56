// WireGuard, sending. Frames the router queued on WG_PORT (routes to peers' allowed IPs are
// connected routes on it) are encrypted in place once the received frame is done: the peer
// owning the destination is found by cryptokey routing (allowed IPs), its current keypair
// gives the keys and the next counter, and the transport message goes out in UDP from our
// uplink address and listen port to the peer's endpoint, routed and sent to the neighbour like
// any frame (outer headers written into the headroom; padding and tag after the packet).
//
// Without a usable keypair (none yet, expired, counter exhausted) the packet goes to the
// control thread, which queues it (up to 128 per peer, as wireguard-go stages them) and
// starts a handshake; the workers hand over at most STAGED_PER_ASK packets per peer between
// two takes of the control thread (or per REKEY_TIMEOUT if it takes none). Datagrams the control thread wants sent
// (handshake messages,
// keepalives, queued packets it encrypted) come through this worker's ring and leave the same way.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { sendToNeighbour, transmit, SEND_WIREGUARD } from './output.js';
import { TX_PER_PORT } from './tx.js';
import type { WgWorker } from './wg-worker.js';
import {
  SLOT_LIVE,
  K_STATE,
  K_REMOTE_INDEX,
  K_SEND_KEY,
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
  P_ASKED_AT,
  P_ASK_COUNT,
  STAGED_PER_ASK,
  SET_PEER_LIMIT,
  A_DATA_SENT,
  A_TX_BYTES,
  A_AUTH_SENT,
  MSG_NEED_SESSION,
  MSG_SEND,
  RING_META_WORDS,
  SLOT_WORDS,
} from '../wireguard/dataplane-tables.js';
import { REJECT_AFTER_TIME, REKEY_TIMEOUT, TRANSPORT_HEADER_SIZE, AEAD_TAG_LEN } from '../wireguard/constants.js';
import { counterBelowReject } from '../wireguard/replay.js';
import { lock, unlock } from '../wireguard/spinlock.js';
import { writeWgTransportHeader, wgPaddedLength } from '../wire/wireguard.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV4_DST, IPPROTO_UDP, writeIpv4Header } from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_DST, writeIpv6Header } from '../wire/ipv6.js';
import { UDP_HLEN, writeUdpHeader } from '../wire/udp.js';
import { sum16, finish, pseudoSum6 } from '../wire/checksum.js';
import { put16, copy, wordsToBytes, wordsEqualBytes } from '../wire/bytes.js';
import { ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_CONNECTED, ROUTE_VIA, WG_PORT } from '../tables/layout.js';
import { PORT_KIND_UPLINK } from '../tables/port-table.js';

const nexthop = new Uint8Array(16);

/** Wall-clock milliseconds, as the control thread writes keypair creation times. */
export function wallNow(dp: Datapath): number {
  return performance.timeOrigin + dp.now;
}

/** Encrypts and sends everything queued on WG_PORT, then empties that queue. */
export function wgFlush(dp: Datapath): void {
  const tx = dp.tx;
  const n = tx.count[WG_PORT];
  const base = WG_PORT * TX_PER_PORT * 2;
  const w = dp.wg!;
  for (let i = 0; i < n; i++) {
    encryptAndSend(dp, w, tx.desc[base + 2 * i], tx.desc[base + 2 * i + 1], w.forcedPeer[i]);
    w.forcedPeer[i] = -1;
  }
  tx.clear(WG_PORT);
}

/**
 * Queues the frame at off for peer `peer` whatever its destination: an egress redirect to the
 * gateway node rides the node-to-node tunnel, its inner destination being outside the cluster.
 */
export function wgSendToPeer(dp: Datapath, peer: number, off: number, len: number, kind: number): void {
  const i = dp.tx.count[WG_PORT];
  transmit(dp, WG_PORT, off, len, kind);
  // A super-frame is queued as its segments: every one goes to the peer.
  for (let k = i; k < dp.tx.count[WG_PORT]; k++) dp.wg!.forcedPeer[k] = peer;
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

function encryptAndSend(dp: Datapath, w: WgWorker, f: number, len: number, forced: number): void {
  const b = dp.arena.bytes;
  const t = w.t;
  const ip = f + ETH_HLEN;
  const ipLen = len - ETH_HLEN;
  const family = ((b[f + ETH_TYPE] << 8) | b[f + ETH_TYPE + 1]) === ETHERTYPE_IPV6 ? 6 : 4;
  const peer =
    forced >= 0
      ? forced
      : t.allowed.lookup(family, b, ip + (family === 4 ? IPV4_DST : IPV6_DST), w.lookup) < 0
        ? -1
        : w.lookup[0];
  if (peer < 0 || peer >= t.maxPeers) {
    dp.ctr[C.wgNoPeer]++;
    return;
  }
  const pw = peer * PEER_WORDS;
  const slot = Atomics.load(t.peers, pw + P_CURRENT);
  const now = wallNow(dp);
  const sb = slot * SLOT_WORDS;
  if (
    slot < 0 ||
    slot >= t.slotCount ||
    Atomics.load(t.slotWords, sb + K_STATE) !== SLOT_LIVE ||
    now - t.createdWallMs(slot) >= REJECT_AFTER_TIME
  ) {
    askForSession(dp, w, peer, ip, ipLen, now);
    return;
  }
  // The slot's end bounds the padding and the tag (frames start HEADROOM into fixed-size slots).
  const slotEnd = dp.arena.slotEndOf(f);
  const padded = wgPaddedLength(ipLen, w.mtu());
  if (ip + padded + AEAD_TAG_LEN > slotEnd) {
    dp.ctr[C.wgNoRoom]++;
    return;
  }
  if (!readEndpoint(w, pw)) {
    dp.ctr[C.wgNoEndpoint]++;
    return;
  }
  // A counter no other thread will ever use with these keys.
  const sw = t.slotWords;
  lock(sw, sb + K_SHARED);
  const hi = sw[sb + K_SHARED + 1] >>> 0;
  const lo = sw[sb + K_SHARED + 2] >>> 0;
  if (!counterBelowReject(hi, lo)) {
    unlock(sw, sb + K_SHARED);
    askForSession(dp, w, peer, ip, ipLen, now);
    return;
  }
  if (lo === 0xffffffff) {
    sw[sb + K_SHARED + 1] = (hi + 1) | 0;
    sw[sb + K_SHARED + 2] = 0;
  } else sw[sb + K_SHARED + 2] = (lo + 1) | 0;
  unlock(sw, sb + K_SHARED);

  b.fill(0, ip + ipLen, ip + padded);
  const msg = ip - TRANSPORT_HEADER_SIZE;
  writeWgTransportHeader(b, msg, sw[sb + K_REMOTE_INDEX] >>> 0, hi, lo);
  w.native.aeadSeal(t.slotBytes, (sb + K_SEND_KEY) * 4, b, ip, padded, lo, hi);
  const msgLen = TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_LEN;
  if (sendDatagram(dp, w, msg, msgLen)) {
    const a = w.activityAt(peer);
    t.activity[a + A_DATA_SENT] = now;
    t.activity[a + A_AUTH_SENT] = now;
    t.activity[a + A_TX_BYTES] += msgLen;
  }
}

/**
 * Hands the plaintext to the control thread: at most STAGED_PER_ASK packets per peer until the
 * control thread takes them (it then clears P_ASKED_AT), or until REKEY_TIMEOUT has passed.
 */
function askForSession(dp: Datapath, w: WgWorker, peer: number, ip: number, ipLen: number, now: number): void {
  const t = w.t;
  const at = peer * PEER_WORDS + P_ASKED_AT;
  const count = peer * PEER_WORDS + P_ASK_COUNT;
  // Seconds of wall time, so it fits a word; a race between workers only sends a few more.
  const sec = Math.floor(now / 1000) | 0;
  const asked = Atomics.load(t.peers, at);
  if (asked !== 0 && sec - asked < REKEY_TIMEOUT / 1000) {
    if (Atomics.add(t.peers, count, 1) >= STAGED_PER_ASK) {
      dp.ctr[C.wgNoSessionDropped]++;
      return;
    }
  } else {
    Atomics.store(t.peers, count, 1);
    Atomics.store(t.peers, at, sec);
  }
  w.meta.fill(0);
  w.meta[0] = peer;
  const wasEmpty = w.toControl.peek() < 0;
  if (w.toControl.pushWithMeta(w.meta, RING_META_WORDS, dp.arena.bytes, ip, ipLen, MSG_NEED_SESSION)) {
    dp.ctr[C.wgQueuedForSession]++;
    // The handshake starts within a turn of the control thread's event loop, not its next tick.
    if (wasEmpty) w.notifyControl();
  } else dp.ctr[C.wgControlRingFull]++;
}

/** The peer's endpoint into w.endpoint / w.epFamily / w.epPort; false when it has none. */
function readEndpoint(w: WgWorker, pw: number): boolean {
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

/**
 * Wraps the WireGuard message at b[msg, msg+msgLen) in UDP and IP toward w's endpoint
 * (w.epFamily, w.epPort, w.endpoint), from the egress uplink's address and our listen port,
 * and sends it to the neighbour. False when there is no route (counted).
 */
function sendDatagram(dp: Datapath, w: WgWorker, msg: number, msgLen: number): boolean {
  const b = dp.arena.bytes;
  const fam = w.epFamily;
  const r = dp.route;
  if (
    dp.routes.lookup(fam as 4 | 6, w.endpoint, 0, r) < 0 ||
    (r[ROUTE_TYPE] !== ROUTE_CONNECTED && r[ROUTE_TYPE] !== ROUTE_VIA)
  ) {
    dp.ctr[C.wgNoRoute]++;
    return false;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out) || dp.ports.kind(out) !== PORT_KIND_UPLINK) {
    dp.ctr[C.wgNoRoute]++;
    return false;
  }
  const udp = msg - UDP_HLEN;
  const udpLen = UDP_HLEN + msgLen;
  const pb = dp.ports.bytes;
  let ipOff: number;
  if (fam === 4) {
    ipOff = udp - 20;
    writeIpv4Header(b, ipOff, 20 + udpLen, 0, true, 64, IPPROTO_UDP, pb, dp.ports.ipv4Off(out), w.endpoint, 0);
    // A zero UDP checksum is allowed over IPv4 (RFC 768) and saves a pass over the message.
    writeUdpHeader(b, udp, w.listenPort(), w.epPort, udpLen, 0);
  } else {
    ipOff = udp - IPV6_HLEN;
    writeIpv6Header(b, ipOff, udpLen, IPPROTO_UDP, 64, pb, dp.ports.ipv6Off(out), w.endpoint, 0);
    writeUdpHeader(b, udp, w.listenPort(), w.epPort, udpLen, 0);
    const c = finish(sum16(b, udp, udpLen, pseudoSum6(b, ipOff, IPPROTO_UDP, udpLen)));
    put16(b, udp + 6, c === 0 ? 0xffff : c);
  }
  const eth = ipOff - ETH_HLEN;
  put16(b, eth + ETH_TYPE, fam === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  let nh = w.endpoint;
  if (r[ROUTE_TYPE] === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, nexthop, fam === 6 ? 4 : 1);
    nh = nexthop;
  }
  sendToNeighbour(dp, out, fam, nh, 0, eth, ETH_HLEN + (fam === 4 ? 20 : IPV6_HLEN) + udpLen, SEND_WIREGUARD);
  return true;
}

/** Sends the datagrams the control thread queued for this worker (handshakes, keepalives...). */
export function wgServiceControl(dp: Datapath): void {
  const w = dp.wg!;
  const ring = w.fromControl;
  const a = dp.arena;
  const b = a.bytes;
  const metaBytes = RING_META_WORDS * 4;
  for (;;) {
    const need = ring.peek();
    if (need < 0) return;
    const f = a.allocGen();
    if (f < 0) return; // no room this batch: next time
    // The payload lands where an IPv6 frame would carry it; an IPv4 frame simply starts later.
    const payload = f + ETH_HLEN + IPV6_HLEN + UDP_HLEN;
    const at = payload - metaBytes;
    if (need > a.maxFrameLen() - (ETH_HLEN + IPV6_HLEN + UDP_HLEN) + metaBytes || ring.pop(b, at) < 0) {
      ring.pop(dp.wg!.spill, 0); // oversized (never made by the control thread): skip it
      continue;
    }
    const len = need - metaBytes;
    const fam = get32(b, at);
    w.epFamily = fam;
    w.epPort = get32(b, at + 4);
    copy(w.endpoint, 0, b, at + 8, 16);
    if (ring.lastTag !== MSG_SEND || (fam !== 4 && fam !== 6)) continue;
    if (sendDatagram(dp, w, payload, len)) dp.ctr[C.wgControlSent]++;
  }
}

function get32(b: Uint8Array, o: number): number {
  // Ring meta words are native-endian Int32 (little-endian here).
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}
