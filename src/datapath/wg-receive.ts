// WireGuard, receiving: UDP to our listen port on an uplink address. Transport messages are
// decrypted here, in the worker: the receiver index names the keypair slot, the keys must be
// within their lifetime, the tag must verify and only then is the counter checked against the
// shared replay window (an unauthenticated packet must not move it). The peer's endpoint
// follows the source of every authenticated packet (roaming). A keepalive ends there; a data
// packet must be one whole IPv4/IPv6 packet whose source is among the peer's allowed IPs, and
// then runs through the pipeline again as if received on WG_PORT (receive.ts). No tunnel is
// opened inside another (dropWgNested). Handshake messages (initiation,
// response, cookie reply) go to the control thread through this worker's ring.
//
// The UDP checksum is not verified: the AEAD tag authenticates every byte that matters.
import { type Datapath, VIA_TUNNEL, VIA_WIREGUARD } from './state.js';
import { C } from './counters.js';
import { wallNow } from './wg-keys.js';
import {
  SLOT_LIVE,
  SLOT_NEXT,
  SLOT_WORDS,
  K_STATE,
  K_PEER,
  K_RECV_KEY,
  K_SHARED,
  PEER_WORDS,
  P_CURRENT,
  P_EP_LOCK,
  P_EP_GEN,
  P_EP_FAMILY,
  P_EP_PORT,
  P_EP_ADDR,
  P_NODE4,
  P_NODE6,
  A_DATA_RECV,
  A_AUTH_RECV,
  A_RX_BYTES,
  MSG_HANDSHAKE,
  MSG_CONFIRMED,
  RING_META_WORDS,
} from '../wireguard/dataplane-tables.js';
import { REJECT_AFTER_TIME, MSG_TRANSPORT, TRANSPORT_HEADER_SIZE, AEAD_TAG_LEN } from '../wireguard/constants.js';
import { replayCheck, counterBelowReject } from '../wireguard/replay.js';
import { lock, unlock } from '../wireguard/spinlock.js';
import { wgCheck, getLe32, wgCounterHi, wgCounterLo } from '../wire/wireguard.js';
import { ETH_HLEN, ETH_DST, ETH_SRC, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV4_SRC, IPV4_DST } from '../wire/ipv4.js';
import { IPV6_SRC, IPV6_DST } from '../wire/ipv6.js';
import { EV_FLAGS, EV_GATEWAY, EGRESS_LOCAL, EGRESS_NO_GATEWAY, EGRESS_GATEWAY_V6 } from '../nat/egress-table.js';
import { udpLengthValid, UDP_HLEN, UDP_LEN, UDP_DST_PORT } from '../wire/udp.js';
import { get16, get32, put16, copy, wordsEqualBytes } from '../wire/bytes.js';
import { WG_PORT } from '../tables/layout.js';
import { VNET_GSO_SIZE } from '../native/tap.js';
import { clearSuper } from './superframe.js';
import { type WgWorker, TRAIN_OPEN_MAX } from './wg-worker.js';
import { PORT_KIND_UPLINK } from '../tables/port-table.js';

/** The shortest transport message: its header and an empty payload's tag (a keepalive). */
const MIN_TRANSPORT = TRANSPORT_HEADER_SIZE + AEAD_TAG_LEN;
/** Offset of the replay window inside a keypair's shared region (keypair.ts). */
const REPLAY_AT = 4;
const key = new Int32Array(1);

export function isWgDatagram(dp: Datapath, port: number, u: number, l4avail: number): boolean {
  const w = dp.wg;
  if (w === null || !w.enabled()) return false;
  return (
    l4avail >= UDP_HLEN &&
    get16(dp.arena.bytes, u + UDP_DST_PORT) === w.listenPort() &&
    dp.ports.kind(port) === PORT_KIND_UPLINK
  );
}

