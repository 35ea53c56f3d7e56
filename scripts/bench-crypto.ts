// The transport AEAD candidates for WireGuard, sealing one packet per call (what a worker does):
// the native shim's in-place ChaCha20-Poly1305 (Node's OpenSSL), node:crypto's createCipheriv,
// and @noble/ciphers. The datapath uses the fastest (the shim); this keeps the choice checkable.
import { createCipheriv } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { loadNative } from '../src/native/tap.js';

function perCallNs(f: (i: number) => void, n: number): number {
  for (let i = 0; i < 2000; i++) f(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Math.round(Number(process.hrtime.bigint() - t0) / n);
}

export function aeadFigures(): Record<string, number> {
  const native = loadNative();
  const key = new Uint8Array(32).fill(7);
  const nonce = Buffer.alloc(12);
  const out: Record<string, number> = {};
  for (const len of [64, 1420]) {
    const buf = new Uint8Array(len + 64);
    out[`seal_${len}_ns_native`] = perCallNs((i) => native.aeadSeal(key, 0, buf, 16, len, i, 0), 100_000);
    out[`seal_${len}_ns_node_crypto`] = perCallNs((i) => {
      nonce.writeUInt32LE(i, 4);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      buf.set(c.update(buf.subarray(16, 16 + len)), 16);
      c.final();
      buf.set(c.getAuthTag(), 16 + len);
    }, 50_000);
    out[`seal_${len}_ns_noble`] = perCallNs((i) => {
      nonce.writeUInt32LE(i, 4);
      chacha20poly1305(key, nonce).encrypt(buf.subarray(16, 16 + len));
    }, 20_000);
  }
  return out;
}
