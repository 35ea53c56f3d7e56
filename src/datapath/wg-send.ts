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
import { sendToNeighbour, transmit, SEND_WIREGUARD, SEND_WG_TRAIN } from './output.js';
import { TX_PER_PORT } from './tx.js';
import { HEADROOM, SEG_SLOTS } from './arena.js';
import {
  segLen,
  VIRTIO_NEEDS_CSUM,
  VIRTIO_GSO_NONE,
  VIRTIO_GSO_ECN,
  VIRTIO_GSO_TCPV4,
  VIRTIO_GSO_TCPV6,
  VIRTIO_GSO_UDP_L4,
} from './superframe.js';
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
import { UDP_HLEN, UDP_CSUM, writeUdpHeader } from '../wire/udp.js';
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
import { sum16, finish, pseudoSum6 } from '../wire/checksum.js';
import { get16, put16, copy, wordsToBytes, wordsEqualBytes } from '../wire/bytes.js';
import { ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_CONNECTED, ROUTE_VIA, WG_PORT } from '../tables/layout.js';
import { PORT_KIND_UPLINK, PORT_USO } from '../tables/port-table.js';

/** The most IP bytes of a train (the receiver's 64 KB slot), and the most messages in one (UDP_MAX_SEGMENTS). */
const MAX_IP = 65535;
const TRAIN_MAX = 64;
/** Each message's plaintext length for the one-call seal. */
const sealLen = new Int32Array(SEG_SLOTS);

const nexthop = new Uint8Array(16);

/** Wall-clock milliseconds, as the control thread writes keypair creation times. */
export function wallNow(dp: Datapath): number {
  return performance.timeOrigin + dp.now;
}

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
function peerOf(dp: Datapath, w: WgWorker, f: number, forced: number): number {
  if (forced >= 0) return forced < w.t.maxPeers ? forced : -1;
  const b = dp.arena.bytes;
  const family = get16(b, f + ETH_TYPE) === ETHERTYPE_IPV6 ? 6 : 4;
  const dst = f + ETH_HLEN + (family === 4 ? IPV4_DST : IPV6_DST);
  if (w.t.allowed.lookup(family, b, dst, w.lookup) < 0) return -1;
  return w.lookup[0] < w.t.maxPeers ? w.lookup[0] : -1;
}

/** The peer's current keypair slot when it may send now; -1 when a session must be made first. */
function sendingSlot(w: WgWorker, peer: number, now: number): number {
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
 * counterHi / counterLo. False when they would reach REJECT_AFTER_MESSAGES (a new session is due).
 */
function takeCounters(w: WgWorker, slot: number, n: number): boolean {
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
  counterHi = hi;
  counterLo = lo;
  return ok;
}
let counterHi = 0;
let counterLo = 0;

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
  writeWgTransportHeader(b, msg, t.slotWords[sb + K_REMOTE_INDEX] >>> 0, counterHi, counterLo);
  w.native.aeadSeal(t.slotBytes, (sb + K_SEND_KEY) * 4, b, ip, padded, counterLo, counterHi);
  const msgLen = TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_LEN;
  if (sendDatagram(dp, w, msg, msgLen)) sentActivity(w, peer, now, msgLen);
}

function sentActivity(w: WgWorker, peer: number, now: number, bytes: number): void {
  const a = w.activityAt(peer);
  w.t.activity[a + A_DATA_SENT] = now;
  w.t.activity[a + A_AUTH_SENT] = now;
  w.t.activity[a + A_TX_BYTES] += bytes;
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
  let hi = counterHi;
  let lo = counterLo;
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

/** The uplink toward w's endpoint (w.epFamily, w.endpoint), its next hop in `nexthop`; -1 if none. */
function endpointRoute(dp: Datapath, w: WgWorker): number {
  const fam = w.epFamily;
  const r = dp.route;
  if (
    dp.routes.lookup(fam as 4 | 6, w.endpoint, 0, r) < 0 ||
    (r[ROUTE_TYPE] !== ROUTE_CONNECTED && r[ROUTE_TYPE] !== ROUTE_VIA)
  ) {
    return -1;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out) || dp.ports.kind(out) !== PORT_KIND_UPLINK) return -1;
  if (r[ROUTE_TYPE] === ROUTE_VIA) wordsToBytes(r, ROUTE_NEXTHOP, nexthop, fam === 6 ? 4 : 1);
  else copy(nexthop, 0, w.endpoint, 0, 16);
  return out;
}

