/*
 * WireGuard's shared memory between the control thread (handshakes, timers, UAPI) and the
 * workers (transport encryption and decryption):
 *
 *  - keypair slots: each transport keypair the control thread derived, with its keys, its
 *    indices and the state every thread using it shares — the send counter (under a one-word
 *    lock: every message must get a distinct nonce whichever worker sends it) and the replay
 *    window. The control side's Keypair objects (src/wireguard/keypair.ts) live in the same
 *    words, so control-sent keepalives and worker-sent data never reuse a counter.
 *      slot words: [state, peer, localIndex, remoteIndex, initiator, pad, createdWallMs (f64),
 *                   sendKey (8 words), recvKey (8 words), shared: lock, counter hi, lo, pad,
 *                   replay window]
 *  - receiver index → slot: a SharedHashMap (transport messages name the keypair by our index);
 *  - peers: the current sending slot and the endpoint (workers update it on roaming, under a
 *    per-peer lock + generation so readers never see half an address);
 *  - allowed IPs: a PrefixTable address → peer (cryptokey routing, both for choosing the peer
 *    on send and for checking the inner source on receive);
 *  - per worker per peer activity: last data sent / received, last authenticated packet
 *    received (wall ms), bytes sent / received — the control thread polls them for timers
 *    and `wg show`;
 *  - rings: each worker → control (handshake messages, packets waiting for a session, "the
 *    peer uses the next keypair"), control → each worker (datagrams to send).
 */
import { SharedHashMap } from '../tables/hashmap.js';
import { PrefixTable } from '../tables/prefix.js';
import { SpscRing } from '../tables/ring.js';
import { KEYPAIR_SHARED_WORDS } from './keypair.js';

export const SLOT_WORDS = 288;
export const K_STATE = 0,
  K_PEER = 1,
  K_LOCAL_INDEX = 2,
  K_REMOTE_INDEX = 3,
  K_INITIATOR = 4;
/** Float64 index of createdWallMs: (slot * SLOT_WORDS + 6) / 2. */
const K_CREATED_F64 = 3;
export const K_SEND_KEY = 8,
  K_RECV_KEY = 16,
  K_SHARED = 24;
/** Slot states: free; sending and receiving (current, previous); receive only until confirmed (next). */
export const SLOT_FREE = 0,
  SLOT_LIVE = 1,
  SLOT_NEXT = 2;

export const PEER_WORDS = 20;
export const P_ACTIVE = 0,
  P_CURRENT = 1,
  P_EP_LOCK = 2,
  P_EP_GEN = 3,
  P_EP_FAMILY = 4,
  P_EP_PORT = 5,
  P_EP_ADDR = 6;
/**
 * Wall seconds when a worker opened the current "asked for a session" window (0: none; the
 * control thread clears it when it takes a request), and how many packets the workers handed
 * over in it (at most STAGED_PER_ASK, so one peer's traffic cannot fill the control ring).
 */
export const P_ASKED_AT = 10,
  P_ASK_COUNT = 16;
export const STAGED_PER_ASK = 16;
/**
 * A cluster node peer's underlay addresses (IPv4: 1 word, IPv6: 4 words; 0 when none): egress redirects find the
 * gateway's peer by them.
 */
export const P_NODE4 = 11,
  P_NODE6 = 12;

export const ACT_WORDS = 8;
export const A_DATA_SENT = 0,
  A_DATA_RECV = 1,
  A_AUTH_RECV = 2,
  A_TX_BYTES = 3,
  A_RX_BYTES = 4,
  A_AUTH_SENT = 5;

/** SET_PEER_LIMIT: one past the highest peer row ever used, so scans of the rows stop there. */
export const SET_ENABLED = 0,
  SET_LISTEN_PORT = 1,
  SET_MTU = 2,
  SET_PEER_LIMIT = 3;
const SETTINGS_WORDS = 16;

