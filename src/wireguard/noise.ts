// The Noise_IKpsk2 handshake as WireGuard uses it (the paper's §5.4.2–5.4.5): building and
// consuming initiation and response bodies, and deriving the transport keys. MAC1/MAC2 are
// cookie.ts's business; I/O, clocks and randomness come from the caller (ephemeral keys,
// indices, the wall time for the timestamp, `now` for the flood check).
//
// A consume* function changes no state unless the message is accepted, so a forged or
// replayed message can never disturb a handshake in progress.
import {
  CONSTRUCTION,
  IDENTIFIER,
  LABEL_COOKIE,
  LABEL_MAC1,
  KEY_LEN,
  TAI64N_LEN,
  AEAD_TAG_LEN,
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_INITIATION_SIZE,
  MSG_RESPONSE_SIZE,
  HANDSHAKE_INITIATION_MIN_INTERVAL,
} from './constants.js';
import { hash, kdf1, kdf2, kdf3, aeadSeal, aeadOpen, zero, EMPTY } from './crypto.js';
import { dh, type KeyPair, keyPairFromPrivate } from './x25519.js';
import { tai64n, tai64nAfter } from './tai64n.js';
import {
  writeWgType,
  putLe32,
  getLe32,
  WG_INIT_SENDER,
  WG_INIT_EPHEMERAL,
  WG_INIT_STATIC,
  WG_INIT_TIMESTAMP,
  WG_RESP_SENDER,
  WG_RESP_RECEIVER,
  WG_RESP_EPHEMERAL,
  WG_RESP_EMPTY,
} from '../wire/wireguard.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Initial chaining key and hash, the same for every WireGuard handshake. */
const CK0 = hash(utf8(CONSTRUCTION));
const H0 = hash(CK0, utf8(IDENTIFIER));
const ZERO_KEY = new Uint8Array(KEY_LEN);
const STATIC_SEALED = KEY_LEN + AEAD_TAG_LEN;
const TIMESTAMP_SEALED = TAI64N_LEN + AEAD_TAG_LEN;

/** Our static identity and what is derived from it once. */
export class LocalIdentity {
  readonly keys: KeyPair;
  /** HASH(H0 || our public key): where a handshake we respond to starts. */
  readonly responderHash: Uint8Array;
  /** HASH(LABEL_MAC1 || our public key): checks MAC1 of messages sent to us. */
  readonly mac1Key: Uint8Array;
  /** HASH(LABEL_COOKIE || our public key): encrypts our cookie replies. */
  readonly cookieKey: Uint8Array;

  constructor(privateKey: Uint8Array) {
    this.keys = keyPairFromPrivate(privateKey);
    this.responderHash = hash(H0, this.keys.publicKey);
    this.mac1Key = hash(utf8(LABEL_MAC1), this.keys.publicKey);
    this.cookieKey = hash(utf8(LABEL_COOKIE), this.keys.publicKey);
  }
}

export enum HandshakeState {
  None = 0,
  InitiationCreated = 1,
  InitiationConsumed = 2,
  ResponseCreated = 3,
  ResponseConsumed = 4,
}

/** Why a handshake message was refused. */
export type HandshakeError =
  | 'badDh'
  | 'decryptStatic'
  | 'unknownPeer'
  | 'decryptTimestamp'
  | 'staleTimestamp'
  | 'initiationFlood'
  | 'unexpectedResponse'
  | 'decryptEmpty';

/** Transport keys and indices of a completed handshake. */
export interface SessionKeys {
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  localIndex: number;
  remoteIndex: number;
  isInitiator: boolean;
}

/** The handshake state we keep for one peer. */
export class Handshake {
  readonly local: LocalIdentity;
  readonly peerPublic: Uint8Array;
  readonly presharedKey: Uint8Array;
  /** DH(our static, their static), computed once; null if their key is a low-order point. */
  readonly staticStatic: Uint8Array | null;
  /** HASH(H0 || their public key): where a handshake we initiate starts. */
  readonly initiatorHash: Uint8Array;

  state = HandshakeState.None;
  hash: Uint8Array = new Uint8Array(0);
  chainingKey: Uint8Array = new Uint8Array(0);
  localEphemeral: KeyPair | null = null;
  remoteEphemeral: Uint8Array | null = null;
  localIndex = 0;
  remoteIndex = 0;
  /** Greatest timestamp accepted from this peer (replay protection of initiations). */
  lastTimestamp: Uint8Array = new Uint8Array(TAI64N_LEN);
  /** Clock value of the last accepted initiation (flood protection). */
  lastInitiationConsumed = -Infinity;

  constructor(local: LocalIdentity, peerPublic: Uint8Array, presharedKey?: Uint8Array) {
    this.local = local;
    this.peerPublic = Uint8Array.from(peerPublic);
    this.presharedKey = presharedKey ? Uint8Array.from(presharedKey) : ZERO_KEY;
    this.staticStatic = dh(local.keys.keyObject, this.peerPublic);
    this.initiatorHash = hash(H0, this.peerPublic);
  }

