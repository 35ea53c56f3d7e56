// X25519 (RFC 7748) from node:crypto — 28× faster here than a JavaScript implementation
// (DESIGN.md §10). Keys travel as raw 32-byte strings; node:crypto wants KeyObjects. They are
// imported and exported as JWK ({kty: OKP, crv: X25519}): with OpenSSL 3 that is ~8× faster
// than the PKCS#8 / SubjectPublicKeyInfo DER forms (a private key: 60 µs instead of 500;
// measured by the WireGuard handshake bench), which stay as the fallback.
import { createPrivateKey, createPublicKey, diffieHellman, KeyObject, randomBytes } from 'node:crypto';
import { KEY_LEN } from './constants.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/**
 * A JWK private key needs an `x`; node:crypto derives the public key from `d` and ignores it.
 * That is checked once at load (RFC 7748 §6.1's Alice), else the DER forms are used.
 */
const PLACEHOLDER_X = Buffer.alloc(KEY_LEN).toString('base64url');

function privateFromJwk(raw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(raw).toString('base64url'), x: PLACEHOLDER_X },
    format: 'jwk',
  });
}

function privateFromDer(raw: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, raw]);
  const k = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  return k;
}

const JWK_WORKS = ((): boolean => {
  try {
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    const x = createPublicKey(privateFromJwk(alice)).export({ format: 'jwk' }).x;
    return (
      x === Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64url')
    );
  } catch {
    return false;
  }
})();

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
  return JWK_WORKS ? privateFromJwk(raw) : privateFromDer(raw);
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (JWK_WORKS)
    return createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
      format: 'jwk',
    });
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function publicKeyFromPrivate(raw: Uint8Array | KeyObject): Uint8Array {
  const priv = raw instanceof KeyObject ? raw : privateKeyObject(raw);
  if (JWK_WORKS) return new Uint8Array(Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x!, 'base64url'));
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
