// X25519 (RFC 7748) from node:crypto — 28× faster here than a JavaScript implementation
// (DESIGN.md §10). Keys travel as raw 32-byte strings; node:crypto wants KeyObjects, so
// raw keys are wrapped in the fixed DER prefixes of PKCS#8 / SubjectPublicKeyInfo for the
// X25519 OID 1.3.101.110.
import { createPrivateKey, createPublicKey, diffieHellman, KeyObject, randomBytes } from 'node:crypto';
import { KEY_LEN } from './constants.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A source of random bytes; injectable so tests are deterministic. */
export type Rng = (n: number) => Uint8Array;
export const systemRng: Rng = (n) => new Uint8Array(randomBytes(n));

/** Clamps a 32-byte scalar as Curve25519 private keys are (what `wg genkey` prints). */
export function clampPrivateKey(k: Uint8Array): Uint8Array {
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

export function generatePrivateKey(rng: Rng = systemRng): Uint8Array {
  return clampPrivateKey(rng(KEY_LEN).slice(0, KEY_LEN));
}

export function privateKeyObject(raw: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, raw]);
  const k = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  return k;
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function publicKeyFromPrivate(raw: Uint8Array | KeyObject): Uint8Array {
  const priv = raw instanceof KeyObject ? raw : privateKeyObject(raw);
  const der = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - KEY_LEN));
}

/**
 * DH(private, public): the 32-byte shared secret, or null when the peer's point gives the
 * all-zero result (a low-order point: OpenSSL refuses it, and WireGuard must too).
 */
export function dh(priv: KeyObject, pub: Uint8Array): Uint8Array | null {
  if (pub.length !== KEY_LEN) return null;
  try {
    return new Uint8Array(diffieHellman({ privateKey: priv, publicKey: publicKeyObject(pub) }));
  } catch {
    return null;
  }
}

/** A static or ephemeral key pair: raw bytes plus the KeyObject node:crypto computes with. */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  keyObject: KeyObject;
}

export function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  const keyObject = privateKeyObject(privateKey);
  return { privateKey, publicKey: publicKeyFromPrivate(keyObject), keyObject };
}

export function generateKeyPair(rng: Rng = systemRng): KeyPair {
  return keyPairFromPrivate(generatePrivateKey(rng));
}
