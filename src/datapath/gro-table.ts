// The flows GRO (gro.ts) is coalescing in one worker: one candidate frame each, waiting in a TX
// queue for the next segment of its flow. Reset whenever the worker transmits.

/** Flows one batch coalesces at once (a new one evicts the oldest). */
export const GRO_FLOWS = 8;

export class GroTable {
  count = 0;
  private next = 0;
  readonly port = new Int32Array(GRO_FLOWS);
  /** The candidate's TX descriptor: index within its port's queue. */
  readonly desc = new Int32Array(GRO_FLOWS);
  readonly off = new Int32Array(GRO_FLOWS);
  readonly len = new Int32Array(GRO_FLOWS);
  /** L4 header offset relative to the frame, and TCP header length. */
  readonly l4 = new Int32Array(GRO_FLOWS);
  readonly thl = new Int32Array(GRO_FLOWS);
  readonly size = new Int32Array(GRO_FLOWS);
  readonly segs = new Int32Array(GRO_FLOWS);
  readonly nextSeq = new Float64Array(GRO_FLOWS);
  readonly closed = new Uint8Array(GRO_FLOWS);

  reset(): void {
    this.count = 0;
    this.next = 0;
  }

  /** A slot for a new candidate: a free one, else the oldest. */
  take(): number {
    if (this.count < GRO_FLOWS) return this.count++;
    const i = this.next;
    this.next = (this.next + 1) % GRO_FLOWS;
    return i;
  }
}