/**
 * Writes the UDP and IP headers of a datagram of udpLen bytes toward w's endpoint in front of
 * b[msg...], from out's address and our listen port; returns the IP header's offset. The UDP
 * checksum: none over IPv4 (RFC 768 allows it; it saves a pass over the message), computed
 * over IPv6 — or, for a train (partial), only the pseudo-header sum, left to the device.
 */
function writeOuter(dp: Datapath, w: WgWorker, out: number, msg: number, udpLen: number, partial: boolean): number {
  const b = dp.arena.bytes;
  const fam = w.epFamily;
  const udp = msg - UDP_HLEN;
  const pb = dp.ports.bytes;
  let ipOff: number;
  if (fam === 4) {
    ipOff = udp - 20;
    writeIpv4Header(b, ipOff, 20 + udpLen, 0, true, 64, IPPROTO_UDP, pb, dp.ports.ipv4Off(out), w.endpoint, 0);
  } else {
    ipOff = udp - IPV6_HLEN;
    writeIpv6Header(b, ipOff, udpLen, IPPROTO_UDP, 64, pb, dp.ports.ipv6Off(out), w.endpoint, 0);
  }
  writeUdpHeader(b, udp, w.listenPort(), w.epPort, udpLen, 0);
  if (partial) {
    const s = fam === 4 ? sum16(b, ipOff + 12, 8, IPPROTO_UDP + udpLen) : pseudoSum6(b, ipOff, IPPROTO_UDP, udpLen);
    put16(b, udp + 6, ~finish(s) & 0xffff); // the folded sum, not its complement
  } else if (fam === 6) {
    const c = finish(sum16(b, udp, udpLen, pseudoSum6(b, ipOff, IPPROTO_UDP, udpLen)));
    put16(b, udp + 6, c === 0 ? 0xffff : c);
  }
  put16(b, ipOff - ETH_HLEN + ETH_TYPE, fam === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  return ipOff;
}

/**
 * Wraps the WireGuard message at b[msg, msg+msgLen) in UDP and IP toward w's endpoint
 * (w.epFamily, w.epPort, w.endpoint), from the egress uplink's address and our listen port,
 * and sends it to the neighbour. False when there is no route (counted).
 */
function sendDatagram(dp: Datapath, w: WgWorker, msg: number, msgLen: number): boolean {
  const out = endpointRoute(dp, w);
  if (out < 0) {
    dp.ctr[C.wgNoRoute]++;
    return false;
  }
  const udpLen = UDP_HLEN + msgLen;
  const eth = writeOuter(dp, w, out, msg, udpLen, false) - ETH_HLEN;
  const len = msg + msgLen - eth;
  sendToNeighbour(dp, out, w.epFamily, nexthop, 0, eth, len, SEND_WIREGUARD);
  return true;
}

/**
 * Sends the count messages at msg0 (stride `full`, the last lastLen bytes) as one UDP GSO
 * super-frame toward w's endpoint through out, a port with USO: the kernel, or the receiving
 * Weft, cuts it into one datagram per message.
 */
function sendTrain(
  dp: Datapath,
  w: WgWorker,
  out: number,
  msg0: number,
  count: number,
  full: number,
  lastLen: number,
): boolean {
  const udpLen = UDP_HLEN + (count - 1) * full + lastLen;
  const ipOff = writeOuter(dp, w, out, msg0, udpLen, true);
  const eth = ipOff - ETH_HLEN;
  const v = dp.vnet;
  v[VNET_FLAGS] = VIRTIO_NEEDS_CSUM;
  v[VNET_GSO_TYPE] = VIRTIO_GSO_UDP_L4;
  v[VNET_HDR_LEN] = msg0 - eth;
  v[VNET_GSO_SIZE] = full;
  v[VNET_CSUM_START] = msg0 - UDP_HLEN - eth;
  v[VNET_CSUM_OFFSET] = UDP_CSUM;
  // Where the train's headers end, should it have to be cut in software after all (superframe.ts).
  dp.gsoKind = w.epFamily === 4 ? GSO_UDP4 : GSO_UDP6;
  dp.gsoL4 = v[VNET_CSUM_START];
  dp.gsoPayload = v[VNET_HDR_LEN];
  sendToNeighbour(dp, out, w.epFamily, nexthop, 0, eth, msg0 - eth + udpLen - UDP_HLEN, SEND_WG_TRAIN);
  v.fill(0);
  dp.ctr[C.wgTrainsSent]++;
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
