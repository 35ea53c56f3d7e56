// Fixed keys and a raw UAPI client for the unit tests.
import { createConnection } from 'node:net';

export const hexOf = (byte: number): string => Buffer.alloc(32, byte).toString('hex');

/** Private key 07…07; stored clamped: first byte & 248, last byte & 127 | 64. */
export const PRIV_HEX = hexOf(0x07);
export const PRIV_CLAMPED_HEX = `00${'07'.repeat(30)}47`;
/** X25519 public key of PRIV (checked against `wg pubkey`). */
export const PUB_HEX = '13be4feaeaf204c7fd3358fc9c00721881d174278128227ec674f37f7fe97b6d';

export const PEER_A = hexOf(0xa1);
export const PEER_B = hexOf(0xb2);
export const PEER_C = hexOf(0xc3);
export const PSK = hexOf(0x5a);
export const ZERO = hexOf(0);

/** "set=1\n" + lines + blank line. */
export const setRequest = (...lines: string[]): string => `set=1\n${lines.map((l) => `${l}\n`).join('')}\n`;

/** Sends raw bytes, half-closes, and returns everything the server wrote until it closed. */
export function exchange(path: string, data: string | Uint8Array, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let out = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no end of answer within ${timeoutMs} ms; got ${JSON.stringify(out)}`));
    }, timeoutMs);
    c.on('data', (d) => (out += d.toString('latin1')));
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    c.end(data);
  });
}
