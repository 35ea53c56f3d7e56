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
//
// This file is the facade (and the time scale); the work is in tunnel-handshake.ts,
// tunnel-transport.ts and tunnel-timers.ts, over the state of tunnel-state.ts.
import { MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY, MSG_TRANSPORT } from './constants.js';
import type { LocalIdentity, Handshake } from './noise.js';
import type { Session } from './session.js';
import type { Keypair } from './keypair.js';
import type { PeerTimers } from './timers.js';
import type { CookieGenerator } from './cookie.js';
import { wgCheck, WG_BAD_SIZE, WG_BAD_TYPE } from '../wire/wireguard.js';
import { TunnelState } from './tunnel-state.js';
import { initiate, receiveHandshake, receiveCookieReply, type Prechecked } from './tunnel-handshake.js';
import { sendWith, confirmIfNext, receiveTransport } from './tunnel-transport.js';
import {
  runTimers,
  noteDataplane,
  rekeyAfterSending,
  rekeyBeforeExpiry,
  type DataplaneActivity,
} from './tunnel-timers.js';
import type { Endpoint, TunnelAction, TunnelOptions } from './tunnel-types.js';

export type { Endpoint, TunnelAction, TunnelOptions } from './tunnel-types.js';
export type { DataplaneActivity } from './tunnel-timers.js';
export { ipPacketLength } from './tunnel-transport.js';

const MAX_IP_PACKET = 65535;

export class Tunnel {
  private readonly s: TunnelState;
  private readonly scale: number;

  constructor(o: TunnelOptions) {
    this.s = new TunnelState(o);
    this.scale = o.timeScale ?? 1;
  }

  get local(): LocalIdentity {
    return this.s.local;
  }

  get handshake(): Handshake {
    return this.s.handshake;
  }

  get session(): Session {
    return this.s.session;
  }

  get timers(): PeerTimers {
    return this.s.timers;
  }

  get cookies(): CookieGenerator {
    return this.s.cookies;
  }

  get peerPublicKey(): Uint8Array {
    return this.s.peerPublicKey;
  }

  get endpoint(): Endpoint | null {
    return this.s.endpoint;
  }

  set endpoint(ep: Endpoint | null) {
    this.s.endpoint = ep;
  }

  get txBytes(): number {
    return this.s.txBytes;
  }

  get rxBytes(): number {
    return this.s.rxBytes;
  }

  /** Wall-clock milliseconds of the last completed handshake, 0 if none (for `wg show`). */
  get lastHandshakeWallMs(): number {
    return this.s.lastHandshakeWallMs;
  }

  /** Sends an IP packet to the peer: encrypted now, or queued while a handshake starts. */
  encapsulate(packet: Uint8Array, clock: number): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    if (packet.length > MAX_IP_PACKET) {
      out.push({ type: 'error', reason: 'packetTooLarge' });
      return out;
    }
    const kp = this.s.usableCurrent(now);
    if (kp === null) {
      this.s.enqueue(packet);
      out.push({ type: 'event', event: 'queued' });
      initiate(this.s, now, false, out);
      return out;
    }
    sendWith(this.s, kp, packet, now, out);
    rekeyAfterSending(this.s, kp, now, out);
    return out;
  }

  /** Starts a handshake now (e.g. the dataplane wants a session before it has data). */
  forceHandshake(clock: number): TunnelAction[] {
    const out: TunnelAction[] = [];
    initiate(this.s, clock / this.scale, false, out);
    return out;
  }

  /**
   * Handles one UDP payload from src. What a multi-peer device did already is not redone:
   * `opened`, an initiation's first half (noise.ts openInitiation: its DH); `macsChecked`, the
   * MAC1 check and, under load, the MAC2 / cookie and per-source rate-limit decisions (one
   * token per initiation, not two).
   */
  decapsulate(datagram: Uint8Array, src: Endpoint, clock: number, pre: Prechecked = {}): TunnelAction[] {
    const now = clock / this.scale;
    const out: TunnelAction[] = [];
    const v = wgCheck(datagram, 0, datagram.length);
    switch (v) {
      case MSG_INITIATION:
      case MSG_RESPONSE:
        receiveHandshake(this.s, datagram, v, src, now, out, pre);
        break;
      case MSG_COOKIE_REPLY:
        receiveCookieReply(this.s, datagram, now, out);
        break;
      case MSG_TRANSPORT: {
        const kp = receiveTransport(this.s, datagram, src, now, out);
        if (kp !== null) rekeyBeforeExpiry(this.s, kp, now, out);
        break;
      }
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
    const out: TunnelAction[] = [];
    runTimers(this.s, clock / this.scale, out);
    return out;
  }

  /**
   * What a dataplane did with this peer's keys since the last call (it encrypts and decrypts
   * without this object): the timers hear of it as if this tunnel had done it.
   */
  noteDataplane(clock: number, a: DataplaneActivity): TunnelAction[] {
    const out: TunnelAction[] = [];
    noteDataplane(this.s, clock / this.scale, a, out);
    return out;
  }

  /**
   * A dataplane received a packet under `kp` while it was `next`: the initiator has the keys,
   * so they become current (and anything queued goes out with them).
   */
  confirmNext(kp: Keypair, clock: number): TunnelAction[] {
    const out: TunnelAction[] = [];
    confirmIfNext(this.s, kp, clock / this.scale, out);
    return out;
  }

  /** The clock value (in the caller's units) when tick next has something to do. */
  nextDeadline(): number {
    return this.s.timers.nextDeadline() * this.scale;
  }
}
