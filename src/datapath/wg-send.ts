// WireGuard, sending. Frames the router queued on WG_PORT (routes to peers' allowed IPs are
// connected routes on it) are encrypted in place once the received frame is done: the peer
// owning the destination is found by cryptokey routing (allowed IPs), its current keypair
// gives the keys and the next counter, and the transport message goes out in UDP from our
// uplink address and listen port to the peer's endpoint, routed and sent to the neighbour like
// any frame (outer headers written into the headroom; padding and tag after the packet).
//
// A super-frame's segments are sealed in one call and leave as trains where the uplink takes
// them (docs/offloads.md). Keys and counters: wg-keys.ts; the datagrams: wg-datagram.ts.
//
// Without a usable keypair (none yet, expired, counter exhausted) the packet goes to the
// control thread, which queues it (up to 128 per peer, as wireguard-go stages them) and
// starts a handshake; the workers hand over at most STAGED_PER_ASK packets per peer between
// two takes of the control thread (or per REKEY_TIMEOUT if it takes none). Datagrams the
// control thread wants sent (handshake messages, keepalives, queued packets it encrypted) come
// through this worker's ring and leave the same way.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { transmit } from './output.js';
import { TX_PER_PORT } from './tx.js';
import { HEADROOM, SEG_SLOTS } from './arena.js';
import {
  segLen,
  VIRTIO_NEEDS_CSUM,
  VIRTIO_GSO_NONE,
  VIRTIO_GSO_ECN,
  VIRTIO_GSO_TCPV4,
  VIRTIO_GSO_TCPV6,
} from './superframe.js';
import type { WgWorker } from './wg-worker.js';
import {
  K_REMOTE_INDEX,
  K_SEND_KEY,
  PEER_WORDS,
  P_ASKED_AT,
  P_ASK_COUNT,
  STAGED_PER_ASK,
  MSG_NEED_SESSION,
  MSG_SEND,
  RING_META_WORDS,
  SLOT_WORDS,
} from '../wireguard/dataplane-tables.js';
import { REKEY_TIMEOUT, TRANSPORT_HEADER_SIZE, AEAD_TAG_LEN } from '../wireguard/constants.js';
import { writeWgTransportHeader, wgPaddedLength } from '../wire/wireguard.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV6_HLEN } from '../wire/ipv6.js';
import { UDP_HLEN, UDP_CSUM } from '../wire/udp.js';
import {
  VNET_WORDS,
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
  GSO_TCP4,
  GSO_TCP6,
  GSO_UDP4,
  GSO_UDP6,
} from '../native/tap.js';
import { get16, copy } from '../wire/bytes.js';
import { WG_PORT } from '../tables/layout.js';
import { PORT_USO } from '../tables/port-table.js';

import { wallNow, peerOf, sendingSlot, takeCounters, taken, readEndpoint, sentActivity } from './wg-keys.js';
import { endpointRoute, sendDatagram, sendTrain } from './wg-datagram.js';

/** The most IP bytes of a train (the receiver's 64 KB slot), and the most messages in one (UDP_MAX_SEGMENTS). */
const MAX_IP = 65535;
const TRAIN_MAX = 64;
/** Each message's plaintext length for the one-call seal. */
const sealLen = new Int32Array(SEG_SLOTS);

