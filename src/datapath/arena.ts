// A worker's frame memory: one ArrayBuffer cut into fixed slots, each with headroom so
// encapsulation can prepend headers by moving an offset (Snabb, wireguard-go).
//
//   [ RX slots: one batch ][ generated frames ][ frames waiting for a neighbour ][ segments ]
//
// A batch read from one port is processed and transmitted before the next read, so one
// batch of RX slots serves every port. With super-frames (a port with TAP offloads) every slot
// holds a 64 KB frame, and the segment area holds what software segmentation (superframe.ts)
// cuts them into: MTU-sized frames, each with headroom and tailroom for a tunnel.

export const BATCH = 64;
export const HEADROOM = 256;
export const GEN_SLOTS = 256;
export const PENDING_SLOTS = 128;
/** Segments one flush can hold; the worker flushes when half are taken (Arena.segsLow). */
export const SEG_SLOTS = 256;
/** The largest frame a TAP with offloads hands over: 64 KB of IP plus the Ethernet header. */
export const SUPER_FRAME_MAX = 65536 + 14;
/** Room after a frame for what an encapsulation appends (WireGuard's padding and tag). */
export const TAILROOM = 64;

const align = (n: number): number => (n + 63) & ~63;

export class Arena {
  readonly bytes: Uint8Array;
  readonly lens: Int32Array;
  readonly slotSize: number;
  readonly rxSlots: number;
  readonly genBase: number;
  readonly pendingBase: number;
  /** Byte offset of the segment area, and its stride (0 without super-frames). */
  readonly segBase: number;
  readonly segStride: number;
  private genUsed = 0;
  private segUsed = 0;

  /** maxFrame: the largest frame of any port's MTU; superFrames: some port takes offloads. */
  constructor(maxFrame: number, superFrames = false) {
    // Room for the largest frame plus tunnel headers, rounded to a cache line.
    this.slotSize = align(HEADROOM + (superFrames ? Math.max(maxFrame, SUPER_FRAME_MAX) + TAILROOM : maxFrame));
    this.rxSlots = BATCH;
    this.genBase = this.rxSlots;
    this.pendingBase = this.genBase + GEN_SLOTS;
    const slots = this.pendingBase + PENDING_SLOTS;
    this.segStride = superFrames ? align(HEADROOM + maxFrame + TAILROOM) : 0;
    this.segBase = slots * this.slotSize;
    this.bytes = new Uint8Array(this.segBase + (superFrames ? SEG_SLOTS * this.segStride : 0));
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

  /** n consecutive segment slots: the frame offset of the first (stride segStride), or -1. */
  allocSegs(n: number): number {
    if (this.segStride === 0 || this.segUsed + n > SEG_SLOTS) return -1;
    const off = this.segBase + this.segUsed * this.segStride + HEADROOM;
    this.segUsed += n;
    return off;
  }

  /** True when the segment area is past half full: time to flush before the next frame. */
  segsLow(): boolean {
    return this.segUsed > SEG_SLOTS / 2;
  }

  /** Generated frames and segments live until the batch is transmitted. */
  resetGen(): void {
    this.genUsed = 0;
    this.segUsed = 0;
  }

  maxFrameLen(): number {
    return this.slotSize - HEADROOM;
  }

  /** The end of the slot the frame at off lies in (what may be appended stops there). */
  slotEndOf(off: number): number {
    if (off < this.segBase) return (Math.floor(off / this.slotSize) + 1) * this.slotSize;
    return this.segBase + (Math.floor((off - this.segBase) / this.segStride) + 1) * this.segStride;
  }
}
