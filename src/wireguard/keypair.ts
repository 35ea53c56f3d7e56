// A transport keypair: the two ChaCha20-Poly1305 keys a handshake derived, the indices that
// name it on the wire, and the state several workers share — the send counter (each message
// must get a distinct nonce, whichever worker sends it) and the receive replay window. That
// state is an Int32Array region, so a worker can rebuild the same keypair from a descriptor
// (keys, indices, the SharedArrayBuffer) and encrypt or decrypt beside the others.
//
// Per packet this allocates only what node:crypto's API forces (a cipher object and its
// output buffers); nonces are reused and no bigint is built.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { AEAD_TAG_LEN, REJECT_AFTER_TIME, TRANSPORT_HEADER_SIZE } from './constants.js';
import { REPLAY_WORDS, replayCheck, counterBelowReject } from './replay.js';
import { lock, unlock } from './spinlock.js';
import { writeWgTransportHeader, wgCounterHi, wgCounterLo, WG_DATA_COUNTER } from '../wire/wireguard.js';

// Shared state layout, in words from `base`: send lock, send counter hi, lo, spare, replay window.
const SEND_LOCK = 0;
const SEND_HI = 1;
const SEND_LO = 2;
const REPLAY = 4;
export const KEYPAIR_SHARED_WORDS = REPLAY + REPLAY_WORDS;

/** Negative results of seal / open. */
export const TRANSPORT_NO_ROOM = -1;
export const TRANSPORT_COUNTER_EXHAUSTED = -2;
export const TRANSPORT_EXPIRED = -3;
export const TRANSPORT_DECRYPT_FAILED = -4;
export const TRANSPORT_REPLAY = -5;
export const TRANSPORT_ZEROED = -6;

/** What a worker needs to use a keypair the control thread created. */
export interface KeypairDescriptor {
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  /** Our index: the peer puts it in messages to us. */
  localIndex: number;
  /** The peer's index: we put it in messages to the peer. */
  remoteIndex: number;
  /** Clock value (ms) when the handshake completed. */
  createdAt: number;
  isInitiator: boolean;
  shared: Int32Array;
  base: number;
}

export class Keypair {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly createdAt: number;
  readonly isInitiator: boolean;
  readonly shared: Int32Array;
  readonly base: number;
  private sendRaw: Uint8Array;
  private recvRaw: Uint8Array;
  private sendKey: KeyObject | null;
  private recvKey: KeyObject | null;
  private readonly nonce = Buffer.alloc(12);

  constructor(d: KeypairDescriptor) {
    this.localIndex = d.localIndex >>> 0;
    this.remoteIndex = d.remoteIndex >>> 0;
    this.createdAt = d.createdAt;
    this.isInitiator = d.isInitiator;
    this.shared = d.shared;
    this.base = d.base;
    this.sendRaw = d.sendKey;
    this.recvRaw = d.recvKey;
    this.sendKey = createSecretKey(d.sendKey);
    this.recvKey = createSecretKey(d.recvKey);
  }

  /** A new keypair with its own shared state (zero counters, empty window). */
  static create(
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    localIndex: number,
    remoteIndex: number,
    createdAt: number,
    isInitiator: boolean,
  ): Keypair {
    const shared = new Int32Array(new SharedArrayBuffer(KEYPAIR_SHARED_WORDS * 4));
    return new Keypair({ sendKey, recvKey, localIndex, remoteIndex, createdAt, isInitiator, shared, base: 0 });
  }

  descriptor(): KeypairDescriptor {
    return {
      sendKey: this.sendRaw,
      recvKey: this.recvRaw,
      localIndex: this.localIndex,
      remoteIndex: this.remoteIndex,
      createdAt: this.createdAt,
      isInitiator: this.isInitiator,
      shared: this.shared,
      base: this.base,
    };
  }

  get zeroed(): boolean {
    return this.sendKey === null;
  }