/** Encrypts and sends everything queued on WG_PORT, then empties that queue. */
export function wgFlush(dp: Datapath): void {
  const tx = dp.tx;
  const n = tx.count[WG_PORT];
  const base = WG_PORT * TX_PER_PORT;
  const w = dp.wg!;
  // The received frame is done: its offload state must not ride on the datagrams (sendTrain sets its own).
  dp.vnet.fill(0);
  for (let i = 0; i < n; i++) {
    const d = base + i;
    const f = tx.desc[2 * d];
    const len = tx.desc[2 * d + 1];
    const v = d * VNET_WORDS;
    if (tx.vnet[v + VNET_GSO_TYPE] !== VIRTIO_GSO_NONE) encryptSuper(dp, w, f, len, v, w.forcedPeer[i]);
    else {
      if ((tx.vnet[v + VNET_FLAGS] & VIRTIO_NEEDS_CSUM) !== 0) finishQueuedChecksum(dp, f, len, v);
      encryptAndSend(dp, w, f, len, w.forcedPeer[i]);
    }
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

function encryptAndSend(dp: Datapath, w: WgWorker, f: number, len: number, forced: number): void {
  const b = dp.arena.bytes;
  const t = w.t;
  const ip = f + ETH_HLEN;
  const ipLen = len - ETH_HLEN;
  const peer = peerOf(dp, w, f, forced);
  if (peer < 0) {
    dp.ctr[C.wgNoPeer]++;
    return;
  }
  const pw = peer * PEER_WORDS;
  const now = wallNow(dp);
  const slot = sendingSlot(w, peer, now);
  if (slot < 0) {
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
  if (!takeCounters(w, slot, 1)) {
    askForSession(dp, w, peer, ip, ipLen, now);
    return;
  }
  const sb = slot * SLOT_WORDS;
  b.fill(0, ip + ipLen, ip + padded);
  const msg = ip - TRANSPORT_HEADER_SIZE;
  writeWgTransportHeader(b, msg, t.slotWords[sb + K_REMOTE_INDEX] >>> 0, taken.hi, taken.lo);
  w.native.aeadSeal(t.slotBytes, (sb + K_SEND_KEY) * 4, b, ip, padded, taken.lo, taken.hi);
  const msgLen = TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_LEN;
  if (sendDatagram(dp, w, msg, msgLen)) sentActivity(w, peer, now, msgLen);
}

/** A queued frame whose L4 checksum was left to the device (its virtio header at tx.vnet[v]): finished. */
function finishQueuedChecksum(dp: Datapath, f: number, len: number, v: number): void {
  const tv = dp.tx.vnet;
  const start = f + tv[v + VNET_CSUM_START];
  const field = start + tv[v + VNET_CSUM_OFFSET];
  if (start < f || field + 2 > f + len) return; // checked at receive: cannot happen
  dp.native.csumFill(dp.arena.bytes, start, f + len, field, tv[v + VNET_CSUM_OFFSET] === UDP_CSUM);
  dp.ctr[C.checksumsFinished]++;
}

/**
 * A GSO super-frame for a peer (its virtio header at tx.vnet[v]): cut into segments laid out as
 * WireGuard messages (native gsoSplit writes each inner packet where its message's plaintext
 * goes), all sealed in one native call with consecutive counters, and sent as UDP GSO trains
 * of messages (under 64 KB each) where the uplink takes USO, else one datagram per message.
 * Anything out of the ordinary (no session yet, no endpoint, no room) takes the per-packet way
 * with the segments.
 */
function encryptSuper(dp: Datapath, w: WgWorker, f: number, len: number, v: number, forced: number): void {
  const tv = dp.tx.vnet;
  const b = dp.arena.bytes;
  const a = dp.arena;
  const t = w.t;
  const peer = peerOf(dp, w, f, forced);
  if (peer < 0) {
    dp.ctr[C.wgNoPeer]++;
    return;
  }
  const size = tv[v + VNET_GSO_SIZE];
  const hdrLen = tv[v + VNET_HDR_LEN];
  const l4 = tv[v + VNET_CSUM_START];
  const type = tv[v + VNET_GSO_TYPE] & ~VIRTIO_GSO_ECN;
  const v6 = get16(b, f + ETH_TYPE) === ETHERTYPE_IPV6;
  const kind = type === VIRTIO_GSO_TCPV4 ? GSO_TCP4 : type === VIRTIO_GSO_TCPV6 ? GSO_TCP6 : v6 ? GSO_UDP6 : GSO_UDP4;
  const n = Math.ceil((len - hdrLen) / size);
  const now = wallNow(dp);
  const slot = sendingSlot(w, peer, now);
  const out = slot >= 0 && readEndpoint(w, peer * PEER_WORDS) ? endpointRoute(dp, w) : -1;
  const mtu = w.mtu();
  const full = TRANSPORT_HEADER_SIZE + wgPaddedLength(hdrLen - ETH_HLEN + size, mtu) + AEAD_TAG_LEN;
  const uso = out >= 0 && (dp.ports.flags(out) & PORT_USO) !== 0;
  const outerIp = w.epFamily === 4 ? 20 : IPV6_HLEN;
  // A train's IP packet stays within 64 KB (the receiver's slot), and its messages within 64.
  const perTrain = uso ? Math.min(TRAIN_MAX, Math.floor((MAX_IP - outerIp - UDP_HLEN) / full)) : n;
  const stride = uso ? full : a.segStride;
  if (out < 0 || n > SEG_SLOTS / 2 || full + HEADROOM > a.segStride || !takeCounters(w, slot, n)) {
    segmentsOneByOne(dp, w, f, len, v, kind, forced);
    return;
  }
  const sb = slot * SLOT_WORDS;
  const index = t.slotWords[sb + K_REMOTE_INDEX] >>> 0;
  let hi = taken.hi;
  let lo = taken.lo;
  let sent = 0;
  for (let from = 0; from < n; ) {
    const k = Math.min(perTrain, n - from);
    const slots = uso ? Math.ceil((k * full + HEADROOM) / a.segStride) : k;
    const msg0 = a.allocSegs(slots);
    if (msg0 < 0) {
      dp.ctr[C.wgNoRoom] += n - from;
      break;
    }
    const made = dp.native.gsoSplit(
      b,
      f,
      len,
      kind,
      f + ETH_HLEN,
      f + l4,
      f + hdrLen,
      size,
      msg0 + TRANSPORT_HEADER_SIZE - ETH_HLEN,
      stride,
      k,
      segLen,
      0,
      from,
    );
    dp.ctr[C.segmentsMade] += made;
    for (let j = 0; j < made; j++) {
      const msg = msg0 + j * stride;
      const ipLen = segLen[j] - ETH_HLEN;
      const padded = wgPaddedLength(ipLen, mtu);
      b.fill(0, msg + TRANSPORT_HEADER_SIZE + ipLen, msg + TRANSPORT_HEADER_SIZE + padded);
      const c = lo + j;
      writeWgTransportHeader(b, msg, index, c > 0xffffffff ? hi + 1 : hi, c >>> 0);
      sealLen[j] = padded;
    }
    w.native.aeadSealMany(
      t.slotBytes,
      (sb + K_SEND_KEY) * 4,
      b,
      msg0 + TRANSPORT_HEADER_SIZE,
      stride,
      sealLen,
      0,
      made,
      lo,
      hi,
    );
    const lastLen = TRANSPORT_HEADER_SIZE + sealLen[made - 1] + AEAD_TAG_LEN;
    if (uso && made > 1) {
      if (sendTrain(dp, w, out, msg0, made, full, lastLen)) sent += (made - 1) * full + lastLen;
    } else {
      for (let j = 0; j < made; j++) {
        const msgLen = TRANSPORT_HEADER_SIZE + sealLen[j] + AEAD_TAG_LEN;
        if (sendDatagram(dp, w, msg0 + j * stride, msgLen)) sent += msgLen;
      }
    }
    const c = lo + made;
    if (c > 0xffffffff) hi++;
    lo = c >>> 0;
    from += made;
  }
  if (sent > 0) sentActivity(w, peer, now, sent);
}

/** The super-frame's segments into the segment area, then each the per-packet way. */
function segmentsOneByOne(
  dp: Datapath,
  w: WgWorker,
  f: number,
  len: number,
  v: number,
  kind: number,
  forced: number,
): void {
  const tv = dp.tx.vnet;
  const n = Math.ceil((len - tv[v + VNET_HDR_LEN]) / tv[v + VNET_GSO_SIZE]);
  const first = n <= SEG_SLOTS / 2 ? dp.arena.allocSegs(n) : -1;
  if (first < 0) {
    dp.ctr[C.dropSuperFrameSegments]++;
    return;
  }
  const stride = dp.arena.segStride;
  const made = dp.native.gsoSplit(
    dp.arena.bytes,
    f,
    len,
    kind,
    f + ETH_HLEN,
    f + tv[v + VNET_CSUM_START],
    f + tv[v + VNET_HDR_LEN],
    tv[v + VNET_GSO_SIZE],
    first,
    stride,
    n,
    segLen,
    0,
  );
  dp.ctr[C.segmentsMade] += made;
  for (let j = 0; j < made; j++) encryptAndSend(dp, w, first + j * stride, segLen[j], forced);
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
