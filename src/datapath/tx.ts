// Frames chosen for transmission during one batch, grouped by output port, then written
// with one native txBatch call per port. Also the recorder's outbound capture point: while
// the frame being processed matched a recording (recordBits), every frame it causes to be
// queued — after encapsulation, just before transmit — is captured with the same recordings.
import { MAX_PORTS } from '../tables/port-table.js';
import { FIRST_PSEUDO_PORT } from '../tables/layout.js';
import type { RecorderReader } from '../recorder/tables.js';
import { POINT_OUT } from '../recorder/tables.js';
import { C } from './counters.js';
import { VNET_WORDS } from '../native/tap.js';

export const TX_PER_PORT = 256;

export class TxQueues {
  /** Pairs (offset, length) per port: port p owns desc[p*2*TX_PER_PORT ...]. */
  readonly desc = new Int32Array(MAX_PORTS * 2 * TX_PER_PORT);
  /** Each descriptor's virtio_net_hdr (VNET_WORDS words), for ports with offloads. */
  readonly vnet = new Int32Array(MAX_PORTS * TX_PER_PORT * VNET_WORDS);
  readonly count = new Int32Array(MAX_PORTS);
  /** Ports with at least one frame queued this batch, in first-use order. */
  readonly dirty = new Int32Array(MAX_PORTS);
  dirtyCount = 0;
  /** The longest port queue since the last transmit (the worker transmits early past half full). */
  highWater = 0;
  /** Recordings the received frame matched at the inbound point (0: none). */
  recordBits = 0;
  private recorder: RecorderReader | null = null;
  private bytes: Uint8Array = new Uint8Array(0);
  private ctr: Float64Array = new Float64Array(0);

  attachRecorder(recorder: RecorderReader | null, bytes: Uint8Array, ctr: Float64Array): void {
    this.recorder = recorder;
    this.bytes = bytes;
    this.ctr = ctr;
  }

  /** False when the port's queue is full (the caller counts the drop). */
  push(port: number, off: number, len: number): boolean {
    const n = this.count[port];
    if (n === TX_PER_PORT) return false;
    if (n >= this.highWater) this.highWater = n + 1;
    if (n === 0) this.dirty[this.dirtyCount++] = port;
    const d = (port * TX_PER_PORT + n) * 2;
    this.desc[d] = off;
    this.desc[d + 1] = len;
    // No offload state (d / 2 is the index): every word zero, not only flags and GSO type. The
    // kernel checks hdr_len against the frame whatever the flags say (tun_vnet_hdr_get), so one a
    // super-frame left in this descriptor fails a shorter frame (an ARP reply) with EINVAL.
    for (let i = d * 3; i < d * 3 + VNET_WORDS; i++) this.vnet[i] = 0;
    this.count[port] = n + 1;
    this.capture(port, off, len);
    return true;
  }

  /** Like push, with the frame's offload header (vnet[at..at+VNET_WORDS)), for a port with offloads. */
  pushVnet(port: number, off: number, len: number, vnet: Int32Array, at: number): boolean {
    if (!this.push(port, off, len)) return false;
    const d = (port * TX_PER_PORT + this.count[port] - 1) * VNET_WORDS;
    for (let i = 0; i < VNET_WORDS; i++) this.vnet[d + i] = vnet[at + i];
    return true;
  }

  /**
   * The recorder's outbound capture of a frame queued on port (push), or of one that does not get
   * a descriptor of its own (GRO merges it). Pseudo-ports' frames (VXLAN, WireGuard) are captured
   * once encapsulated onto an uplink.
   */
  capture(port: number, off: number, len: number): void {
    if (this.recordBits !== 0 && port < FIRST_PSEUDO_PORT) {
      this.recorder!.capture(
        this.bytes,
        off,
        len,
        this.recordBits,
        POINT_OUT,
        port,
        this.ctr,
        C.recorderCaptured,
        C.recorderLost,
      );
    }
  }

  /**
   * For frames the router makes up on its own account (ARP requests, neighbour solicitations):
   * queued like any other but never captured as part of the flow that triggered them.
   */
  pushUncaptured(port: number, off: number, len: number): boolean {
    const bits = this.recordBits;
    this.recordBits = 0;
    const ok = this.push(port, off, len);
    this.recordBits = bits;
    return ok;
  }

  /** Forgets what is queued on port and takes it off the dirty list (the tunnel pseudo-port). */
  clear(port: number): void {
    if (this.count[port] === 0) return;
    this.count[port] = 0;
    for (let k = 0; k < this.dirtyCount; k++) {
      if (this.dirty[k] === port) {
        this.dirty[k] = this.dirty[--this.dirtyCount];
        return;
      }
    }
  }
}
