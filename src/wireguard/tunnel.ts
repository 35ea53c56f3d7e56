// One peer's WireGuard tunnel as a pure object, like boringtun's Tunn: the caller hands in
// IP packets to send (encapsulate), UDP payloads received (decapsulate) and the clock
// (tick), and gets back action records — datagrams to write to the network, packets to
// write to the tunnel, named errors. It does no I/O and reads no clock: `now` (monotonic
// milliseconds) comes with every call, the wall clock for TAI64N timestamps and all
// randomness (indices, ephemeral keys, cookie secrets, jitter) are injected.
//
// Every input is hostile: sizes are checked exactly before anything else, nothing throws,
// every refusal is an 'error' action with a named reason.
//
// Decryption works in place: decapsulate overwrites the datagram it is given and the
// 'tunnel' packet is a view into it.
import { MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY, MSG_TRANSPORT, REKEY_AFTER_TIME, REKEY_AFTER_TIME_RECEIVING, TRANSPORT_HEADER_SIZE, AEAD_TAG_LEN } from './constants.js';
import { ctEqual } from './crypto.js';
import { Rng, systemRng, generatePrivateKey } from './x25519.js';
import {
  LocalIdentity, Handshake, HandshakeState, HandshakeError, OpenedInitiation, createInitiation, consumeInitiation, consumeOpenedInitiation,
  createResponse, consumeResponse, deriveSessionKeys,
} from './noise.js';
import { CookieChecker, CookieGenerator, MacVerdict, sourceAddressBytes } from './cookie.js';
import { RateLimiter } from './ratelimiter.js';
import { Session, KeypairPlacement } from './session.js';
import { Keypair, TRANSPORT_COUNTER_EXHAUSTED, TRANSPORT_DECRYPT_FAILED, TRANSPORT_EXPIRED, TRANSPORT_NO_ROOM, TRANSPORT_REPLAY, TRANSPORT_ZEROED } from './keypair.js';
import { PeerTimers, TimerAction } from './timers.js';
import { wgCheck, wgReceiverIndex, wgPaddedLength, getLe32, WG_BAD_SIZE, WG_BAD_TYPE } from '../wire/wireguard.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6.js';

export interface Endpoint {
  address: string;
  port: number;
}

export type TunnelError =
  | 'truncated' | 'badType' | 'wrongSize' | 'badMac1' | 'rateLimited' | 'badSourceAddress'
  | HandshakeError
  | 'unknownReceiverIndex' | 'noSession' | 'replay' | 'decryptFailed' | 'expired' | 'keysZeroed'
  | 'counterExhausted' | 'badCookie' | 'badInnerPacket' | 'noEndpoint' | 'packetTooLarge';

export type NetworkKind = 'initiation' | 'response' | 'cookieReply' | 'data' | 'keepalive';

export type TunnelAction =
  | { type: 'network'; kind: NetworkKind; packet: Uint8Array; endpoint: Endpoint }
  | { type: 'tunnel'; packet: Uint8Array; family: 4 | 6 }
  | { type: 'error'; reason: TunnelError }
  | { type: 'event'; event: 'handshakeComplete' | 'keysZeroed' | 'gaveUp' | 'queued' | 'cookieReceived' };

export interface TunnelOptions {
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: Endpoint | null;
  /** Seconds; 0 = off. */
  persistentKeepalive?: number;
  /** Plaintext padding never grows a packet beyond this (the tunnel MTU). */
  mtu?: number;
  rng?: Rng;
  /**
   * Milliseconds since the Unix epoch (a WgClock's wallNow), for the initiation's TAI64N
   * timestamp and lastHandshakeWallMs. Required: the core never falls back to the real clock.
   */
  wallClock: () => number;
  /** True while the device's handshake processing is backed up: demand MAC2, rate-limit. */
  underLoad?: (now: number) => boolean;
  /** Shared by every tunnel of a device (per-source limits span peers). */
  rateLimiter?: RateLimiter;
  /** Shared by every tunnel of a device (one per local identity). */
  local?: LocalIdentity;
  cookieChecker?: CookieChecker;
  /** Packets kept while no session exists (the oldest is dropped beyond this). */
  queueLimit?: number;
  /**
   * TESTS ONLY. Protocol time runs 1 / timeScale times faster than the clock passed in
   * (0.01: REKEY_TIMEOUT after 50 ms). Every interval — timers, key ages, cookie secret,
   * rate limits — shrinks alike. Production leaves it at 1.
   */
  timeScale?: number;
  /** Where keypairs' shared words live (a dataplane's keypair slots); absent: private memory. */
  keypairPlacement?: KeypairPlacement;
}

