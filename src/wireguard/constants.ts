// Every constant of the WireGuard protocol in one place (the paper's §5.4 and §6, and the
// protocol page). Times are milliseconds because the core's injected clock counts
// milliseconds; message counts that do not fit a double exactly are bigints.

/** Noise protocol name hashed into the initial chaining key. */
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
/** Mixed into the initial hash so WireGuard handshakes cannot be confused with other Noise uses. */
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

// Limits by messages. A keypair sends at most REJECT_AFTER_MESSAGES messages, so the
// receiver's replay window never has to look past the 64-bit counter.
/**
 * @public The paper's message limit for rekeying; not checked: at 10 million packets a second a
 * keypair would need 3,600 years to reach it, and REKEY_AFTER_TIME rekeys every two minutes.
 */
export const REKEY_AFTER_MESSAGES = 1n << 60n;
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;

// Limits by time (milliseconds).
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
export const REKEY_TIMEOUT_JITTER_MAX = 333;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_REFRESH_TIME = 120_000;
/** Key material older than this is erased even if nothing else happens. */
export const ZERO_KEYS_AFTER = 3 * REJECT_AFTER_TIME;
/** A responder ignores initiations from one peer arriving faster than this (flood of replays of fresh ones). */
export const HANDSHAKE_INITIATION_MIN_INTERVAL = 20;

/** The initiator of the current session rekeys a little earlier than the responder would, so both do not race. */
export const REKEY_AFTER_TIME_RECEIVING = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;

// Message types and sizes are the wire format's (src/wire/wireguard.ts); named here too so
// this file stays the one place to read the protocol's numbers.
export {
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_COOKIE_REPLY,
  MSG_TRANSPORT,
  MSG_INITIATION_SIZE,
  MSG_RESPONSE_SIZE,
  MSG_COOKIE_REPLY_SIZE,
  TRANSPORT_HEADER_SIZE,
  AEAD_TAG_LEN,
} from '../wire/wireguard.js';

// Sizes.
export const KEY_LEN = 32;
export const HASH_LEN = 32;
export const MAC_LEN = 16;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;
export const TAI64N_LEN = 12;

// Handshake-initiation rate limiting per source address (token bucket).
export const RATELIMIT_PACKETS_PER_SECOND = 20;
export const RATELIMIT_BURST = 5;
