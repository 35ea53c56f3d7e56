// Frames chosen for transmission during one batch, grouped by output port, then written
// with one native txBatch call per port.
import { MAX_PORTS } from '../tables/port-table.js';

export const TX_PER_PORT = 256;

export class TxQueues {
  /** Pairs (offset, length) per port: port p owns desc[p*2*TX_PER_PORT ...]. */
  readonly desc = new Int32Array(MAX_PORTS * 2 * TX_PER_PORT);
  readonly count = new Int32Array(MAX_PORTS);
  /** Ports with at least one frame queued this batch, in first-use order. */
  readonly dirty = new Int32Array(MAX_PORTS);
  dirtyCount = 0;

  /** False when the port's queue is full (the caller counts the drop). */
  push(port: number, off: number, len: number): boolean {
    const n = this.count[port];
    if (n === TX_PER_PORT) return false;
    if (n === 0) this.dirty[this.dirtyCount++] = port;
    const d = (port * TX_PER_PORT + n) * 2;
    this.desc[d] = off;
    this.desc[d + 1] = len;
    this.count[port] = n + 1;
    return true;
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