  /** Forgets the handshake in progress (keeps the timestamp and flood state). */
  clear(): void {
    zero(this.hash, this.chainingKey, this.localEphemeral?.privateKey);
    this.hash = new Uint8Array(0);
    this.chainingKey = new Uint8Array(0);
    this.localEphemeral = null;
    this.remoteEphemeral = null;
    this.localIndex = 0;
    this.remoteIndex = 0;
    this.state = HandshakeState.None;
  }
}

/**
 * Builds an initiation (148 bytes, MAC fields zero) from us to hs's peer with the given
 * ephemeral private key, sender index and wall time; null when a DH fails.
 */
export function createInitiation(
  hs: Handshake,
  ephemeralPrivate: Uint8Array,
  senderIndex: number,
  wallMs: number,
): Uint8Array | null {
  if (hs.staticStatic === null) return null;
  const eph = keyPairFromPrivate(Uint8Array.from(ephemeralPrivate));
  const es = dh(eph.keyObject, hs.peerPublic);
  if (es === null) return null;
  const msg = new Uint8Array(MSG_INITIATION_SIZE);
  writeWgType(msg, 0, MSG_INITIATION);
  putLe32(msg, WG_INIT_SENDER, senderIndex);
  msg.set(eph.publicKey, WG_INIT_EPHEMERAL);

  let h = hash(hs.initiatorHash, eph.publicKey);
  let ck = kdf1(CK0, eph.publicKey);
  let k: Uint8Array;
  [ck, k] = kdf2(ck, es);
  const sealedStatic = aeadSeal(k, 0, hs.local.keys.publicKey, h);
  msg.set(sealedStatic, WG_INIT_STATIC);
  h = hash(h, sealedStatic);
  zero(k, es);
  [ck, k] = kdf2(ck, hs.staticStatic);
  const sealedTime = aeadSeal(k, 0, tai64n(wallMs), h);
  msg.set(sealedTime, WG_INIT_TIMESTAMP);
  h = hash(h, sealedTime);
  zero(k);

  hs.clear();
  hs.hash = h;
  hs.chainingKey = ck;
  hs.localEphemeral = eph;
  hs.localIndex = senderIndex >>> 0;
  hs.state = HandshakeState.InitiationCreated;
  return msg;
}

/**
 * The first half of consuming an initiation, which needs no peer state: the es
 * Diffie-Hellman and the decryption of the initiator's static key. A device does it first to
 * learn which peer an initiation is from (possibly on another thread: handshake-pool.ts) and
 * hands the result to that peer's consumeOpenedInitiation, so the DH is done once.
 */
export interface OpenedInitiation {
  peerPublic: Uint8Array;
  chainingKey: Uint8Array;
  hash: Uint8Array;
}

export function openInitiation(local: LocalIdentity, msg: Uint8Array): OpenedInitiation | HandshakeError {
  const e = msg.subarray(WG_INIT_EPHEMERAL, WG_INIT_EPHEMERAL + KEY_LEN);
  const sealedStatic = msg.subarray(WG_INIT_STATIC, WG_INIT_STATIC + STATIC_SEALED);
  let h = hash(local.responderHash, e);
  const es = dh(local.keys.keyObject, e);
  if (es === null) return 'badDh';
  const [ck, k] = kdf2(kdf1(CK0, e), es);
  zero(es);
  const peerPublic = aeadOpen(k, 0, sealedStatic, h);
  zero(k);
  if (peerPublic === null) return 'decryptStatic';
  h = hash(h, sealedStatic);
  return { peerPublic, chainingKey: ck, hash: h };
}

/**
 * The second half, with the state of the peer the opened initiation is from: the ss key, the
 * timestamp (newer than the last one from this peer), the flood interval. On success hs holds
 * the state for createResponse.
 */
export function consumeOpenedInitiation(
  opened: OpenedInitiation,
  msg: Uint8Array,
  hs: Handshake,
  now: number,
): Handshake | HandshakeError {
  const e = msg.subarray(WG_INIT_EPHEMERAL, WG_INIT_EPHEMERAL + KEY_LEN);
  const sealedTime = msg.subarray(WG_INIT_TIMESTAMP, WG_INIT_TIMESTAMP + TIMESTAMP_SEALED);
  if (hs.staticStatic === null) return 'badDh';
  let h = opened.hash;
  const [ck, k] = kdf2(opened.chainingKey, hs.staticStatic);
  const timestamp = aeadOpen(k, 0, sealedTime, h);
  zero(k);
  if (timestamp === null) return 'decryptTimestamp';
  h = hash(h, sealedTime);
  if (!tai64nAfter(timestamp, hs.lastTimestamp)) return 'staleTimestamp';
  if (now - hs.lastInitiationConsumed < HANDSHAKE_INITIATION_MIN_INTERVAL) return 'initiationFlood';

  hs.clear();
  hs.hash = h;
  hs.chainingKey = ck;
  hs.remoteEphemeral = Uint8Array.from(e);
  hs.remoteIndex = getLe32(msg, WG_INIT_SENDER);
  hs.lastTimestamp = timestamp;
  hs.lastInitiationConsumed = now;
  hs.state = HandshakeState.InitiationConsumed;
  return hs;
}