/** Ring record kinds (the record's tag). */
export const MSG_HANDSHAKE = 1,
  MSG_NEED_SESSION = 2,
  MSG_CONFIRMED = 3,
  MSG_SEND = 4;
/** Meta words in front of each ring record: [family | peer, port | slot, address (4 words)]. */
export const RING_META_WORDS = 6;

export interface WgSabs {
  slots: SharedArrayBuffer;
  indices: SharedArrayBuffer;
  peers: SharedArrayBuffer;
  allowed: SharedArrayBuffer;
  activity: SharedArrayBuffer;
  settings: SharedArrayBuffer;
  toControl: SharedArrayBuffer[];
  fromControl: SharedArrayBuffer[];
}

export interface WgTableOptions {
  maxPeers: number;
  maxAllowedIps: number;
  workers: number;
  ringBytes?: number;
}

/** Views every thread builds over the same memory. */
export class WgShared {
  readonly slotWords: Int32Array;
  readonly slotBytes: Uint8Array;
  readonly slotF64: Float64Array;
  readonly slotCount: number;
  readonly indices: SharedHashMap;
  readonly peers: Int32Array;
  readonly maxPeers: number;
  readonly allowed: PrefixTable;
  readonly activity: Float64Array;
  readonly settings: Int32Array;
  readonly toControl: SpscRing[];
  readonly fromControl: SpscRing[];

  constructor(readonly sabs: WgSabs) {
    this.slotWords = new Int32Array(sabs.slots);
    this.slotBytes = new Uint8Array(sabs.slots);
    this.slotF64 = new Float64Array(sabs.slots);
    this.slotCount = this.slotWords.length / SLOT_WORDS;
    this.indices = SharedHashMap.attach(sabs.indices);
    this.peers = new Int32Array(sabs.peers);
    this.maxPeers = this.peers.length / PEER_WORDS;
    this.allowed = PrefixTable.attach(sabs.allowed);
    this.activity = new Float64Array(sabs.activity);
    this.settings = new Int32Array(sabs.settings);
    this.toControl = sabs.toControl.map((s) => SpscRing.attach(s));
    this.fromControl = sabs.fromControl.map((s) => SpscRing.attach(s));
  }

  static create(o: WgTableOptions): WgShared {
    const slots = 3 * o.maxPeers + 8;
    const ring = o.ringBytes ?? 1 << 20;
    const mk = (): SharedArrayBuffer => SpscRing.create(ring).sab;
    return new WgShared({
      slots: new SharedArrayBuffer(slots * SLOT_WORDS * 4),
      indices: SharedHashMap.create({ keyWords: 1, valueWords: 1, capacity: slots }).sab,
      peers: new SharedArrayBuffer(o.maxPeers * PEER_WORDS * 4),
      allowed: PrefixTable.create({ capacity: o.maxAllowedIps, valueWords: 1 }).sab,
      activity: new SharedArrayBuffer(o.workers * o.maxPeers * ACT_WORDS * 8),
      settings: new SharedArrayBuffer(SETTINGS_WORDS * 4),
      toControl: Array.from({ length: o.workers }, mk),
      fromControl: Array.from({ length: o.workers }, mk),
    });
  }

  slotBase(slot: number): number {
    return slot * SLOT_WORDS;
  }

  createdWallMs(slot: number): number {
    return this.slotF64[slot * (SLOT_WORDS / 2) + K_CREATED_F64];
  }

  setCreatedWallMs(slot: number, ms: number): void {
    this.slotF64[slot * (SLOT_WORDS / 2) + K_CREATED_F64] = ms;
  }

  /** Activity row of worker w for peer p (word index into activity). */
  activityAt(worker: number, peer: number): number {
    return (worker * this.maxPeers + peer) * ACT_WORDS;
  }
}

// The shared region must fit the slot.
if (K_SHARED + KEYPAIR_SHARED_WORDS > SLOT_WORDS) throw new Error('wireguard: keypair slot too small');
