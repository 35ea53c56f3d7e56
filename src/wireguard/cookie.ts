// MAC1, MAC2 and cookie replies (the paper's §5.3 and §5.4.4, §5.4.7).
//
// Every handshake message ends in mac1 = MAC(HASH(LABEL_MAC1 || receiver's public key),
// message up to mac1): anyone who does not know the receiver's public key is dropped before
// any Curve25519 work. Under load a responder also requires mac2 = MAC(cookie, message up
// to mac2), where cookie = MAC(secret, source IP || source port) and the secret changes
// every COOKIE_REFRESH_TIME; a sender without a valid mac2 gets a cookie reply instead of
// a response, encrypted with XChaCha20-Poly1305 under HASH(LABEL_COOKIE || responder's public
// key) with the mac1 it answers as associated data. The sender then retries with mac2.
import {
  COOKIE_LEN,
  COOKIE_NONCE_LEN,
  COOKIE_REFRESH_TIME,
  HASH_LEN,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_LEN,
  MSG_COOKIE_REPLY,
  MSG_COOKIE_REPLY_SIZE,
} from './constants.js';
import { hash, mac, xaeadSeal, xaeadOpen, ctEqual, zero } from './crypto.js';
import { type Rng, systemRng } from './x25519.js';
import {
  writeWgType,
  putLe32,
  getLe32,
  WG_SENDER,
  WG_COOKIE_NONCE,
  WG_COOKIE_ENCRYPTED,
  WG_COOKIE_RECEIVER,
} from '../wire/wireguard.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The bytes a cookie is bound to: the source IP (4 or 16 bytes) then the UDP source port, big-endian. */
export function sourceAddressBytes(ip: Uint8Array, port: number): Uint8Array {
  const b = new Uint8Array(ip.length + 2);
  b.set(ip, 0);
  b[ip.length] = (port >>> 8) & 0xff;
  b[ip.length + 1] = port & 0xff;
  return b;
}

/** MAC-field verdicts of a received handshake message. */
export enum MacVerdict {
  BadMac1 = 0,
  /** MAC1 valid; MAC2 missing, wrong or computed from an old secret. */
  Mac1Only = 1,
  /** MAC1 and MAC2 valid: the sender proved it receives at its source address. */
  Mac2Valid = 2,
}

/** The responder side, one per local identity. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly encryptionKey: Uint8Array;
  private secret = new Uint8Array(HASH_LEN);
  private secretBorn = -Infinity;
  private readonly rng: Rng;

  constructor(localPublic: Uint8Array, rng: Rng = systemRng) {
    this.mac1Key = hash(utf8(LABEL_MAC1), localPublic);
    this.encryptionKey = hash(utf8(LABEL_COOKIE), localPublic);
    this.rng = rng;
  }

  /** Checks mac1 of the len-byte handshake message msg; true when valid. */
  checkMac1(msg: Uint8Array, len: number): boolean {
    const m1 = len - 2 * MAC_LEN;
    if (m1 < 0 || len > msg.length) return false;
    return ctEqual(mac(this.mac1Key, msg.subarray(0, m1)), msg.subarray(m1, m1 + MAC_LEN));
  }

  /** Checks mac1 and, when it is valid, mac2 against the cookie the source would hold now. */
  check(msg: Uint8Array, len: number, source: Uint8Array, now: number): MacVerdict {
    if (!this.checkMac1(msg, len)) return MacVerdict.BadMac1;
    if (now - this.secretBorn >= COOKIE_REFRESH_TIME) return MacVerdict.Mac1Only;
    const m2 = len - MAC_LEN;
    const cookie = mac(this.secret, source);
    const ok = ctEqual(mac(cookie, msg.subarray(0, m2)), msg.subarray(m2, len));
    zero(cookie);
    return ok ? MacVerdict.Mac2Valid : MacVerdict.Mac1Only;
  }

  /** The 64-byte cookie reply to the handshake message msg (its mac1 already checked) from source. */
  createReply(msg: Uint8Array, len: number, source: Uint8Array, now: number): Uint8Array {
    if (now - this.secretBorn >= COOKIE_REFRESH_TIME) {
      zero(this.secret);
      this.secret = this.rng(HASH_LEN).slice(0, HASH_LEN);
      this.secretBorn = now;
    }
    const cookie = mac(this.secret, source);
    const nonce = this.rng(COOKIE_NONCE_LEN).slice(0, COOKIE_NONCE_LEN);
    const m1 = len - 2 * MAC_LEN;
    const sealed = xaeadSeal(this.encryptionKey, nonce, cookie, msg.subarray(m1, m1 + MAC_LEN));
    zero(cookie);
    const reply = new Uint8Array(MSG_COOKIE_REPLY_SIZE);
    writeWgType(reply, 0, MSG_COOKIE_REPLY);
    putLe32(reply, WG_COOKIE_RECEIVER, getLe32(msg, WG_SENDER));
    reply.set(nonce, WG_COOKIE_NONCE);
    reply.set(sealed, WG_COOKIE_ENCRYPTED);
    return reply;
  }
}

/** The initiator side (also used when we send responses), one per peer. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly decryptionKey: Uint8Array;
  private cookie: Uint8Array | null = null;
  private cookieBorn = -Infinity;
  private lastMac1: Uint8Array | null = null;

  constructor(peerPublic: Uint8Array) {
    this.mac1Key = hash(utf8(LABEL_MAC1), peerPublic);
    this.decryptionKey = hash(utf8(LABEL_COOKIE), peerPublic);
  }

  /** True while a received cookie may still be used for mac2. */
  hasCookie(now: number): boolean {
    return this.cookie !== null && now - this.cookieBorn < COOKIE_REFRESH_TIME;
  }

  /** Writes mac1, and mac2 when a fresh cookie is held (zeros otherwise), into the last 32 bytes of msg. */
  addMacs(msg: Uint8Array, now: number): void {
    const m1 = msg.length - 2 * MAC_LEN;
    const m2 = msg.length - MAC_LEN;
    const mac1 = mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1 = mac1;
    if (this.cookie !== null && now - this.cookieBorn < COOKIE_REFRESH_TIME) {
      msg.set(mac(this.cookie, msg.subarray(0, m2)), m2);
    } else {
      if (this.cookie !== null) {
        zero(this.cookie);
        this.cookie = null;
      }
      msg.fill(0, m2);
    }
  }

  /**
   * Consumes a cookie reply (size checked, routed here by its receiver index). It must answer
   * the last message we sent; returns false when it does not decrypt against that mac1.
   */
  consumeReply(reply: Uint8Array, now: number): boolean {
    if (this.lastMac1 === null || reply.length !== MSG_COOKIE_REPLY_SIZE) return false;
    const nonce = reply.subarray(WG_COOKIE_NONCE, WG_COOKIE_NONCE + COOKIE_NONCE_LEN);
    const cookie = xaeadOpen(
      this.decryptionKey,
      nonce,
      reply.subarray(WG_COOKIE_ENCRYPTED, MSG_COOKIE_REPLY_SIZE),
      this.lastMac1,
    );
    if (cookie === null || cookie.length !== COOKIE_LEN) return false;
    if (this.cookie) zero(this.cookie);
    this.cookie = cookie;
    this.cookieBorn = now;
    // A reply answers one message; a second reply to the same mac1 is refused.
    this.lastMac1 = null;
    return true;
  }
}
