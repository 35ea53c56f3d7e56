// Loads test/fixtures/wireguard/*.json from the compiled test (dist/test/wireguard/…).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function fixture<T>(name: string): T {
  return JSON.parse(
    readFileSync(fileURLToPath(new URL(`../../../test/fixtures/wireguard/${name}`, import.meta.url)), 'utf8'),
  ) as T;
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A deterministic Rng: the given chunks in order for matching sizes, then a counter pattern. */
export function scriptedRng(chunks: Uint8Array[] = []): (n: number) => Uint8Array {
  const queue = [...chunks];
  let ctr = 1;
  return (n) => {
    const i = queue.findIndex((c) => c.length === n);
    if (i >= 0) return queue.splice(i, 1)[0];
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = (ctr * 131 + j * 17) & 0xff;
    ctr++;
    return b;
  };
}

export interface Transcript {
  name: string;
  initiator_static_private: string;
  initiator_static_public: string;
  responder_static_private: string;
  responder_static_public: string;
  initiator_ephemeral_private: string;
  responder_ephemeral_private: string;
  preshared_key: string | null;
  initiator_index: number;
  responder_index: number;
  wall_ms: number;
  tai64n: string;
  initiation: string;
  response: string;
  initiator_send_key: string;
  initiator_recv_key: string;
  plaintext: string;
  transport_initiator_counter0: string;
  keepalive_responder_counter0: string;
  cookie_secret: string;
  cookie_source: string;
  cookie: string;
  cookie_nonce: string;
  cookie_reply: string;
  initiation_with_mac2: string;
}
