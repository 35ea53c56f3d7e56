// A worker's handle on WireGuard: the shared tables (src/wireguard/dataplane-tables.ts), its
// own activity row and rings, the native AEAD, and scratch reused for every packet.
import {
  WgShared,
  type WgSabs,
  SET_ENABLED,
  SET_LISTEN_PORT,
  SET_MTU,
  RING_META_WORDS,
} from '../wireguard/dataplane-tables.js';
import { loadNative, type NativeShim } from '../native/tap.js';
import { TX_PER_PORT } from './tx.js';

/** The most messages of one train opened in one native call (wg-send.ts sends at most 64). */
export const TRAIN_OPEN_MAX = 64;

export class WgWorker {
  readonly t: WgShared;
  readonly native: NativeShim;
  readonly toControl;
  readonly fromControl;
  readonly lookup = new Int32Array(1);
  readonly meta = new Int32Array(RING_META_WORDS);
  /** The same words as bytes (addresses go into ring records as bytes). */
  readonly metaBytes = new Uint8Array(this.meta.buffer);
  /** The peer's endpoint address as bytes (for routing and the outer header). */
  readonly endpoint = new Uint8Array(16);
  epFamily = 0;
  epPort = 0;
  /** Where an oversized ring record is popped to be skipped (the ring's capacity). */
  readonly spill: Uint8Array;
  /**
   * Per WG_PORT queue entry: the peer it must go to whatever its destination (an egress
   * redirect to the gateway node), or -1 for cryptokey routing by destination.
   */
  readonly forcedPeer = new Int32Array(TX_PER_PORT).fill(-1);
  /**
   * A UDP GSO train of messages being opened (wg-receive.ts): its outer IP and UDP headers, the
   * next message and the end, the messages' stride; trainNext === trainEnd when there is none.
   */
  trainFamily = 0;
  trainIp = 0;
  trainUdp = 0;
  trainNext = 0;
  trainEnd = 0;
  trainSize = 0;
  /** Opened in one native call (aeadOpenMany): whether, and each message's verdict (1: tag verified). */
  trainOpened = false;
  trainOrdinal = 0;
  readonly trainOk = new Int32Array(TRAIN_OPEN_MAX);
  /**
   * Tells the control thread a handshake message waits in its ring (set by the worker: a
   * postMessage, sent only when the ring was empty, so never per packet under load).
   */
  notifyControl: () => void = () => {};

  constructor(
    sabs: WgSabs,
    readonly worker: number,
  ) {
    this.t = new WgShared(sabs);
    this.native = loadNative();
    this.toControl = this.t.toControl[worker];
    this.fromControl = this.t.fromControl[worker];
    this.spill = new Uint8Array(this.fromControl.capacity);
  }

  enabled(): boolean {
    return this.t.settings[SET_ENABLED] === 1;
  }

  listenPort(): number {
    return this.t.settings[SET_LISTEN_PORT];
  }

  mtu(): number {
    return this.t.settings[SET_MTU];
  }

  /** Index of this worker's activity row for peer p in t.activity. */
  activityAt(peer: number): number {
    return this.t.activityAt(this.worker, peer);
  }
}
