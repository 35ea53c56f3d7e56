// The per-peer timer state machine of the paper's §6 as pure state: the tunnel reports
// events ("data sent", "authenticated packet received", "handshake initiated"...) with the
// current clock value, and tick(now) returns what is due. Nothing here reads a clock or
// sends anything. Deadlines are absolute clock values in milliseconds; Infinity = not armed.
// (A test that wants the schedule faster scales the clock it passes in; see Tunnel's timeScale.)
import {
  KEEPALIVE_TIMEOUT,
  REKEY_TIMEOUT,
  REKEY_ATTEMPT_TIME,
  REKEY_TIMEOUT_JITTER_MAX,
  ZERO_KEYS_AFTER,
} from './constants.js';

export enum TimerAction {
  /** Send a new handshake initiation (data we sent went unanswered). */
  SendInitiation = 1,
  SendKeepalive = 2,
  /** Erase every keypair and the handshake state. */
  ZeroKeys = 3,
  /** REKEY_ATTEMPT_TIME passed without a handshake: drop queued packets, stop retrying. */
  GiveUp = 4,
  /** Send the initiation again: no response within REKEY_TIMEOUT + jitter. */
  RetransmitInitiation = 5,
}

/** Retries of an initiation before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_HANDSHAKE_ATTEMPTS = Math.ceil(REKEY_ATTEMPT_TIME / REKEY_TIMEOUT);

export interface TimerOptions {
  /** Persistent keepalive interval in seconds, 0 = off. */
  persistentKeepalive?: number;
  /** Uniform random integer in [0, REKEY_TIMEOUT_JITTER_MAX]; injectable for determinism. */
  jitter?: () => number;
}

export class PeerTimers {
  private readonly jitter: () => number;
  persistentKeepalive: number;

  /** Retransmit the initiation when no response came (REKEY_TIMEOUT + jitter). */
  retransmitAt = Infinity;
  /** Send a keepalive: we received data and sent nothing back. */
  keepaliveAt = Infinity;
  /** Start a handshake: we sent data and heard nothing back. */
  newHandshakeAt = Infinity;
  /** Erase keys: no new session for 3 × REJECT_AFTER_TIME. */
  zeroKeysAt = Infinity;
  /** Persistent keepalive: nothing authenticated went either way for the interval. */
  persistentAt = Infinity;

  handshakeAttempts = 0;
  private anotherKeepalive = false;
  /** Clock value of the last initiation we sent (at most one new one per REKEY_TIMEOUT). */
  lastInitiationSent = -Infinity;
  /** Set once the receive-side "last minute" rekey was tried for the current session. */
  sentLastMinuteHandshake = false;
  lastHandshake = -Infinity;

  constructor(opts: TimerOptions = {}) {
    this.jitter = opts.jitter ?? (() => Math.floor(Math.random() * (REKEY_TIMEOUT_JITTER_MAX + 1)));
    this.persistentKeepalive = opts.persistentKeepalive ?? 0;
  }

  private retransmitDelay(): number {
    const j = Math.min(REKEY_TIMEOUT_JITTER_MAX, Math.max(0, this.jitter()));
    return REKEY_TIMEOUT + j;
  }

  /** True if a new (non-retry) initiation may be sent now. */
  mayInitiate(now: number): boolean {
    return now - this.lastInitiationSent >= REKEY_TIMEOUT;
  }

  // ---- events ----

  /** We sent an initiation (first or retry). */
  handshakeInitiated(now: number): void {
    this.lastInitiationSent = now;
    this.retransmitAt = now + this.retransmitDelay();
  }

  /** Our handshake completed (response consumed, or the initiator confirmed ours). */
  handshakeComplete(now: number): void {
    this.retransmitAt = Infinity;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshake = now;
  }

  /** New transport keys were derived (either role). */
  sessionDerived(now: number): void {
    this.zeroKeysAt = now + ZERO_KEYS_AFTER;
  }

  /** A non-keepalive transport message was sent. */
  dataSent(now: number): void {
    if (this.newHandshakeAt === Infinity) this.newHandshakeAt = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter();
  }

  /** A non-keepalive transport message was received. */
  dataReceived(now: number): void {
    if (this.keepaliveAt === Infinity) this.keepaliveAt = now + KEEPALIVE_TIMEOUT;
    else this.anotherKeepalive = true;
  }

  /** Any transport message (keepalives too) was sent: the peer will hear from us. */
  authenticatedPacketSent(): void {
    this.keepaliveAt = Infinity;
  }

  /** Any authenticated packet was received: the peer is alive. */
  authenticatedPacketReceived(): void {
    this.newHandshakeAt = Infinity;
  }

  /** Any authenticated packet went either way: push the persistent keepalive back. */
  authenticatedPacketTraversal(now: number): void {
    if (this.persistentKeepalive > 0) this.persistentAt = now + this.persistentKeepalive * 1000;
  }

  /** Stops everything (peer removed or keys zeroed). */
  stopAll(): void {
    this.retransmitAt = this.keepaliveAt = this.newHandshakeAt = this.zeroKeysAt = this.persistentAt = Infinity;
    this.handshakeAttempts = 0;
    this.anotherKeepalive = false;
  }

  /** Everything that fell due by now, in a fixed order; timers that fired are re-armed or disarmed. */
  tick(now: number, out: TimerAction[] = []): TimerAction[] {
    if (now >= this.retransmitAt) {
      this.retransmitAt = Infinity;
      if (this.handshakeAttempts + 1 >= MAX_HANDSHAKE_ATTEMPTS) {
        this.handshakeAttempts = 0;
        this.keepaliveAt = Infinity;
        if (this.zeroKeysAt === Infinity) this.zeroKeysAt = now + ZERO_KEYS_AFTER;
        out.push(TimerAction.GiveUp);
      } else {
        this.handshakeAttempts++;
        out.push(TimerAction.RetransmitInitiation);
      }
    }
    if (now >= this.newHandshakeAt) {
      this.newHandshakeAt = Infinity;
      if (!out.includes(TimerAction.RetransmitInitiation)) out.push(TimerAction.SendInitiation);
    }
    if (now >= this.keepaliveAt) {
      this.keepaliveAt = Infinity;
      out.push(TimerAction.SendKeepalive);
      if (this.anotherKeepalive) {
        this.anotherKeepalive = false;
        this.keepaliveAt = now + KEEPALIVE_TIMEOUT;
      }
    }
    if (now >= this.persistentAt) {
      this.persistentAt = Infinity;
      if (this.persistentKeepalive > 0 && !out.includes(TimerAction.SendKeepalive)) out.push(TimerAction.SendKeepalive);
    }
    if (now >= this.zeroKeysAt) {
      this.zeroKeysAt = Infinity;
      out.push(TimerAction.ZeroKeys);
    }
    return out;
  }

  /** The earliest armed deadline (for a caller that sleeps until then), Infinity if none. */
  nextDeadline(): number {
    return Math.min(this.retransmitAt, this.keepaliveAt, this.newHandshakeAt, this.zeroKeysAt, this.persistentAt);
  }
}