const MAX_IP_PACKET = 65535;

export class Tunnel {
  readonly local: LocalIdentity;
  readonly handshake: Handshake;
  readonly session: Session;
  readonly timers: PeerTimers;
  readonly cookies: CookieGenerator;
  readonly peerPublicKey: Uint8Array;
  endpoint: Endpoint | null;
  txBytes = 0;
  rxBytes = 0;
  /** Wall-clock milliseconds of the last completed handshake, 0 if none (for `wg show`). */
  lastHandshakeWallMs = 0;

  private readonly checker: CookieChecker;
  private readonly limiter: RateLimiter;
  private readonly rng: Rng;
  private readonly wallClock: () => number;
  private readonly underLoad: (now: number) => boolean;
  private readonly mtu: number;
  private readonly queueLimit: number;
  private readonly scale: number;
  private readonly queue: Uint8Array[] = [];

  constructor(o: TunnelOptions) {
    this.session = new Session(o.keypairPlacement);
    this.local = o.local ?? new LocalIdentity(o.privateKey);
    this.peerPublicKey = Uint8Array.from(o.peerPublicKey);
    this.handshake = new Handshake(this.local, this.peerPublicKey, o.presharedKey);
    this.rng = o.rng ?? systemRng;
    this.timers = new PeerTimers({ persistentKeepalive: o.persistentKeepalive ?? 0, jitter: () => getLe32(this.rng(4), 0) % 334 });
    this.cookies = new CookieGenerator(this.peerPublicKey);
    this.checker = o.cookieChecker ?? new CookieChecker(this.local.keys.publicKey, this.rng);
    this.limiter = o.rateLimiter ?? new RateLimiter();
    this.wallClock = o.wallClock;
    this.underLoad = o.underLoad ?? (() => false);
    this.endpoint = o.endpoint ?? null;
    this.mtu = o.mtu ?? 0;
    this.queueLimit = o.queueLimit ?? 128;
    this.scale = o.timeScale ?? 1;
  }

