// Curve25519 keys as the UAPI carries them: 32 bytes, 64 hex digits on the wire. The public
// key is derived with node:crypto's X25519 (imported as a raw PKCS#8 private key).
import { createPrivateKey, createPublicKey, timingSafeEqual } from 'node:crypto';
import { Errno, UapiError, quote } from './errors.js';

export const KEY_LEN = 32;

// PKCS#8 wrapping of a raw X25519 private key: SEQUENCE { version 0, AlgorithmIdentifier
// { 1.3.101.110 }, OCTET STRING { OCTET STRING (32 bytes) } }.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** 64 hex digits (either case, as wireguard-go accepts) → 32 bytes. */
export function parseHexKey(text: string, what: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw new UapiError(Errno.EINVAL, `${what}: ${quote(text)} is not 64 hex digits`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Lowercase hex, as the protocol prints keys. */
export function formatHexKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

export function isZeroKey(key: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < key.length; i++) acc |= key[i];
  return acc === 0;
}

export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A copy with the X25519 clamping applied, so what `get` returns is what is used. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key);
  out[0] &= 248;
  out[31] = (out[31] & 127) | 64;
  return out;
}

export function derivePublicKey(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== KEY_LEN)
    throw new UapiError(Errno.EINVAL, `private key must be ${KEY_LEN} bytes, got ${privateKey.length}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - KEY_LEN));
}

export function checkKeyLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LEN)
    throw new UapiError(Errno.EINVAL, `${what}: must be ${KEY_LEN} bytes`);
}