/** The datagram at u (l4avail bytes) of the IPv4/IPv6 packet at ip; one outcome per frame. */
export function wgReceive(
  dp: Datapath,
  port: number,
  off: number,
  ip: number,
  family: number,
  u: number,
  l4avail: number,
): void {
  const b = dp.arena.bytes;
  if ((dp.via & VIA_TUNNEL) !== 0) {
    dp.ctr[C.dropWgNested]++;
    return;
  }
  if (!udpLengthValid(b, u, l4avail)) {
    dp.ctr[C.dropWgMalformed]++;
    return;
  }
  const msg = u + UDP_HLEN;
  const len = get16(b, u + UDP_LEN) - UDP_HLEN;
  const type = wgCheck(b, msg, len);
  if (type === MSG_TRANSPORT) transport(dp, family, ip, u, msg, len);
  else if (type > 0) toControl(dp, family, ip, u, msg, len);
  else dp.ctr[C.dropWgMalformed]++;
  void port;
  void off;
}

/**
 * A UDP GSO super-frame to our listen port (another Weft's train, wg-send.ts): a message every
 * gso_size bytes. Noted here; receive.ts opens them one at a time (wgTrainNext), each inner
 * packet run through the pipeline before the next. Each message counts as a frame received.
 */
export function wgOpenTrain(dp: Datapath, ip: number, family: number, u: number, end: number): void {
  const w = dp.wg!;
  const size = dp.vnet[VNET_GSO_SIZE];
  clearSuper(dp);
  if ((dp.via & VIA_TUNNEL) !== 0) {
    dp.ctr[C.dropWgNested]++;
    return;
  }
  const msg = u + UDP_HLEN;
  const count = Math.ceil((end - msg) / size);
  dp.ctr[C.wgTrainsOpened]++;
  dp.ctr[C.rxFrames] += count - 1;
  w.trainFamily = family;
  w.trainIp = ip;
  w.trainUdp = u;
  w.trainNext = msg;
  w.trainEnd = end;
  w.trainSize = size;
  w.trainOrdinal = 0;
  w.trainOpened = count <= TRAIN_OPEN_MAX && openTrain(dp, w, msg, size, count, end - (msg + (count - 1) * size));
}

/**
 * Opens every message of the train in one native call when they are all transport messages to
 * one live keypair (what another Weft sends); false, and nothing opened, when not — then each
 * message takes the one-at-a-time way with its own checks and drops.
 */
function openTrain(dp: Datapath, w: WgWorker, msg: number, size: number, count: number, lastLen: number): boolean {
  const b = dp.arena.bytes;
  const t = w.t;
  if (size < MIN_TRANSPORT || lastLen < MIN_TRANSPORT) return false;
  for (let i = 0; i < count; i++) {
    const m = msg + i * size;
    // Type 4 with three zero bytes, and the first message's receiver index.
    if (getLe32(b, m) !== MSG_TRANSPORT || getLe32(b, m + 4) !== getLe32(b, msg + 4)) return false;
  }
  key[0] = getLe32(b, msg + 4) | 0;
  if (!t.indices.lookup(key, 0, w.lookup, 0)) return false;
  const slot = w.lookup[0];
  const sb = slot * SLOT_WORDS;
  const state = Atomics.load(t.slotWords, sb + K_STATE);
  if ((state !== SLOT_LIVE && state !== SLOT_NEXT) || wallNow(dp) - t.createdWallMs(slot) >= REJECT_AFTER_TIME) {
    return false;
  }
  w.native.aeadOpenMany(t.slotBytes, (sb + K_RECV_KEY) * 4, b, msg, size, count, lastLen, w.trainOk);
  return true;
}

/** Opens the next message of the train wgOpenTrain noted; false when there is none. */
export function wgTrainNext(dp: Datapath): boolean {
  const w = dp.wg;
  if (w === null || w.trainNext >= w.trainEnd) return false;
  const msg = w.trainNext;
  const len = Math.min(w.trainSize, w.trainEnd - msg);
  w.trainNext = msg + w.trainSize;
  const opened = w.trainOpened ? w.trainOk[w.trainOrdinal] : -1;
  w.trainOrdinal++;
  const type = wgCheck(dp.arena.bytes, msg, len);
  if (type === MSG_TRANSPORT) transport(dp, w.trainFamily, w.trainIp, w.trainUdp, msg, len, opened);
  else if (type > 0) toControl(dp, w.trainFamily, w.trainIp, w.trainUdp, msg, len);
  else dp.ctr[C.dropWgMalformed]++;
  return true;
}