  /** Sends an IP packet to the peer: encrypted now, or queued while a handshake starts. */
  encapsulate(packet: Uint8Array, clock: number): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    if (packet.length > MAX_IP_PACKET) {
      out.push({ type: 'error', reason: 'packetTooLarge' });
      return out;
    }
    const kp = this.usableCurrent(now);
    if (kp === null) {
      if (this.queue.length >= this.queueLimit) this.queue.shift();
      this.queue.push(Uint8Array.from(packet));
      out.push({ type: 'event', event: 'queued' });
      this.initiate(now, false, out);
      return out;
    }
    this.sendWith(kp, packet, now, out);
    if (kp.isInitiator && (kp.sendCountHi() >= 0x10000000 || now - kp.createdAt >= REKEY_AFTER_TIME)) this.initiate(now, false, out);
    return out;
  }

  /** Starts a handshake now (e.g. the dataplane wants a session before it has data). */
  forceHandshake(clock: number): TunnelAction[] {
    const out: TunnelAction[] = [];
    this.initiate(clock / this.scale, false, out);
    return out;
  }

  /**
   * Handles one UDP payload from src. What a multi-peer device did already is not redone:
   * `opened`, an initiation's first half (noise.ts openInitiation: its DH); `macsChecked`, the
   * MAC1 check and, under load, the MAC2 / cookie and per-source rate-limit decisions (one
   * token per initiation, not two).
   */
  decapsulate(datagram: Uint8Array, src: Endpoint, clock: number, pre: { opened?: OpenedInitiation; macsChecked?: boolean } = {}): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    const v = wgCheck(datagram, 0, datagram.length);
    switch (v) {
      case MSG_INITIATION:
      case MSG_RESPONSE:
        this.handshakeMessage(datagram, v, src, now, out, pre);
        break;
      case MSG_COOKIE_REPLY:
        this.cookieReply(datagram, now, out);
        break;
      case MSG_TRANSPORT:
        this.transport(datagram, src, now, out);
        break;
      case WG_BAD_SIZE:
        out.push({ type: 'error', reason: 'wrongSize' });
        break;
      case WG_BAD_TYPE:
        out.push({ type: 'error', reason: 'badType' });
        break;
      default:
        out.push({ type: 'error', reason: 'truncated' });
    }
    return out;
  }

  /** Runs the timers: retransmissions, keepalives, giving up, erasing old keys. */
  tick(clock: number): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    for (const a of this.timers.tick(now)) {
      switch (a) {
        case TimerAction.RetransmitInitiation:
          this.initiate(now, true, out);
          break;
        case TimerAction.SendInitiation:
          this.initiate(now, false, out);
          break;
        case TimerAction.SendKeepalive: {
          const kp = this.usableCurrent(now);
          if (kp !== null) this.sendWith(kp, new Uint8Array(0), now, out);
          // A persistent keepalive with no session (e.g. behind NAT, keys expired) needs one first.
          else if (this.timers.persistentKeepalive > 0) this.initiate(now, false, out);
          break;
        }
        case TimerAction.GiveUp:
          this.queue.length = 0;
          out.push({ type: 'event', event: 'gaveUp' });
          break;
        case TimerAction.ZeroKeys:
          this.session.zeroAll();
          this.handshake.clear();
          this.queue.length = 0;
          out.push({ type: 'event', event: 'keysZeroed' });
          break;
      }
    }
    return out;
  }

  /**
   * What a dataplane did with this peer's keys since the last call (it encrypts and decrypts
   * without this object): the timers hear of it as if this tunnel had done it.
   */
  noteDataplane(clock: number, a: { dataSent: boolean; dataReceived: boolean; authReceived: boolean; authSent: boolean; rxBytes: number; txBytes: number }): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    this.rxBytes += a.rxBytes;
    this.txBytes += a.txBytes;
    if (a.authSent) {
      this.timers.authenticatedPacketSent();
      this.timers.authenticatedPacketTraversal(now);
    }
    if (a.dataSent) this.timers.dataSent(now);
    if (a.authReceived) {
      this.timers.authenticatedPacketReceived();
      this.timers.authenticatedPacketTraversal(now);
    }
    if (a.dataReceived) this.timers.dataReceived(now);
    // Keys getting old while data flows: the initiator renews them (on send after
    // REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES; on receive once, shortly before they expire).
    const cur = this.session.current;
    if (cur !== null && cur.isInitiator && !cur.zeroed) {
      if (a.dataSent && (cur.sendCountHi() >= 0x10000000 || now - cur.createdAt >= REKEY_AFTER_TIME)) this.initiate(now, false, out);
      else if (a.dataReceived && !this.timers.sentLastMinuteHandshake && now - cur.createdAt >= REKEY_AFTER_TIME_RECEIVING) {
        this.timers.sentLastMinuteHandshake = true;
        this.initiate(now, false, out);
      }
    }
    return out;
  }

  /**
   * A dataplane received a packet under `kp` while it was `next`: the initiator has the keys,
   * so they become current (and anything queued goes out with them).
   */
  confirmNext(kp: Keypair, clock: number): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    if (this.session.received(kp)) {
      this.timers.handshakeComplete(now);
      this.lastHandshakeWallMs = this.wallClock();
      out.push({ type: 'event', event: 'handshakeComplete' });
      if (this.queue.length > 0) this.flush(kp, now, out);
    }
    return out;
  }

  /** The clock value (in the caller's units) when tick next has something to do. */
  nextDeadline(): number {
    return this.timers.nextDeadline() * this.scale;
  }

  // ---- internals ----

  private usableCurrent(now: number): Keypair | null {
    const kp = this.session.current;
    if (kp === null || kp.zeroed || kp.expired(now)) return null;
    return kp;
  }

  private sendWith(kp: Keypair, packet: Uint8Array, now: number, out: TunnelAction[]): void {
    if (this.endpoint === null) {
      out.push({ type: 'error', reason: 'noEndpoint' });
      return;
    }
    const padded = wgPaddedLength(packet.length, this.mtu);
    const buf = new Uint8Array(TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_LEN);
    buf.set(packet, TRANSPORT_HEADER_SIZE);
    const n = kp.seal(buf, TRANSPORT_HEADER_SIZE, packet.length, padded, now);
    if (n < 0) {
      out.push({ type: 'error', reason: transportReason(n) });
      return;
    }
    this.txBytes += n;
    out.push({ type: 'network', kind: packet.length === 0 ? 'keepalive' : 'data', packet: buf, endpoint: this.endpoint });
    this.timers.authenticatedPacketSent();
    this.timers.authenticatedPacketTraversal(now);
    if (packet.length > 0) this.timers.dataSent(now);
  }

  private initiate(now: number, isRetry: boolean, out: TunnelAction[]): void {
    if (!isRetry) {
      if (!this.timers.mayInitiate(now)) return;
      this.timers.handshakeAttempts = 0;
    }
    const msg = createInitiation(this.handshake, generatePrivateKey(this.rng), this.newIndex(), this.wallClock());
    if (msg === null) {
      out.push({ type: 'error', reason: 'badDh' });
      return;
    }
    this.cookies.addMacs(msg, now);
    this.timers.handshakeInitiated(now);
    if (this.endpoint === null) {
      out.push({ type: 'error', reason: 'noEndpoint' });
      return;
    }
    this.txBytes += msg.length;
    out.push({ type: 'network', kind: 'initiation', packet: msg, endpoint: this.endpoint });
    this.timers.authenticatedPacketTraversal(now);
    this.timers.authenticatedPacketSent();
  }

  private newIndex(): number {
    // Random, and never one this peer already uses.
    const used = this.session.indices();
    for (;;) {
      const i = getLe32(this.rng(4), 0);
      if (!used.includes(i)) return i;
    }
  }

  private handshakeMessage(msg: Uint8Array, type: number, src: Endpoint, now: number, out: TunnelAction[], pre: { opened?: OpenedInitiation; macsChecked?: boolean }): void {
    const ip = addressBytes(src.address);
    if (ip === null) {
      out.push({ type: 'error', reason: 'badSourceAddress' });
      return;
    }
    if (pre.macsChecked !== true && !this.macsAndLoad(msg, type, ip, src, now, out)) return;
    this.rxBytes += msg.length;
    if (type === MSG_INITIATION) this.initiation(msg, src, now, out, pre.opened);
    else this.response(msg, src, now, out);
  }

  /** MAC1; under load a cookie reply without a valid MAC2, and the per-source rate limit. False: stop here. */
  private macsAndLoad(msg: Uint8Array, type: number, ip: Uint8Array, src: Endpoint, now: number, out: TunnelAction[]): boolean {
    const verdict = this.checker.check(msg, msg.length, sourceAddressBytes(ip, src.port), now);
    if (verdict === MacVerdict.BadMac1) {
      out.push({ type: 'error', reason: 'badMac1' });
      return false;
    }
    if (this.underLoad(now)) {
      if (verdict !== MacVerdict.Mac2Valid) {
        const reply = this.checker.createReply(msg, msg.length, sourceAddressBytes(ip, src.port), now);
        out.push({ type: 'network', kind: 'cookieReply', packet: reply, endpoint: { address: src.address, port: src.port } });
        return false;
      }
      if (type === MSG_INITIATION && !this.limiter.allow(ip, now)) {
        out.push({ type: 'error', reason: 'rateLimited' });
        return false;
      }
    }
    return true;
  }

  private initiation(msg: Uint8Array, src: Endpoint, now: number, out: TunnelAction[], opened?: OpenedInitiation): void {
    const hs = this.handshake;
    const r = opened === undefined
      ? consumeInitiation(this.local, msg, (pub) => (ctEqual(pub, this.peerPublicKey) ? hs : undefined), now)
      : ctEqual(opened.peerPublic, this.peerPublicKey) ? consumeOpenedInitiation(opened, msg, hs, now) : 'unknownPeer';
    if (typeof r === 'string') {
      out.push({ type: 'error', reason: r });
      return;
    }
    this.endpoint = { address: src.address, port: src.port };
    this.timers.authenticatedPacketReceived();
    this.timers.authenticatedPacketTraversal(now);
    const resp = createResponse(hs, generatePrivateKey(this.rng), this.newIndex());
    const keys = resp === null ? null : deriveSessionKeys(hs);
    if (resp === null || keys === null) {
      hs.clear();
      out.push({ type: 'error', reason: 'badDh' });
      return;
    }
    this.cookies.addMacs(resp, now);
    this.session.install(keys, now);
    this.timers.sessionDerived(now);
    this.txBytes += resp.length;
    out.push({ type: 'network', kind: 'response', packet: resp, endpoint: this.endpoint });
    this.timers.authenticatedPacketSent();
    this.timers.authenticatedPacketTraversal(now);
  }

  private response(msg: Uint8Array, src: Endpoint, now: number, out: TunnelAction[]): void {
    const hs = this.handshake;
    if (hs.state !== HandshakeState.InitiationCreated || wgReceiverIndex(msg, 0, MSG_RESPONSE) !== hs.localIndex) {
      out.push({ type: 'error', reason: 'unknownReceiverIndex' });
      return;
    }
    const err = consumeResponse(hs, msg);
    if (err !== null) {
      out.push({ type: 'error', reason: err });
      return;
    }
    this.endpoint = { address: src.address, port: src.port };
    this.timers.authenticatedPacketReceived();
    this.timers.authenticatedPacketTraversal(now);
    const keys = deriveSessionKeys(hs);
    if (keys === null) return;
    const kp = this.session.install(keys, now);
    this.timers.sessionDerived(now);
    this.timers.handshakeComplete(now);
    this.lastHandshakeWallMs = this.wallClock();
    out.push({ type: 'event', event: 'handshakeComplete' });
    // The responder may not send until it hears from us under the new keys.
    if (this.queue.length === 0) this.sendWith(kp, new Uint8Array(0), now, out);
    else this.flush(kp, now, out);
  }

  private flush(kp: Keypair, now: number, out: TunnelAction[]): void {
    const q = this.queue.splice(0);
    for (const p of q) this.sendWith(kp, p, now, out);
  }

  private cookieReply(msg: Uint8Array, now: number, out: TunnelAction[]): void {
    const hs = this.handshake;
    const receiver = wgReceiverIndex(msg, 0, MSG_COOKIE_REPLY);
    const ours = (hs.state === HandshakeState.InitiationCreated && receiver === hs.localIndex) || this.session.byIndex(receiver) !== null;
    if (!ours) {
      out.push({ type: 'error', reason: 'unknownReceiverIndex' });
      return;
    }
    if (!this.cookies.consumeReply(msg, now)) {
      out.push({ type: 'error', reason: 'badCookie' });
      return;
    }
    out.push({ type: 'event', event: 'cookieReceived' });
  }

  private transport(msg: Uint8Array, src: Endpoint, now: number, out: TunnelAction[]): void {
    const receiver = wgReceiverIndex(msg, 0, MSG_TRANSPORT);
    const kp = this.session.byIndex(receiver);
    if (kp === null) {
      const none = this.session.current === null && this.session.next === null && this.session.previous === null;
      out.push({ type: 'error', reason: none ? 'noSession' : 'unknownReceiverIndex' });
      return;
    }
    const n = kp.open(msg, 0, msg.length, now);
    if (n < 0) {
      out.push({ type: 'error', reason: transportReason(n) });
      return;
    }
    this.rxBytes += msg.length;
    this.endpoint = { address: src.address, port: src.port };
    if (this.session.received(kp)) {
      this.timers.handshakeComplete(now);
      this.lastHandshakeWallMs = this.wallClock();
      out.push({ type: 'event', event: 'handshakeComplete' });
      if (this.queue.length > 0) this.flush(kp, now, out);
    }
    this.timers.authenticatedPacketReceived();
    this.timers.authenticatedPacketTraversal(now);
    if (n > 0) {
      const inner = msg.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + n);
      const len = ipPacketLength(inner);
      if (len <= 0) {
        out.push({ type: 'error', reason: 'badInnerPacket' });
      } else {
        this.timers.dataReceived(now);
        out.push({ type: 'tunnel', packet: inner.subarray(0, len), family: (inner[0] >> 4) as 4 | 6 });
      }
    }
    // Keys near the end of their life: the initiator renews them once, before they expire.
    const cur = this.session.current;
    if (cur !== null && cur === kp && cur.isInitiator && !this.timers.sentLastMinuteHandshake && now - cur.createdAt >= REKEY_AFTER_TIME_RECEIVING) {
      this.timers.sentLastMinuteHandshake = true;
      this.initiate(now, false, out);
    }
  }
}

/** Length of the IPv4/IPv6 packet at the start of a padded plaintext, or -1 if it is not a whole one. */
export function ipPacketLength(p: Uint8Array): number {
  if (p.length < 1) return -1;
  const version = p[0] >> 4;
  if (version === 4) {
    if (p.length < 20) return -1;
    const total = (p[2] << 8) | p[3];
    return total >= 20 && total <= p.length ? total : -1;
  }
  if (version === 6) {
    if (p.length < 40) return -1;
    const total = 40 + ((p[4] << 8) | p[5]);
    return total <= p.length ? total : -1;
  }
  return -1;
}

function transportReason(n: number): TunnelError {
  switch (n) {
    case TRANSPORT_REPLAY: return 'replay';
    case TRANSPORT_DECRYPT_FAILED: return 'decryptFailed';
    case TRANSPORT_EXPIRED: return 'expired';
    case TRANSPORT_COUNTER_EXHAUSTED: return 'counterExhausted';
    case TRANSPORT_ZEROED: return 'keysZeroed';
    case TRANSPORT_NO_ROOM: return 'packetTooLarge';
    default: return 'decryptFailed';
  }
}

function addressBytes(address: string): Uint8Array | null {
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return parseIpv4(a) ?? parseIpv6(a);
}

