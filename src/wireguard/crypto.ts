// The handshake's primitives (the paper's §5.4 notation): HASH, MAC, HMAC, KDF1/2/3, AEAD,
// XAEAD. One implementation per primitive, chosen by measurement (DESIGN.md §7/§10):
// BLAKE2s (plain, keyed, HMAC) from @noble/hashes because node:crypto has no keyed BLAKE2s,
// ChaCha20-Poly1305 from node:crypto, XChaCha20-Poly1305 (cookies only) from @noble/ciphers.
// X25519 lives in x25519.ts.
import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_TAG_LEN, HASH_LEN, MAC_LEN } from './constants.js';

export const EMPTY = new Uint8Array(0);
const BYTE1 = Uint8Array.of(1);
const BYTE2 = Uint8Array.of(2);
const BYTE3 = Uint8Array.of(3);

/** HASH(a || b || ...): BLAKE2s-256 over the concatenation, without concatenating. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ dkLen: HASH_LEN });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** MAC(key, data): keyed BLAKE2s with a 16-byte output. */
export function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(data, { key, dkLen: MAC_LEN });
}

/** HMAC(key, a || b || ...) with BLAKE2s-256 (RFC 2104, 64-byte block). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(blake2s, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** KDF1(ck, input) = τ1 where τ0 = HMAC(ck, input), τ1 = HMAC(τ0, 0x1). */
export function kdf1(ck: Uint8Array, input: Uint8Array): Uint8Array {
  const t0 = hmac(ck, input);
  const t1 = hmac(t0, BYTE1);
  t0.fill(0);
  return t1;
}

/** KDF2: τ1 as above, τ2 = HMAC(τ0, τ1 || 0x2). */
export function kdf2(ck: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const t0 = hmac(ck, input);
  const t1 = hmac(t0, BYTE1);
  const t2 = hmac(t0, t1, BYTE2);
  t0.fill(0);
  return [t1, t2];
}

/** KDF3: as KDF2 plus τ3 = HMAC(τ0, τ2 || 0x3). */
export function kdf3(ck: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = hmac(ck, input);
  const t1 = hmac(t0, BYTE1);
  const t2 = hmac(t0, t1, BYTE2);
  const t3 = hmac(t0, t2, BYTE3);
  t0.fill(0);
  return [t1, t2, t3];
}

/** The 96-bit ChaCha20-Poly1305 nonce: 32 zero bits, then the 64-bit counter little-endian. */
export function aeadNonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter >>> 0, 4);
  n.writeUInt32LE(Math.floor(counter / 4294967296) >>> 0, 8);
  return n;
}

/** AEAD(key, counter, plaintext, ad): ciphertext || 16-byte tag. */
export function aeadSeal(key: Uint8Array, counter: number, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, aeadNonce(counter), { authTagLength: AEAD_TAG_LEN });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(plaintext.length + AEAD_TAG_LEN);
  out.set(body, 0);
  out.set(c.getAuthTag(), plaintext.length);
  return out;
}

/** Opens ciphertext || tag; null when authentication fails or the input is shorter than a tag. */
export function aeadOpen(key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LEN) return null;
  const n = sealed.length - AEAD_TAG_LEN;
  try {
    const d = createDecipheriv('chacha20-poly1305', key, aeadNonce(counter), { authTagLength: AEAD_TAG_LEN });
    d.setAAD(ad, { plaintextLength: n });
    d.setAuthTag(sealed.subarray(n));
    const body = d.update(sealed.subarray(0, n));
    d.final();
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } catch {
    return null;
  }
}

/** XAEAD(key, 24-byte nonce, plaintext, ad): XChaCha20-Poly1305, ciphertext || tag. */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LEN) return null;
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Constant-time equality of two byte strings (false, without leaking where, when lengths differ). */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** True when every byte is zero, in time independent of the contents. */
export function isZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i];
  return acc === 0;
}

/** Overwrites key material; use on every temporary secret once it is no longer needed. */
export function zero(...keys: Array<Uint8Array | null | undefined>): void {
  for (const k of keys) if (k) k.fill(0);
}