/** A transport message; `opened`: -1 to open it here, else the train's verdict (1: its tag verified). */
function transport(dp: Datapath, family: number, ip: number, u: number, msg: number, len: number, opened = -1): void {
  const w = dp.wg!;
  const t = w.t;
  const b = dp.arena.bytes;
  key[0] = getLe32(b, msg + 4) | 0;
  if (!t.indices.lookup(key, 0, w.lookup, 0)) {
    dp.ctr[C.dropWgUnknownIndex]++;
    return;
  }
  const slot = w.lookup[0];
  const sb = slot * SLOT_WORDS;
  const state = Atomics.load(t.slotWords, sb + K_STATE);
  if (state !== SLOT_LIVE && state !== SLOT_NEXT) {
    dp.ctr[C.dropWgUnknownIndex]++;
    return;
  }
  const now = wallNow(dp);
  if (now - t.createdWallMs(slot) >= REJECT_AFTER_TIME) {
    dp.ctr[C.dropWgExpired]++;
    return;
  }
  const hi = wgCounterHi(b, msg) >>> 0;
  const lo = wgCounterLo(b, msg) >>> 0;
  if (!counterBelowReject(hi, lo)) {
    dp.ctr[C.dropWgReplay]++;
    return;
  }
  const verified =
    opened >= 0
      ? opened === 1
      : w.native.aeadOpen(
          t.slotBytes,
          (sb + K_RECV_KEY) * 4,
          b,
          msg + TRANSPORT_HEADER_SIZE,
          len - TRANSPORT_HEADER_SIZE,
          lo,
          hi,
        );
  if (!verified) {
    dp.ctr[C.dropWgDecrypt]++;
    return;
  }
  if (!replayCheck(t.slotWords, sb + K_SHARED + REPLAY_AT, hi, lo)) {
    dp.ctr[C.dropWgReplay]++;
    return;
  }
  const peer = t.slotWords[sb + K_PEER];
  const a = w.activityAt(peer);
  t.activity[a + A_AUTH_RECV] = now;
  t.activity[a + A_RX_BYTES] += len;
  roam(w, peer * PEER_WORDS, family, b, ip, get16(b, u));
  // The initiator sent with the keypair we derived as responder: it is ours to send with now.
  if (state === SLOT_NEXT && Atomics.compareExchange(t.slotWords, sb + K_STATE, SLOT_NEXT, SLOT_LIVE) === SLOT_NEXT) {
    Atomics.store(t.peers, peer * PEER_WORDS + P_CURRENT, slot);
    w.meta.fill(0);
    w.meta[0] = peer;
    w.meta[1] = slot;
    w.toControl.pushWithMeta(w.meta, RING_META_WORDS, b, 0, 0, MSG_CONFIRMED);
  }
  const plain = len - TRANSPORT_HEADER_SIZE - AEAD_TAG_LEN;
  if (plain === 0) {
    dp.ctr[C.wgKeepalives]++;
    dp.ctr[C.consumed]++;
    return;
  }
  const inner = msg + TRANSPORT_HEADER_SIZE;
  const v = b[inner] >> 4;
  let innerLen = -1;
  if (v === 4 && plain >= 20) innerLen = get16(b, inner + 2);
  else if (v === 6 && plain >= 40) innerLen = 40 + get16(b, inner + 4);
  if (innerLen < (v === 4 ? 20 : 40) || innerLen > plain) {
    dp.ctr[C.dropWgBadInner]++;
    return;
  }
  const fam = v === 4 ? 4 : 6;
  // Cryptokey routing, receive side: the inner source must be one the peer may use — or the
  // peer is the egress gateway of this flow and hands back a reply from outside.
  const srcOff = inner + (fam === 4 ? IPV4_SRC : IPV6_SRC);
  if (
    (t.allowed.lookup(fam, b, srcOff, w.lookup) < 0 || w.lookup[0] !== peer) &&
    !replyFromGateway(dp, peer, fam, b, inner)
  ) {
    dp.ctr[C.dropWgSourceNotAllowed]++;
    return;
  }
  dp.ctr[C.wgDecrypted]++;
  t.activity[a + A_DATA_RECV] = now;
  // An Ethernet header in front of the inner packet, as if it arrived on the WireGuard port.
  const f = inner - ETH_HLEN;
  const mac = dp.ports.macOff(WG_PORT);
  copy(b, f + ETH_DST, dp.ports.bytes, mac, 6);
  copy(b, f + ETH_SRC, dp.ports.bytes, mac, 6);
  put16(b, f + ETH_TYPE, fam === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dp.reenter(VIA_WIREGUARD, WG_PORT, f, ETH_HLEN + innerLen);
}

/**
 * True when `peer` is the egress gateway the policies send this flow's requests to: the
 * egress table, asked with the reply's addresses swapped (our endpoint → the outside host),
 * names a gateway whose underlay address is the peer's endpoint.
 */
function replyFromGateway(dp: Datapath, peer: number, fam: number, b: Uint8Array, inner: number): boolean {
  const n = dp.nat;
  if (n === null) return false;
  const src = inner + (fam === 4 ? IPV4_SRC : IPV6_SRC);
  const dst = inner + (fam === 4 ? IPV4_DST : IPV6_DST);
  if (n.eg.lookup(fam, b, dst, src, n.ev) < 0) return false;
  const flags = n.ev[EV_FLAGS];
  if ((flags & (EGRESS_LOCAL | EGRESS_NO_GATEWAY)) !== 0) return false;
  const gfam = flags & EGRESS_GATEWAY_V6 ? 6 : 4;
  const p = dp.wg!.t.peers;
  const at = peer * PEER_WORDS + (gfam === 4 ? P_NODE4 : P_NODE6);
  for (let i = 0; i < (gfam === 4 ? 1 : 4); i++) if (p[at + i] !== n.ev[EV_GATEWAY + i]) return false;
  return true;
}

/** The peer's endpoint becomes the source of this authenticated packet, if it moved. */
function roam(
  w: NonNullable<Datapath['wg']>,
  pw: number,
  family: number,
  b: Uint8Array,
  ip: number,
  port: number,
): void {
  const p = w.t.peers;
  const src = ip + (family === 4 ? IPV4_SRC : IPV6_SRC);
  const words = family === 4 ? 1 : 4;
  if (
    p[pw + P_EP_FAMILY] === family &&
    p[pw + P_EP_PORT] === port &&
    wordsEqualBytes(p, pw + P_EP_ADDR, b, src, words)
  ) {
    return;
  }
  lock(p, pw + P_EP_LOCK);
  Atomics.add(p, pw + P_EP_GEN, 1); // odd: readers retry
  p[pw + P_EP_FAMILY] = family;
  p[pw + P_EP_PORT] = port;
  for (let i = 0; i < 4; i++) {
    p[pw + P_EP_ADDR + i] = i < words ? get32(b, src + 4 * i) | 0 : 0;
  }
  Atomics.add(p, pw + P_EP_GEN, 1);
  unlock(p, pw + P_EP_LOCK);
}

/** Initiations, responses and cookie replies: the control thread runs the handshake. */
function toControl(dp: Datapath, family: number, ip: number, u: number, msg: number, len: number): void {
  const w = dp.wg!;
  const b = dp.arena.bytes;
  const m = w.meta;
  m.fill(0);
  m[0] = family;
  m[1] = get16(b, u);
  // The source address as bytes in meta words 2..5.
  const mb = w.metaBytes;
  copy(mb, 8, b, ip + (family === 4 ? IPV4_SRC : IPV6_SRC), family === 4 ? 4 : 16);
  const wasEmpty = w.toControl.peek() < 0;
  if (w.toControl.pushWithMeta(m, RING_META_WORDS, b, msg, len, MSG_HANDSHAKE)) {
    dp.ctr[C.wgHandshakesToControl]++;
    dp.ctr[C.consumed]++;
    // Answered within a turn of the control thread's event loop, not its next timer tick.
    if (wasEmpty) w.notifyControl();
  } else dp.ctr[C.dropWgControlRingFull]++;
}
