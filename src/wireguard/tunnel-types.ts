// What a Tunnel (tunnel.ts) is built from and what it hands back: its options, the action
// records every call returns, and the named reasons of every refusal.
import type { HandshakeError, LocalIdentity } from './noise.js';
import type { CookieChecker } from './cookie.js';
import type { RateLimiter } from './ratelimiter.js';
import type { KeypairPlacement } from './session.js';
import type { Rng } from './x25519.js';

export interface Endpoint {
  address: string;
  port: number;
}

export type TunnelError =
  | 'truncated'
  | 'badType'
  | 'wrongSize'
  | 'badMac1'
  | 'rateLimited'
  | 'badSourceAddress'
  | HandshakeError
  | 'unknownReceiverIndex'
  | 'noSession'
  | 'replay'
  | 'decryptFailed'
  | 'expired'
  | 'keysZeroed'
  | 'counterExhausted'
  | 'badCookie'
  | 'badInnerPacket'
  | 'noEndpoint'
  | 'packetTooLarge';

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
