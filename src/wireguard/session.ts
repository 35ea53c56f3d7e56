// The keypairs of one peer (the paper's §6.1): `current` sends and receives; `previous`
// only receives, so packets still in flight under the old keys are not lost during a
// rotation; `next` is a keypair we derived as responder, usable for receiving only until the
// initiator proves it has it too by sending with it — then it becomes current.
import { Keypair } from './keypair.js';

/**
 * Where a new keypair's shared words (send counter, replay window) live, so that the workers
 * of a dataplane use the very same memory (src/wireguard/dataplane-tables.ts); null: none free.
 */
export type KeypairPlacement = (keys: SessionKeys) => { shared: Int32Array; base: number } | null;
import type { SessionKeys } from './noise.js';
import { ZERO_KEYS_AFTER } from './constants.js';

export class Session {
  current: Keypair | null = null;
  previous: Keypair | null = null;
  next: Keypair | null = null;

  constructor(private readonly place?: KeypairPlacement) {}

  /** Installs the keys of a completed handshake; returns the new keypair. */
  install(keys: SessionKeys, now: number): Keypair {
    const where = this.place?.(keys) ?? null;
    const kp =
      where === null
        ? Keypair.create(keys.sendKey, keys.recvKey, keys.localIndex, keys.remoteIndex, now, keys.isInitiator)
        : new Keypair({
            sendKey: keys.sendKey,
            recvKey: keys.recvKey,
            localIndex: keys.localIndex,
            remoteIndex: keys.remoteIndex,
            createdAt: now,
            isInitiator: keys.isInitiator,
            ...where,
          });
    if (keys.isInitiator) {
      // The peer may already be using an unconfirmed `next` (it is its current): keep it for receiving.
      const keep = this.next ?? this.current;
      if (this.next !== null && this.current !== null) this.current.zero();
      this.previous?.zero();
      this.previous = keep;
      this.next = null;
      this.current = kp;
    } else {
      this.next?.zero();
      this.next = kp;
    }
    return kp;
  }

  /** The keypair our index `receiver` names, if any. */
  byIndex(receiver: number): Keypair | null {
    if (this.current !== null && this.current.localIndex === receiver) return this.current;
    if (this.next !== null && this.next.localIndex === receiver) return this.next;
    if (this.previous !== null && this.previous.localIndex === receiver) return this.previous;
    return null;
  }

  /**
   * Called when a packet authenticated under kp: if kp is `next`, the initiator has it, so it
   * becomes current. Returns true on that promotion.
   */
  received(kp: Keypair): boolean {
    if (kp !== this.next) return false;
    this.previous?.zero();
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    return true;
  }

  /** Indices in use (to keep a device-wide index table in step). */
  indices(): number[] {
    const out: number[] = [];
    for (const kp of [this.current, this.previous, this.next]) if (kp !== null) out.push(kp.localIndex);
    return out;
  }

  /** Erases every keypair (3 × REJECT_AFTER_TIME without a new handshake, or the peer is removed). */
  zeroAll(): void {
    for (const kp of [this.current, this.previous, this.next]) kp?.zero();
    this.current = this.previous = this.next = null;
  }

  /** True when every keypair is older than ZERO_KEYS_AFTER (nothing left worth keeping). */
  allStale(now: number): boolean {
    for (const kp of [this.current, this.previous, this.next])
      if (kp !== null && now - kp.createdAt < ZERO_KEYS_AFTER) return false;
    return true;
  }
}
