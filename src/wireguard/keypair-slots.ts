// The shared keypair slots (dataplane-tables.ts) from the control thread's side: a new
// keypair's shared words are placed in a free slot (so the workers and the control thread's
// Keypair count nonces in the same memory), the peers' keypairs are published there — keys,
// indices, creation time, state — with the receiver-index table in step, and slots of
// keypairs a peer no longer holds are wiped and freed.
import {
  type WgShared,
  SLOT_WORDS,
  K_STATE,
  K_PEER,
  K_LOCAL_INDEX,
  K_REMOTE_INDEX,
  K_INITIATOR,
  K_SEND_KEY,
  K_RECV_KEY,
  K_SHARED,
  SLOT_FREE,
  SLOT_LIVE,
  SLOT_NEXT,
} from './dataplane-tables.js';
import { type Keypair, KEYPAIR_SHARED_WORDS } from './keypair.js';
import type { Session } from './session.js';
import type { WgClock } from './clock.js';

export class KeypairSlots {
  private readonly free: number[] = [];

  /** timeScale: the tunnels' (keypairs' creation times are clock.now() / timeScale). */
  constructor(
    private readonly t: WgShared,
    private readonly clock: WgClock,
    private readonly timeScale = 1,
  ) {
    for (let s = t.slotCount - 1; s >= 0; s--) this.free.push(s);
  }

  /** A free slot for a new keypair of peer `peer`, its shared words zeroed; null when none is left. */
  place(peer: number, initiator: boolean): { shared: Int32Array; base: number } | null {
    const slot = this.free.pop();
    if (slot === undefined) return null;
    const sb = slot * SLOT_WORDS;
    const w = this.t.slotWords;
    Atomics.store(w, sb + K_STATE, SLOT_FREE);
    w.fill(0, sb + K_SHARED, sb + K_SHARED + KEYPAIR_SHARED_WORDS);
    w[sb + K_PEER] = peer;
    w[sb + K_INITIATOR] = initiator ? 1 : 0;
    return { shared: w, base: sb + K_SHARED };
  }

  /**
   * Publishes the session's keypairs to the workers and retires the ones it no longer holds:
   * slot contents (keys, indices, creation time), the index table, states (next = receive
   * only). `held` is each keypair's slot as last published; returns the new map and the slot
   * of the current keypair (-1: none).
   */
  sync(session: Session, held: Map<Keypair, number>): { live: Map<Keypair, number>; current: number } {
    const t = this.t;
    const w = t.slotWords;
    const live = new Map<Keypair, number>();
    for (const kp of [session.current, session.previous, session.next]) {
      if (kp === null || kp.zeroed) continue;
      let slot = held.get(kp);
      if (slot === undefined) {
        slot = slotOfBase(kp.base);
        this.publish(slot, kp);
      }
      live.set(kp, slot);
      Atomics.store(w, slot * SLOT_WORDS + K_STATE, kp === session.next ? SLOT_NEXT : SLOT_LIVE);
    }
    for (const [kp, slot] of held) {
      if (live.has(kp)) continue;
      this.retire(slot, kp.localIndex);
    }
    const cur = session.current;
    return { live, current: cur !== null && !cur.zeroed ? (live.get(cur) ?? -1) : -1 };
  }

  private publish(slot: number, kp: Keypair): void {
    const t = this.t;
    const sb = slot * SLOT_WORDS;
    const d = kp.descriptor();
    t.slotWords[sb + K_LOCAL_INDEX] = d.localIndex | 0;
    t.slotWords[sb + K_REMOTE_INDEX] = d.remoteIndex | 0;
    t.slotBytes.set(d.sendKey, (sb + K_SEND_KEY) * 4);
    t.slotBytes.set(d.recvKey, (sb + K_RECV_KEY) * 4);
    // Workers check lifetimes against their wall clock: when the keypair was made, in wall time.
    const age = this.clock.now() - d.createdAt * this.timeScale;
    t.setCreatedWallMs(slot, this.clock.wallNow() - age);
    const key = Int32Array.of(d.localIndex | 0);
    if (!t.indices.insert(key, 0, Int32Array.of(slot), 0)) t.indices.update(key, 0, Int32Array.of(slot), 0);
  }

  private retire(slot: number, localIndex: number): void {
    const t = this.t;
    const sb = slot * SLOT_WORDS;
    Atomics.store(t.slotWords, sb + K_STATE, SLOT_FREE);
    t.indices.delete(Int32Array.of(localIndex | 0), 0);
    // Key material leaves shared memory with the keypair.
    t.slotWords.fill(0, sb + K_SEND_KEY, sb + K_SHARED);
    this.free.unshift(slot); // reused last: a worker mid-packet on it has long finished
  }
}

/** The slot whose shared region starts at word `base` (set by place()). */
function slotOfBase(base: number): number {
  return (base - K_SHARED) / SLOT_WORDS;
}
