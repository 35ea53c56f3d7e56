// A worker's frame memory: one ArrayBuffer cut into fixed slots, each with headroom so
// encapsulation can prepend headers by moving an offset (Snabb, wireguard-go).
//
//   [ RX slots: one batch ][ generated frames ][ frames waiting for a neighbour ]
//
// A batch read from one port is processed and transmitted before the next read, so one
// batch of RX slots serves every port.

export const BATCH = 64;
export const HEADROOM = 256;
export const GEN_SLOTS = 256;
export const PENDING_SLOTS = 128;

export class Arena {
  readonly bytes: Uint8Array;
  readonly lens: Int32Array;
  readonly slotSize: number;
  readonly rxSlots: number;
  readonly genBase: number;
  readonly pendingBase: number;
  private genUsed = 0;

  constructor(maxFrame: number) {
    // Room for the largest frame plus tunnel headers, rounded to a cache line.
    this.slotSize = (HEADROOM + maxFrame + 63) & ~63;
    this.rxSlots = BATCH;
    this.genBase = this.rxSlots;
    this.pendingBase = this.genBase + GEN_SLOTS;
    const slots = this.pendingBase + PENDING_SLOTS;
    this.bytes = new Uint8Array(slots * this.slotSize);
    this.lens = new Int32Array(slots);
  }

  /** Byte offset of the frame start in slot s. */
  frameOff(slot: number): number {
    return slot * this.slotSize + HEADROOM;
  }

  /** A slot for a frame built by the router (ARP reply, ICMP error); -1 when exhausted. */
  allocGen(): number {
    if (this.genUsed === GEN_SLOTS) return -1;
    return this.frameOff(this.genBase + this.genUsed++);
  }

  /** Generated slots still free in this batch (a fragmented packet needs all of its at once). */
  genFree(): number {
    return GEN_SLOTS - this.genUsed;
  }

  /** Generated frames live until the batch is transmitted. */
  resetGen(): void {
    this.genUsed = 0;
  }

  maxFrameLen(): number {
    return this.slotSize - HEADROOM;
  }
}
