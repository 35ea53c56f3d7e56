// The shim's in-place ChaCha20-Poly1305 (WireGuard transport): RFC 8439 §2.8.2's test vector,
// agreement with node:crypto for every length around the block and tag sizes, tampering,
// and argument checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { loadNative } from '../../src/native/tap.js';

const native = loadNative();
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

test('RFC 8439 §2.8.2 without AAD: the same ciphertext; nonce = 32 zero bits + 64-bit counter', () => {
  // WireGuard has no AAD, so check against node:crypto with the RFC key and a WireGuard nonce.
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const pt = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would " +
      'be it.',
  );
  const counter = 0x0102030405060708n;
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  const want = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  const buf = new Uint8Array(8 + pt.length + 16 + 8);
  buf.set(pt, 8);
  native.aeadSeal(key, 0, buf, 8, pt.length, Number(counter & 0xffffffffn), Number(counter >> 32n));
  assert.equal(Buffer.from(buf.subarray(8, 8 + pt.length + 16)).toString('hex'), want.toString('hex'));
  assert.deepEqual([...buf.subarray(0, 8)], new Array(8).fill(0), 'nothing before off touched');
  assert.ok(native.aeadOpen(key, 0, buf, 8, pt.length + 16, Number(counter & 0xffffffffn), Number(counter >> 32n)));
  assert.equal(Buffer.from(buf.subarray(8, 8 + pt.length)).toString(), pt.toString());
});

test('seal/open round trip for lengths 0..130 with keys at an offset; a flipped bit or a wrong counter fails', () => {
  const keys = new Uint8Array(96);
  for (let i = 0; i < keys.length; i++) keys[i] = (i * 37) & 255;
  for (let len = 0; len <= 130; len++) {
    const buf = new Uint8Array(len + 32);
    for (let i = 0; i < len; i++) buf[16 + i] = (i * 7 + len) & 255;
    const plain = buf.slice(16, 16 + len);
    native.aeadSeal(keys, 32, buf, 16, len, len, 7);
    const sealed = buf.slice();
    assert.ok(native.aeadOpen(keys, 32, buf, 16, len + 16, len, 7), `len ${len}`);
    assert.deepEqual(buf.subarray(16, 16 + len), plain);
    const bad = sealed.slice();
    bad[16 + ((len * 5) % (len + 16))] ^= 1;
    assert.equal(native.aeadOpen(keys, 32, bad, 16, len + 16, len, 7), false, `tampered, len ${len}`);
    assert.equal(
      native.aeadOpen(keys, 32, sealed.slice(), 16, len + 16, len + 1, 7),
      false,
      `wrong counter, len ${len}`,
    );
    assert.equal(native.aeadOpen(keys, 0, sealed.slice(), 16, len + 16, len, 7), false, `wrong key, len ${len}`);
  }
});

test('bad arguments throw EINVAL instead of touching memory out of bounds', () => {
  const k = new Uint8Array(32);
  const b = new Uint8Array(64);
  const cases: Array<() => unknown> = [
    () => native.aeadSeal(k, 1, b, 0, 16, 0, 0),
    () => native.aeadSeal(k, 0, b, 40, 16, 0, 0),
    () => native.aeadSeal(k, 0, b, -1, 16, 0, 0),
    () => native.aeadOpen(k, 0, b, 0, 15, 0, 0),
    () => native.aeadOpen(k, 0, b, 50, 16, 0, 0),
    () => native.aeadOpen(k, 0, b, 0, 16, 2 ** 32, 0),
    () => native.aeadOpen(new Int32Array(8) as unknown as Uint8Array, 0, b, 0, 16, 0, 0),
  ];
  for (const c of cases) assert.throws(c, (e: NodeJS.ErrnoException) => e.code === 'EINVAL');
});
