// What a handshake message must get past before any peer's Tunnel sees it, cheapest first, as
// the paper's DoS defence requires: MAC1; under load, a message without a valid MAC2 gets a
// cookie reply and initiations are rate-limited per source; only then does an initiation's
// Diffie-Hellman reveal which peer it is from — on the handshake pool when there is one (the
// result comes back later, see takeIdentified), so the control thread never runs a
// Diffie-Hellman for an initiation it has not identified. One per device (its local identity).
import { LocalIdentity, type OpenedInitiation, openInitiation } from './noise.js';
import { CookieChecker, MacVerdict, sourceAddressBytes } from './cookie.js';
import { RateLimiter } from './ratelimiter.js';
import { HandshakePool, type HandshakePoolOptions, type Identified, type PoolStats } from './handshake-pool.js';
import { MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY } from './constants.js';
import { wgCheck } from '../wire/wireguard.js';
import { parseAddress } from '../wire/addr.js';
import type { Rng } from './x25519.js';
import type { Endpoint } from './tunnel.js';

export interface GateOptions {
  rng: Rng;
  /** True while the device is under load (cookies, rate limits), by the caller's measure. */
  underLoad?: (now: number) => boolean;
  /** Identify initiations on a pool of threads; results are announced through onIdentified. */
  handshakePool?: HandshakePoolOptions;
  onIdentified?: () => void;
  /** Counts a refused message by reason. */
  count: (reason: string, n?: number) => void;
}

/** An initiation sent to the pool: where it came from, under which key. */
interface PoolCtx {
  src: Endpoint;
  gen: number;
}

/** An initiation the pool identified: from src, to the peer with publicKey (null: nobody). */
export interface IdentifiedInitiation {
  msg: Uint8Array;
  src: Endpoint;
  publicKey: Uint8Array | null;
  opened: OpenedInitiation | null;
}

/** What the gate made of one handshake message. */
export type GateVerdict =
  /** Refused (and counted), or gone to the pool. */
  | { kind: 'none' }
  /** Under load without a valid MAC2: this cookie reply answers it. */
  | { kind: 'cookieReply'; packet: Uint8Array }
  /** An initiation opened here; undefined when it is not to our key. */
  | { kind: 'initiation'; opened: OpenedInitiation | undefined }
  /** A response or a cookie reply (its MACs are not ours to check): its receiver index names the peer. */
  | { kind: 'indexed'; type: number };

export class HandshakeGate {
  private local: LocalIdentity;
  private checker: CookieChecker;
  /** Per source address; shared with the tunnels. */
  readonly limiter = new RateLimiter();
  private readonly pool: HandshakePool<PoolCtx> | null = null;
  /** Identified initiations waiting for takeIdentified(); bounded by what the pool holds. */
  private identified: Identified<PoolCtx>[] = [];

  constructor(
    privateKey: Uint8Array,
    private readonly o: GateOptions,
  ) {
    this.local = new LocalIdentity(privateKey);
    this.checker = new CookieChecker(this.local.keys.publicKey, o.rng);
    if (o.handshakePool) {
      this.pool = new HandshakePool<PoolCtx>(privateKey, o.handshakePool, (r, stale) => {
        if (stale > 0) o.count('poolStale', stale);
        if (r.length === 0) return;
        for (const x of r) this.identified.push(x);
        o.onIdentified?.();
      });
    }
  }

  /** The device's identity (shared with the tunnels). */
  get identity(): LocalIdentity {
    return this.local;
  }

  /** The device's cookie checker (shared with the tunnels). */
  get cookieChecker(): CookieChecker {
    return this.checker;
  }

  /** A new identity: initiations identified under the old key belong to no peer of the new one. */
  setPrivateKey(key: Uint8Array): void {
    this.local = new LocalIdentity(key);
    this.checker = new CookieChecker(this.local.keys.publicKey, this.o.rng);
    if (this.identified.length > 0) this.o.count('poolStale', this.identified.length);
    this.identified = [];
    this.pool?.setPrivateKey(key);
  }

  /** One handshake message from src, received at now. */
  check(msg: Uint8Array, src: Endpoint, now: number): GateVerdict {
    const type = wgCheck(msg, 0, msg.length);
    if (type !== MSG_INITIATION && type !== MSG_RESPONSE && type !== MSG_COOKIE_REPLY) {
      this.o.count('malformed');
      return { kind: 'none' };
    }
    if (type === MSG_COOKIE_REPLY) return { kind: 'indexed', type };
    const a = parseAddress(src.address);
    if (!a) return { kind: 'none' };
    if (!this.checker.checkMac1(msg, msg.length)) {
      this.o.count('badMac1');
      return { kind: 'none' };
    }
    // A saturated pool is load too: cookies then cost far less than dropping would.
    if (this.o.underLoad?.(now) || (this.pool !== null && this.pool.inFlight >= this.pool.maxInFlight)) {
      const source = sourceAddressBytes(a.bytes, src.port);
      if (this.checker.check(msg, msg.length, source, now) !== MacVerdict.Mac2Valid) {
        this.o.count('cookieSent');
        return { kind: 'cookieReply', packet: this.checker.createReply(msg, msg.length, source, now) };
      }
      if (type === MSG_INITIATION && !this.limiter.allow(a.bytes, now)) {
        this.o.count('rateLimited');
        return { kind: 'none' };
      }
    }
    if (type !== MSG_INITIATION) return { kind: 'indexed', type };
    if (this.pool) {
      // The Diffie-Hellman that says who sent it runs on the pool; takeIdentified() goes on.
      if (!this.pool.submit(msg, { src, gen: this.pool.generation })) this.o.count('poolBusy');
      return { kind: 'none' };
    }
    const o = openInitiation(this.local, msg);
    return { kind: 'initiation', opened: typeof o === 'string' ? undefined : o };
  }

  /**
   * Hands each initiation the pool identified since the last call, under the key still held,
   * to `each` (which finds its peer); those of an older key are counted and dropped.
   */
  takeIdentified(each: (x: IdentifiedInitiation) => void): void {
    const batch = this.identified;
    this.identified = [];
    for (const x of batch) {
      if (this.pool === null || x.ctx.gen !== this.pool.generation) this.o.count('poolStale');
      else each({ msg: x.msg, src: x.ctx.src, publicKey: x.publicKey, opened: x.opened });
    }
  }

  /** True while the pool is saturated (or refused since the last call): the device is under load. */
  poolBusy(): boolean {
    return this.pool?.busy ?? false;
  }

  poolStats(): PoolStats | null {
    return this.pool?.stats() ?? null;
  }

  /** Hands what the pool gathered during this turn to it. */
  flushPool(): void {
    this.pool?.flush();
  }

  /** Stops the pool (results still in flight are dropped). */
  async close(): Promise<void> {
    this.identified = [];
    await this.pool?.close();
  }
}