  /** Messages sent so far (the next counter), as a bigint: for limits and status, not the hot path. */
  sendCount(): bigint {
    lock(this.shared, this.base + SEND_LOCK);
    const hi = this.shared[this.base + SEND_HI] >>> 0;
    const lo = this.shared[this.base + SEND_LO] >>> 0;
    unlock(this.shared, this.base + SEND_LOCK);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** High word of the send counter: ≥ 2^28 means REKEY_AFTER_MESSAGES (2^60) was reached. */
  sendCountHi(): number {
    return Atomics.load(this.shared, this.base + SEND_HI) >>> 0;
  }

  /** Test hook: moves the send counter (e.g. near the limits). */
  setSendCount(n: bigint): void {
    lock(this.shared, this.base + SEND_LOCK);
    this.shared[this.base + SEND_HI] = Number(n >> 32n) | 0;
    this.shared[this.base + SEND_LO] = Number(n & 0xffffffffn) | 0;
    unlock(this.shared, this.base + SEND_LOCK);
  }

  /** True when the keypair may no longer be used at time now. */
  expired(now: number): boolean {
    return now - this.createdAt >= REJECT_AFTER_TIME;
  }

  /**
   * Encrypts the plaintext at buf[pktOff .. pktOff + pktLen) in place into a transport
   * message at buf[pktOff − 16 ..): zero padding up to paddedLen, the header in the 16 bytes
   * of headroom, the tag after the ciphertext. Returns the message length (16 + paddedLen + 16)
   * or a negative TRANSPORT_* reason.
   */
  seal(buf: Uint8Array, pktOff: number, pktLen: number, paddedLen: number, now: number): number {
    const key = this.sendKey;
    if (key === null) return TRANSPORT_ZEROED;
    if (pktOff < TRANSPORT_HEADER_SIZE || paddedLen < pktLen || pktOff + paddedLen + AEAD_TAG_LEN > buf.length)
      return TRANSPORT_NO_ROOM;
    if (this.expired(now)) return TRANSPORT_EXPIRED;
    // Take a counter: unique across every thread using this keypair.
    const s = this.shared;
    lock(s, this.base + SEND_LOCK);
    const hi = s[this.base + SEND_HI] >>> 0;
    const lo = s[this.base + SEND_LO] >>> 0;
    if (!counterBelowReject(hi, lo)) {
      unlock(s, this.base + SEND_LOCK);
      return TRANSPORT_COUNTER_EXHAUSTED;
    }
    if (lo === 0xffffffff) {
      s[this.base + SEND_HI] = (hi + 1) | 0;
      s[this.base + SEND_LO] = 0;
    } else {
      s[this.base + SEND_LO] = (lo + 1) | 0;
    }
    unlock(s, this.base + SEND_LOCK);

    for (let i = pktOff + pktLen; i < pktOff + paddedLen; i++) buf[i] = 0;
    const msg = pktOff - TRANSPORT_HEADER_SIZE;
    writeWgTransportHeader(buf, msg, this.remoteIndex, hi, lo);
    const n = this.nonce;
    for (let i = 0; i < 8; i++) n[4 + i] = buf[msg + WG_DATA_COUNTER + i];
    const c = createCipheriv('chacha20-poly1305', key, n, { authTagLength: AEAD_TAG_LEN });
    const body = c.update(buf.subarray(pktOff, pktOff + paddedLen));
    c.final();
    buf.set(body, pktOff);
    buf.set(c.getAuthTag(), pktOff + paddedLen);
    return TRANSPORT_HEADER_SIZE + paddedLen + AEAD_TAG_LEN;
  }

  /**
   * Authenticates and decrypts the transport message buf[off .. off + len) (already checked
   * by wgCheck and routed here by its receiver index), writes the plaintext in place at
   * off + 16, then checks the counter against the replay window. Returns the plaintext
   * length (padding included) or a negative TRANSPORT_* reason.
   */
  open(buf: Uint8Array, off: number, len: number, now: number): number {
    const key = this.recvKey;
    if (key === null) return TRANSPORT_ZEROED;
    if (this.expired(now)) return TRANSPORT_EXPIRED;
    const hi = wgCounterHi(buf, off);
    const lo = wgCounterLo(buf, off);
    if (!counterBelowReject(hi, lo)) return TRANSPORT_REPLAY;
    const n = this.nonce;
    for (let i = 0; i < 8; i++) n[4 + i] = buf[off + WG_DATA_COUNTER + i];
    const ctLen = len - TRANSPORT_HEADER_SIZE - AEAD_TAG_LEN;
    const ct = off + TRANSPORT_HEADER_SIZE;
    let body: Buffer;
    try {
      const d = createDecipheriv('chacha20-poly1305', key, n, { authTagLength: AEAD_TAG_LEN });
      d.setAuthTag(buf.subarray(ct + ctLen, ct + ctLen + AEAD_TAG_LEN));
      body = d.update(buf.subarray(ct, ct + ctLen));
      d.final();
    } catch {
      return TRANSPORT_DECRYPT_FAILED;
    }
    if (!replayCheck(this.shared, this.base + REPLAY, hi, lo)) return TRANSPORT_REPLAY;
    buf.set(body, ct);
    return ctLen;
  }

  /** Erases the raw keys and drops the key objects; later seal/open return TRANSPORT_ZEROED. */
  zero(): void {
    this.sendRaw.fill(0);
    this.recvRaw.fill(0);
    this.sendKey = null;
    this.recvKey = null;
  }
}
