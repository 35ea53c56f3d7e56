/*
 * CounterBlock: per-worker rows of named counters in a SharedArrayBuffer.
 *
 * Float64 so counts stay exact integers up to 2^53. Each worker owns one row and
 * increments it with plain `row[i] += 1` (one writer per row: no atomics, no
 * contention). Rows are padded to 64 bytes so workers never share a cache line.
 * The control thread reads all rows with plain loads: a value may be a few
 * increments stale but never torn in practice (aligned 8-byte loads/stores on
 * x64/arm64; the JS spec does not formally promise this for Float64Array).
 *
 * Layout (Float64Array): [magic, nNames, workers, stride, 0,0,0,0] then
 * `workers` rows of `stride` doubles.
 */

const MAGIC = 0x57434e31; // "WCN1"
const HEADER = 8;

export class CounterBlock {
  readonly names: readonly string[];
  readonly workers: number;
  private readonly rows: Float64Array[];

  private constructor(
    readonly sab: SharedArrayBuffer,
    names: readonly string[],
  ) {
    const hdr = new Float64Array(sab, 0, HEADER);
    if (hdr[0] !== MAGIC) throw new Error('CounterBlock: bad magic (not a counter SAB)');
    if (hdr[1] !== names.length) throw new Error(`CounterBlock: SAB has ${hdr[1]} counters, got ${names.length} names`);
    this.names = names.slice();
    this.workers = hdr[2]!;
    const stride = hdr[3]!;
    this.rows = [];
    for (let w = 0; w < this.workers; w++) {
      this.rows.push(new Float64Array(sab, 8 * (HEADER + w * stride), names.length));
    }
  }

  static create(names: readonly string[], workers: number): CounterBlock {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError('workers must be >= 1');
    if (new Set(names).size !== names.length) throw new Error('CounterBlock: duplicate counter names');
    const stride = Math.max(8, (names.length + 7) & ~7);
    const sab = new SharedArrayBuffer(8 * (HEADER + workers * stride));
    const hdr = new Float64Array(sab, 0, HEADER);
    hdr[1] = names.length;
    hdr[2] = workers;
    hdr[3] = stride;
    hdr[0] = MAGIC;
    return new CounterBlock(sab, names);
  }

  /** `names` must be the same list (same order) the block was created with. */
  static attach(sab: SharedArrayBuffer, names: readonly string[]): CounterBlock {
    return new CounterBlock(sab, names);
  }

  /** The worker's own row; the same view every call (index i = names[i]). */
  row(worker: number): Float64Array {
    const r = this.rows[worker];
    if (r === undefined) throw new RangeError(`CounterBlock: no row for worker ${worker}`);
    return r;
  }

  /** Index of a counter name in each row, or -1. */
  indexOf(name: string): number {
    return this.names.indexOf(name);
  }

  /** Control thread: totals and per-worker values by name. */
  read(): { total: Record<string, number>; perWorker: Record<string, number>[] } {
    const total: Record<string, number> = {};
    const perWorker: Record<string, number>[] = [];
    for (const n of this.names) total[n] = 0;
    for (const r of this.rows) {
      const o: Record<string, number> = {};
      this.names.forEach((n, i) => {
        o[n] = r[i]!;
        total[n]! += r[i]!;
      });
      perWorker.push(o);
    }
    return { total, perWorker };
  }
}
