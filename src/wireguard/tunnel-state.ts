// Everything one peer's Tunnel holds, shared by the handshake (tunnel-handshake.ts), transport
// (tunnel-transport.ts) and timer (tunnel-timers.ts) halves: the Noise handshake, the
// keypairs, the timers, cookies, the endpoint, counters, the packets waiting for a session,
// and what was injected (randomness, the wall clock, the load signal).
import { type Rng, systemRng } from './x25519.js';
import { LocalIdentity, Handshake } from './noise.js';
import { CookieChecker, CookieGenerator } from './cookie.js';
import { RateLimiter } from './ratelimiter.js';
import { Session } from './session.js';
import type { Keypair } from './keypair.js';
import { PeerTimers } from './timers.js';
import { getLe32 } from '../wire/wireguard.js';
import type { Endpoint, TunnelAction, TunnelOptions } from './tunnel-types.js';

export class TunnelState {
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

  readonly checker: CookieChecker;
  readonly limiter: RateLimiter;
  readonly rng: Rng;
  readonly wallClock: () => number;
  readonly underLoad: (now: number) => boolean;
  readonly mtu: number;
  readonly queueLimit: number;
  /** Packets to send once a session exists. */
  readonly queue: Uint8Array[] = [];

  constructor(o: TunnelOptions) {
    this.session = new Session(o.keypairPlacement);
    this.local = o.local ?? new LocalIdentity(o.privateKey);
    this.peerPublicKey = Uint8Array.from(o.peerPublicKey);
    this.handshake = new Handshake(this.local, this.peerPublicKey, o.presharedKey);
    this.rng = o.rng ?? systemRng;
    this.timers = new PeerTimers({
      persistentKeepalive: o.persistentKeepalive ?? 0,
      jitter: () => getLe32(this.rng(4), 0) % 334,
    });
    this.cookies = new CookieGenerator(this.peerPublicKey);
    this.checker = o.cookieChecker ?? new CookieChecker(this.local.keys.publicKey, this.rng);
    this.limiter = o.rateLimiter ?? new RateLimiter();
    this.wallClock = o.wallClock;
    this.underLoad = o.underLoad ?? (() => false);
    this.endpoint = o.endpoint ?? null;
    this.mtu = o.mtu ?? 0;
    this.queueLimit = o.queueLimit ?? 128;
  }

  /** The keypair to send with now, or null when none is usable (none, zeroed or expired). */
  usableCurrent(now: number): Keypair | null {
    const kp = this.session.current;
    if (kp === null || kp.zeroed || kp.expired(now)) return null;
    return kp;
  }

  /** Keeps a packet for when a session exists (the oldest goes beyond queueLimit). */
  enqueue(packet: Uint8Array): void {
    if (this.queue.length >= this.queueLimit) this.queue.shift();
    this.queue.push(Uint8Array.from(packet));
  }

  /** A handshake completed (either role): timers, `wg show`'s time, the event. */
  handshakeCompleted(now: number, out: TunnelAction[]): void {
    this.timers.handshakeComplete(now);
    this.lastHandshakeWallMs = this.wallClock();
    out.push({ type: 'event', event: 'handshakeComplete' });
  }
}
