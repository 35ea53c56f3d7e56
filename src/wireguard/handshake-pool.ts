// The handshake pool: identifies initiations — the es Diffie-Hellman and the decryption of the
// initiator's static key (noise.ts openInitiation), the costly part an unauthenticated
// sender can make us do — on a `piscina` pool, so a flood of initiations never runs X25519 on
// the control thread. The control thread checks MAC1 (and, under load, MAC2 and the rate
// limit) first, submits what is left here, and gets back each initiation with the public key
// it decrypted to (or null); it then hands only those from known peers to their Tunnel.
//
// Bounded: a fixed number of threads, initiations gathered into batches of `batchSize`, at
// most `maxInFlight` batches on the pool and one being gathered. When all of that is taken,
// submit() refuses (the caller drops and counts) and `busy` tells the device it is under load.
//
// The device's static private key lives in shared memory (a seqlock), written at start and on
// every change; each batch carries the key generation it was submitted under. A thread never
// computes a batch under another key, and results of an older generation come back as stale,
// never as identified (the caller also re-checks the peer when a result arrives: it may have
// been removed meanwhile).
import { Piscina } from 'piscina';
import type { OpenedInitiation } from './noise.js';
import { KEY_LEN, MSG_INITIATION_SIZE } from './constants.js';

/** Shared key words: [sequence, key (8 words)]. */
export const KEY_SEQ = 0,
  KEY_AT = 1,
  KEY_WORDS = KEY_LEN / 4;

export interface PoolTask {
  gen: number;
  count: number;
  /** count initiations of MSG_INITIATION_SIZE bytes, back to back. */
  msgs: Uint8Array;
}

export interface PoolResult {
  gen: number;
  /** The key changed before the batch ran: nothing was computed. */
  stale: boolean;
  /** count × 32 bytes: the decrypted static keys. */
  keys: Uint8Array;
  /** count × 64 bytes: the chaining key and hash after the static key (noise.ts OpenedInitiation). */
  states: Uint8Array;
  /** 1 where the static key decrypted. */
  found: Uint8Array;
}

export interface HandshakePoolOptions {
  /** Pool threads (default 1). */
  threads?: number;
  /** Initiations per batch (default 32). */
  batchSize?: number;
  /** Batches on the pool at once (default 2 per thread). */
  maxInFlight?: number;
}

export interface Identified<T> {
  ctx: T;
  msg: Uint8Array;
  /** The initiator's static public key; null when the initiation does not decrypt. */
  publicKey: Uint8Array | null;
  /** The opened initiation (static key, chaining key, hash) for the peer's Tunnel; null as publicKey. */
  opened: OpenedInitiation | null;
}

export interface PoolStats {
  threads: number;
  batchSize: number;
  maxInFlight: number;
  inFlight: number;
  pending: number;
  submitted: number;
  refused: number;
  identified: number;
  unidentified: number;
  stale: number;
  failed: number;
  maxInFlightSeen: number;
}

export class HandshakePool<T> {
  readonly threads: number;
  readonly batchSize: number;
  readonly maxInFlight: number;
  private readonly pool: Piscina<PoolTask, PoolResult>;
  private readonly keyWords: Int32Array;
  private gen = 0;
  private batch: Uint8Array;
  private batchCtx: T[] = [];
  private inFlightCount = 0;
  private closed = false;
  /** Set when submit() refused since the last `busy` read. */
  private refusedRecently = false;
  private readonly s = {
    submitted: 0,
    refused: 0,
    identified: 0,
    unidentified: 0,
    stale: 0,
    failed: 0,
    maxInFlightSeen: 0,
  };

