// Frames waiting for neighbour resolution, copied out of the RX batch into the arena's
// pending slots. Bounded: when full the new frame is dropped (and counted by the caller).
import { type Arena, PENDING_SLOTS } from './arena.js';
import { copy } from '../wire/bytes.js';
import { VNET_WORDS } from '../native/tap.js';

/** How long a frame may wait for its neighbour before it is dropped. */
export const PENDING_TIMEOUT_MS = 3000;
/** How often an unanswered ARP request / neighbour solicitation is repeated. */
export const SOLICIT_INTERVAL_MS = 1000;

export class PendingQueue {
  readonly used = new Uint8Array(PENDING_SLOTS);
  readonly port = new Int32Array(PENDING_SLOTS);
  readonly family = new Int32Array(PENDING_SLOTS);
  readonly nexthop = new Uint8Array(PENDING_SLOTS * 16);
  readonly len = new Int32Array(PENDING_SLOTS);
  readonly deadline = new Float64Array(PENDING_SLOTS);
  /** Recordings the frame's flow matched: it is captured when it finally leaves. */
  readonly recordBits = new Int32Array(PENDING_SLOTS);
  /** The frame's offload header (superframe.ts), VNET_WORDS words per slot. */
  readonly vnet = new Int32Array(PENDING_SLOTS * VNET_WORDS);
  count = 0;
  /** When the parked frames' neighbours were last solicited again (servicePending). */
  lastSolicitRound = 0;
  private readonly arena: Arena;

  constructor(arena: Arena) {
    this.arena = arena;
  }

  frameOff(i: number): number {
    return this.arena.frameOff(this.arena.pendingBase + i);
  }

  /** Copies the frame in; returns false when every slot is taken. */
  add(
    port: number,
    family: number,
    nh: Uint8Array,
    nhOff: number,
    b: Uint8Array,
    off: number,
    len: number,
    now: number,
    recordBits: number,
    vnet: Int32Array | null,
  ): boolean {
    if (this.count === PENDING_SLOTS || len > this.arena.maxFrameLen()) return false;
    let i = 0;
    while (this.used[i] === 1) i++;
    this.used[i] = 1;
    this.port[i] = port;
    this.family[i] = family;
    copy(this.nexthop, i * 16, nh, nhOff, family === 4 ? 4 : 16);
    this.len[i] = len;
    this.deadline[i] = now + PENDING_TIMEOUT_MS;
    this.recordBits[i] = recordBits;
    for (let k = 0; k < VNET_WORDS; k++) this.vnet[i * VNET_WORDS + k] = vnet === null ? 0 : vnet[k];
    if (b === this.arena.bytes)
      b.copyWithin(this.frameOff(i), off, off + len); // a super-frame is up to 64 KB
    else copy(this.arena.bytes, this.frameOff(i), b, off, len);
    this.count++;
    return true;
  }

  /** True if another frame already waits for the same neighbour (so no new solicitation). */
  waiting(port: number, family: number, nh: Uint8Array, nhOff: number): boolean {
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < PENDING_SLOTS; i++) {
      if (this.used[i] === 0 || this.port[i] !== port || this.family[i] !== family) continue;
      let same = true;
      for (let k = 0; k < n; k++)
        if (this.nexthop[i * 16 + k] !== nh[nhOff + k]) {
          same = false;
          break;
        }
      if (same) return true;
    }
    return false;
  }

  /** True if slot i is the first (lowest) slot waiting for its neighbour. */
  firstFor(i: number): boolean {
    const n = this.family[i] === 4 ? 4 : 16;
    for (let j = 0; j < i; j++) {
      if (this.used[j] === 0 || this.port[j] !== this.port[i] || this.family[j] !== this.family[i]) continue;
      let same = true;
      for (let k = 0; k < n; k++)
        if (this.nexthop[j * 16 + k] !== this.nexthop[i * 16 + k]) {
          same = false;
          break;
        }
      if (same) return false;
    }
    return true;
  }

  release(i: number): void {
    this.used[i] = 0;
    this.count--;
  }
}
