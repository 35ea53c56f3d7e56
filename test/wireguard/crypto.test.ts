// Primitives against published vectors: BLAKE2s (RFC 7693 Appendix B, the reference
// implementation's keyed KAT), HMAC-BLAKE2s and KDF1/2/3 against Python's hashlib + hmac
// (an independent implementation), X25519 against RFC 7748 §6.1, AEAD/XAEAD round trips
// and tamper detection. The handshake transcript (handshake.test.ts) covers their use together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hash,
  mac,
  hmac,
  kdf1,
  kdf2,
  kdf3,
  aeadSeal,
  aeadOpen,
  xaeadSeal,
  xaeadOpen,
  ctEqual,
  isZero,
  zero,
} from '../../src/wireguard/crypto.js';
import {
  dh,
  privateKeyObject,
  publicKeyFromPrivate,
  generatePrivateKey,
  keyPairFromPrivate,
} from '../../src/wireguard/x25519.js';
import { hex, toHex, scriptedRng } from './fixtures.js';

const te = (s: string): Uint8Array => new TextEncoder().encode(s);
const K32 = Uint8Array.from({ length: 32 }, (_, i) => i);

test('BLAKE2s-256: RFC 7693 Appendix B ("abc") and the empty string', () => {
  assert.equal(toHex(hash(te('abc'))), '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  assert.equal(
    toHex(hash(te('a'), te('bc'))),
    '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    'parts hash as their concatenation',
  );
  assert.equal(toHex(hash()), '69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9');
});

test('keyed BLAKE2s: the 16-byte MAC matches Python hashlib', () => {
  assert.equal(toHex(mac(K32, te('abc'))), '61ba5f165c194692e09d12520cc4c74a');
  assert.equal(mac(K32, te('abc')).length, 16);
});

test('HMAC-BLAKE2s and KDF1/2/3 match Python hashlib + hmac', () => {
  assert.equal(
    toHex(hmac(te('key'), te('The quick brown fox jumps over the lazy dog'))),
    'f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0',
  );
  assert.equal(
    toHex(
      hmac(
        Uint8Array.from({ length: 100 }, (_, i) => i),
        te('weft'),
      ),
    ),
    '9cd41a3701d082eb9063eaf443838a2f5dc4251e0c306950ee5a1347e3678771',
    'keys longer than a block are hashed first',
  );
  const ck = new Uint8Array(32);
  const t1 = 'fbff6119f265251560576e82518f61aeb420cff55b5dcf649475b758a01f3951';
  const t2 = 'a534dd2f7d3e7e614508dba7c675d5cf1008b383670cd8fd46231aa38bbfb618';
  const t3 = '618328297d2af9af1df2c2ef6bba1ab41ddfb8e0fd0ee8bdb7ef237790eba011';
  assert.equal(toHex(kdf1(ck, te('input'))), t1);
  assert.deepEqual(kdf2(ck, te('input')).map(toHex), [t1, t2]);
  assert.deepEqual(kdf3(ck, te('input')).map(toHex), [t1, t2, t3]);
});

test('X25519: RFC 7748 §6.1 key pairs and shared secret', () => {
  const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  assert.equal(toHex(publicKeyFromPrivate(a)), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(toHex(publicKeyFromPrivate(b)), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(toHex(dh(privateKeyObject(a), publicKeyFromPrivate(b))!), shared);
  assert.equal(toHex(dh(privateKeyObject(b), publicKeyFromPrivate(a))!), shared);
});

test('X25519: low-order points and wrong lengths give null, never a throw', () => {
  const k = privateKeyObject(generatePrivateKey());
  assert.equal(dh(k, new Uint8Array(32)), null, 'the zero point');
  const one = new Uint8Array(32);
  one[0] = 1;
  assert.equal(dh(k, one), null, 'order-1 point');
  assert.equal(dh(k, new Uint8Array(31)), null);
});

test('key generation clamps and is injectable', () => {
  const rng = scriptedRng([new Uint8Array(32).fill(0xff)]);
  const k = generatePrivateKey(rng);
  assert.equal(k[0] & 7, 0);
  assert.equal(k[31] & 0x80, 0);
  assert.equal(k[31] & 0x40, 0x40);
  const kp = keyPairFromPrivate(k);
  assert.equal(toHex(kp.publicKey), toHex(publicKeyFromPrivate(k)));
});

test('AEAD: round trip, counter in the nonce, tampering and wrong AD detected', () => {
  const sealed = aeadSeal(K32, 7, te('hello'), te('ad'));
  assert.equal(sealed.length, 5 + 16);
  assert.equal(new TextDecoder().decode(aeadOpen(K32, 7, sealed, te('ad'))!), 'hello');
  assert.equal(aeadOpen(K32, 8, sealed, te('ad')), null);
  assert.equal(aeadOpen(K32, 7, sealed, te('AD')), null);
  const bad = Uint8Array.from(sealed);
  bad[0] ^= 1;
  assert.equal(aeadOpen(K32, 7, bad, te('ad')), null);
  assert.equal(aeadOpen(K32, 7, new Uint8Array(15), te('ad')), null, 'shorter than a tag');
  assert.equal(aeadOpen(K32, 0, aeadSeal(K32, 0, new Uint8Array(0), new Uint8Array(0)), new Uint8Array(0))!.length, 0);
  // Counters above 2^32 reach the upper nonce bytes.
  assert.notEqual(toHex(aeadSeal(K32, 2 ** 32, te('x'), te(''))), toHex(aeadSeal(K32, 0, te('x'), te(''))));
});

test('XAEAD: round trip and tamper detection', () => {
  const nonce = Uint8Array.from({ length: 24 }, (_, i) => 24 - i);
  const sealed = xaeadSeal(K32, nonce, te('cookie-16-bytes!'), te('mac1'));
  assert.equal(sealed.length, 32);
  assert.equal(new TextDecoder().decode(xaeadOpen(K32, nonce, sealed, te('mac1'))!), 'cookie-16-bytes!');
  assert.equal(xaeadOpen(K32, nonce, sealed, te('mac2')), null);
  assert.equal(xaeadOpen(K32, nonce, sealed.subarray(0, 10), te('mac1')), null);
});

test('constant-time helpers and zeroing', () => {
  assert.ok(ctEqual(te('abc'), te('abc')));
  assert.ok(!ctEqual(te('abc'), te('abd')));
  assert.ok(!ctEqual(te('abc'), te('ab')));
  const k = Uint8Array.from(K32);
  assert.ok(!isZero(k));
  zero(k, null, undefined);
  assert.ok(isZero(k));
});