  /**
   * onResults gets every batch that comes back under the current key; `stale` counts the
   * initiations of batches that came back under an older one (dropped here).
   */
  constructor(
    privateKey: Uint8Array,
    o: HandshakePoolOptions,
    private readonly onResults: (r: Identified<T>[], stale: number) => void,
  ) {
    this.threads = Math.max(1, Math.floor(o.threads ?? 1));
    this.batchSize = Math.max(1, Math.floor(o.batchSize ?? 32));
    this.maxInFlight = Math.max(1, Math.floor(o.maxInFlight ?? 2 * this.threads));
    const sab = new SharedArrayBuffer((1 + KEY_WORDS) * 4);
    this.keyWords = new Int32Array(sab);
    this.writeKey(privateKey);
    this.batch = new Uint8Array(this.batchSize * MSG_INITIATION_SIZE);
    this.pool = new Piscina<PoolTask, PoolResult>({
      filename: new URL('./handshake-pool-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Infinity,
      // We bound what is in flight ourselves; this is a backstop.
      maxQueue: this.maxInFlight,
      workerData: { key: sab },
      name: 'default',
    });
  }

  /** The key generation batches are submitted under now. */
  get generation(): number {
    return this.gen;
  }

  /** A new static key: batches submitted before are stale from now on. */
  setPrivateKey(privateKey: Uint8Array): void {
    this.flushOrDrop();
    this.writeKey(privateKey);
  }

  /**
   * Queues an initiation (MSG_INITIATION_SIZE bytes, MAC1 already checked) for identification;
   * false when the pool is saturated (every batch slot in flight and the gathering batch full).
   */
  submit(msg: Uint8Array, ctx: T): boolean {
    if (this.closed || msg.length !== MSG_INITIATION_SIZE) return false;
    if (this.batchCtx.length >= this.batchSize) {
      this.flush();
      if (this.batchCtx.length >= this.batchSize) {
        this.s.refused++;
        this.refusedRecently = true;
        return false;
      }
    }
    this.batch.set(msg, this.batchCtx.length * MSG_INITIATION_SIZE);
    this.batchCtx.push(ctx);
    this.s.submitted++;
    if (this.batchCtx.length >= this.batchSize) this.flush();
    return true;
  }

  /** Sends the batch being gathered to the pool, if a slot is free. */
  flush(): void {
    if (this.closed || this.batchCtx.length === 0 || this.inFlightCount >= this.maxInFlight) return;
    const ctx = this.batchCtx;
    const count = ctx.length;
    const msgs = this.batch.slice(0, count * MSG_INITIATION_SIZE);
    this.batchCtx = [];
    const gen = this.gen;
    this.inFlightCount++;
    if (this.inFlightCount > this.s.maxInFlightSeen) this.s.maxInFlightSeen = this.inFlightCount;
    // The pool gets its own copy (transferred); we keep the messages for the caller.
    const task: PoolTask = { gen, count, msgs: msgs.slice() };
    this.pool.run(task, { transferList: [task.msgs.buffer as ArrayBuffer] }).then(
      (r) => this.done(gen, ctx, msgs, r),
      () => this.done(gen, ctx, msgs, null),
    );
  }

  /** True while every batch slot is taken, or when an initiation was refused since the last read. */
  get busy(): boolean {
    const r = this.refusedRecently;
    this.refusedRecently = false;
    return r || this.inFlightCount >= this.maxInFlight;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  stats(): PoolStats {
    return {
      threads: this.threads,
      batchSize: this.batchSize,
      maxInFlight: this.maxInFlight,
      inFlight: this.inFlightCount,
      pending: this.batchCtx.length,
      ...this.s,
    };
  }

  /** Stops the threads; results still in flight are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.batchCtx = [];
    this.keyWords.fill(0, KEY_AT);
    await this.pool.destroy();
  }

  private done(gen: number, ctx: T[], msgs: Uint8Array, r: PoolResult | null): void {
    this.inFlightCount--;
    if (this.closed) return;
    if (r === null) {
      this.s.failed += ctx.length;
    } else if (r.stale || r.gen !== gen || gen !== this.gen || r.found.length !== ctx.length) {
      this.s.stale += ctx.length;
      this.onResults([], ctx.length);
    } else {
      const out: Identified<T>[] = [];
      for (let i = 0; i < ctx.length; i++) {
        const ok = r.found[i] === 1;
        if (ok) this.s.identified++;
        else this.s.unidentified++;
        out.push({
          ctx: ctx[i],
          msg: msgs.subarray(i * MSG_INITIATION_SIZE, (i + 1) * MSG_INITIATION_SIZE),
          publicKey: ok ? r.keys.slice(i * KEY_LEN, (i + 1) * KEY_LEN) : null,
          opened:
            ok && r.states.length === ctx.length * 2 * KEY_LEN
              ? {
                  peerPublic: r.keys.slice(i * KEY_LEN, (i + 1) * KEY_LEN),
                  chainingKey: r.states.slice(2 * i * KEY_LEN, (2 * i + 1) * KEY_LEN),
                  hash: r.states.slice((2 * i + 1) * KEY_LEN, (2 * i + 2) * KEY_LEN),
                }
              : null,
        });
      }
      this.onResults(out, 0);
    }
    // A slot is free: the batch gathered meanwhile goes now.
    this.flush();
  }

  /** Before a key change: what was gathered under the old key goes out (and comes back stale). */
  private flushOrDrop(): void {
    this.flush();
    if (this.batchCtx.length > 0) {
      this.s.stale += this.batchCtx.length;
      const n = this.batchCtx.length;
      this.batchCtx = [];
      this.onResults([], n);
    }
  }

  private writeKey(key: Uint8Array): void {
    if (key.length !== KEY_LEN) throw new Error('handshake pool: a private key is 32 bytes');
    const w = this.keyWords;
    const seq = Atomics.load(w, KEY_SEQ);
    Atomics.store(w, KEY_SEQ, seq + 1); // odd: being written
    const words = new Int32Array(Uint8Array.from(key).buffer);
    for (let i = 0; i < KEY_WORDS; i++) Atomics.store(w, KEY_AT + i, words[i]);
    words.fill(0);
    Atomics.store(w, KEY_SEQ, seq + 2);
    this.gen = (seq + 2) / 2;
  }
}