/**
 * Consumes an initiation addressed to `local` (size and MAC1 already checked). findPeer maps
 * the decrypted static key to that peer's Handshake. On success the handshake holds the
 * state for createResponse.
 */
export function consumeInitiation(
  local: LocalIdentity,
  msg: Uint8Array,
  findPeer: (publicKey: Uint8Array) => Handshake | undefined,
  now: number,
): Handshake | HandshakeError {
  const opened = openInitiation(local, msg);
  if (typeof opened === 'string') return opened;
  const hs = findPeer(opened.peerPublic);
  if (hs === undefined) return 'unknownPeer';
  return consumeOpenedInitiation(opened, msg, hs, now);
}

/**
 * Builds the response (92 bytes, MAC fields zero) to the initiation hs consumed; null if not in that state or a DH
 * fails.
 */
export function createResponse(hs: Handshake, ephemeralPrivate: Uint8Array, senderIndex: number): Uint8Array | null {
  if (hs.state !== HandshakeState.InitiationConsumed || hs.remoteEphemeral === null) return null;
  const eph = keyPairFromPrivate(Uint8Array.from(ephemeralPrivate));
  const ee = dh(eph.keyObject, hs.remoteEphemeral);
  const se = dh(eph.keyObject, hs.peerPublic);
  if (ee === null || se === null) return null;
  const msg = new Uint8Array(MSG_RESPONSE_SIZE);
  writeWgType(msg, 0, MSG_RESPONSE);
  putLe32(msg, WG_RESP_SENDER, senderIndex);
  putLe32(msg, WG_RESP_RECEIVER, hs.remoteIndex);
  msg.set(eph.publicKey, WG_RESP_EPHEMERAL);

  let h = hash(hs.hash, eph.publicKey);
  let ck = kdf1(hs.chainingKey, eph.publicKey);
  ck = kdf1(ck, ee);
  ck = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, hs.presharedKey);
  h = hash(h, tau);
  const sealedEmpty = aeadSeal(k, 0, EMPTY, h);
  msg.set(sealedEmpty, WG_RESP_EMPTY);
  h = hash(h, sealedEmpty);
  zero(ee, se, tau, k, eph.privateKey);

  hs.hash = h;
  hs.chainingKey = ck2;
  hs.localIndex = senderIndex >>> 0;
  hs.state = HandshakeState.ResponseCreated;
  return msg;
}

/** Consumes a response to the initiation hs created (size and MAC1 already checked). */
export function consumeResponse(hs: Handshake, msg: Uint8Array): HandshakeError | null {
  if (hs.state !== HandshakeState.InitiationCreated || hs.localEphemeral === null) return 'unexpectedResponse';
  if (getLe32(msg, WG_RESP_RECEIVER) !== hs.localIndex) return 'unexpectedResponse';
  const e = msg.subarray(WG_RESP_EPHEMERAL, WG_RESP_EPHEMERAL + KEY_LEN);
  const sealedEmpty = msg.subarray(WG_RESP_EMPTY, WG_RESP_EMPTY + AEAD_TAG_LEN);
  const ee = dh(hs.localEphemeral.keyObject, e);
  const se = dh(hs.local.keys.keyObject, e);
  if (ee === null || se === null) return 'badDh';
  let h = hash(hs.hash, e);
  let ck = kdf1(hs.chainingKey, e);
  ck = kdf1(ck, ee);
  ck = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, hs.presharedKey);
  h = hash(h, tau);
  const ok = aeadOpen(k, 0, sealedEmpty, h);
  zero(ee, se, tau, k);
  if (ok === null) return 'decryptEmpty';
  h = hash(h, sealedEmpty);

  zero(hs.localEphemeral.privateKey);
  hs.localEphemeral = null;
  hs.hash = h;
  hs.chainingKey = ck2;
  hs.remoteIndex = getLe32(msg, WG_RESP_SENDER);
  hs.state = HandshakeState.ResponseConsumed;
  return null;
}

/**
 * Derives the transport keys once the handshake is complete on our side (initiator: response
 * consumed; responder: response created) and clears the handshake; null in any other state.
 */
export function deriveSessionKeys(hs: Handshake): SessionKeys | null {
  let isInitiator: boolean;
  if (hs.state === HandshakeState.ResponseConsumed) isInitiator = true;
  else if (hs.state === HandshakeState.ResponseCreated) isInitiator = false;
  else return null;
  const [t1, t2] = kdf2(hs.chainingKey, EMPTY);
  const keys: SessionKeys = {
    sendKey: isInitiator ? t1 : t2,
    recvKey: isInitiator ? t2 : t1,
    localIndex: hs.localIndex,
    remoteIndex: hs.remoteIndex,
    isInitiator,
  };
  hs.clear();
  return keys;
}

/**
 * Decrypts only the initiator's static key of an initiation to `local`, so a device with
 * many peers can find which peer's state the message belongs to; null if it does not decrypt.
 */
export function initiatorStaticKey(local: LocalIdentity, msg: Uint8Array): Uint8Array | null {
  const opened = openInitiation(local, msg);
  return typeof opened === 'string' ? null : opened.peerPublic;
}
