// A thread of the handshake pool (handshake-pool.ts): identifies batches of initiations — the
// es Diffie-Hellman and the decryption of the initiator's static key, nothing that needs a
// peer's state. The device's static private key comes in shared memory (a seqlock: an odd
// sequence while the control thread writes; generation = sequence / 2); a batch names the
// generation it was submitted under and is not computed under any other.
import { workerData } from 'node:worker_threads';
import { LocalIdentity, openInitiation } from './noise.js';
import { KEY_LEN, MSG_INITIATION_SIZE } from './constants.js';
import { KEY_SEQ, KEY_AT, KEY_WORDS, type PoolTask, type PoolResult } from './handshake-pool.js';

const keyWords = new Int32Array((workerData as { key: SharedArrayBuffer }).key);
let local: LocalIdentity | null = null;
let localGen = -1;

/** The identity of generation gen, or null when the key in shared memory is another one. */
function identity(gen: number): LocalIdentity | null {
  if (gen === localGen) return local;
  const raw = new Uint8Array(KEY_LEN);
  const words = new Int32Array(KEY_WORDS);
  for (let tries = 0; tries < 1000; tries++) {
    const s1 = Atomics.load(keyWords, KEY_SEQ);
    if (s1 & 1) continue;
    for (let i = 0; i < KEY_WORDS; i++) words[i] = Atomics.load(keyWords, KEY_AT + i);
    if (Atomics.load(keyWords, KEY_SEQ) !== s1) continue;
    if (s1 / 2 !== gen) return null; // the key changed since this batch was submitted
    raw.set(new Uint8Array(words.buffer));
    words.fill(0);
    local?.keys.privateKey.fill(0);
    local = new LocalIdentity(raw);
    localGen = gen;
    return local;
  }
  return null;
}

export default function identify(task: PoolTask): PoolResult {
  const n = task.count;
  const keys = new Uint8Array(n * KEY_LEN);
  const states = new Uint8Array(n * 2 * KEY_LEN);
  const found = new Uint8Array(n);
  const id = identity(task.gen);
  if (id === null) return { gen: task.gen, stale: true, keys, states, found };
  for (let i = 0; i < n; i++) {
    const msg = task.msgs.subarray(i * MSG_INITIATION_SIZE, (i + 1) * MSG_INITIATION_SIZE);
    const o = openInitiation(id, msg);
    if (typeof o !== 'string') {
      keys.set(o.peerPublic, i * KEY_LEN);
      states.set(o.chainingKey, 2 * i * KEY_LEN);
      states.set(o.hash, (2 * i + 1) * KEY_LEN);
      found[i] = 1;
    }
  }
  return { gen: task.gen, stale: false, keys, states, found };
}
