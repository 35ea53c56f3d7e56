// One test file's pipeline: its own harness, the ways the file drives it (property runs of
// steps, single frames of the corpus, sequences), every step put to the oracle, and the
// outcomes and ticks they add up to for the summary the file logs at the end.
import assert from 'node:assert/strict';
import { C, type Harness, type StepResult, type TxDesc, hex } from '../../harness.js';
import { BASES } from '../frames/corpus.js';
import { type Ctx, InvariantError } from '../oracle/check.js';
import { checkReceive } from '../oracle/receive.js';
import { checkTick } from '../oracle/tick.js';
import type { Step } from './steps.js';

/** A base frame received on its own: the step, its outcome, the generated frames queued, the arena. */
export interface Received {
  r: StepResult;
  outcome: string;
  gen: TxDesc[];
  b: Uint8Array;
}

/** The last step of a sequence. */
export interface LastStep {
  step: StepResult;
  outcome: string;
  b: Uint8Array;
}

export class Session {
  readonly outcomes = new Map<string, number>();
  ticks = 0;
  private readonly started = performance.now();

  constructor(readonly h: Harness) {}

  /** Counts an outcome toward the summary. */
  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** One independent run: reset, then every frame through receiveFrame + servicePending, all checked. */
  runSteps(steps: Step[]): string[] {
    const h = this.h;
    h.reset();
    const history: string[] = [];
    const result: string[] = [];
    for (const s of steps) {
      history.push(`port ${s.port} tick ${s.tick} ${hex(s.frame.subarray(0, h.dp.arena.maxFrameLen()))}`);
      const c: Ctx = { h, step: h.inject(s.frame, s.port), history };
      const o = checkReceive(c);
      result.push(o);
      this.count(o);
      h.resetTx();
      if (s.tick >= 0) {
        this.ticks++;
        const tc: Ctx = { h, step: h.tick(s.tick), history };
        checkTick(tc);
        h.repatternReleased(tc.step.released);
        h.resetTx();
      }
    }
    const bad = h.drainAndScan();
    if (bad >= 0) {
      throw new InvariantError(
        `arena byte ${bad} (slot ${h.slotOf(bad)}) was written outside any frame` +
          `\n  run:\n    ${history.join('\n    ')}`,
      );
    }
    return result;
  }

  /** From a reset: the base frame `name` received (on its port, or `port`) and checked. */
  receive(name: string, port?: number): Received {
    const h = this.h;
    const base = BASES.find((x) => x.name === name);
    assert.ok(base, name);
    h.reset();
    const step = h.inject(base.frame, port ?? base.port);
    const outcome = checkReceive({ h, step, history: [] });
    this.count(outcome);
    return { r: step, outcome, gen: step.tx.filter((d) => h.isGenerated(d.off)), b: h.dp.arena.bytes };
  }

  /** The end of an example: the queues emptied, and no byte of the arena written outside a frame. */
  finish(): void {
    this.h.resetTx();
    assert.equal(this.h.drainAndScan(), -1, 'arena written outside frames');
  }

  /** Runs `names` (BASES) in one sequence, every step checked; returns the last step. */
  sequence(names: string[]): LastStep {
    const h = this.h;
    h.reset();
    const hist: string[] = [];
    let last: LastStep | null = null;
    for (const name of names) {
      if (last) h.resetTx();
      const base = BASES.find((x) => x.name === name);
      assert.ok(base, name);
      const step = h.inject(base.frame, base.port);
      hist.push(name);
      last = { step, outcome: checkReceive({ h, step, history: hist }), b: h.dp.arena.bytes };
    }
    return last!;
  }

  /** What the file's runs added up to: frames and ticks, outcomes, VXLAN, the recorder. */
  logSummary(label: string): void {
    const h = this.h;
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    const dist = [...this.outcomes.entries()]
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(
      `# pipeline, ${label}: ${h.frames} frames through receiveFrame, ` +
        `${this.ticks} servicePending ticks, ${secs}s`,
    );
    console.log(`# outcomes: ${dist}`);
    console.log(
      `# VXLAN: ${h.dp.ctr[C.vxlanDecapsulated]} frames decapsulated, ` +
        `${h.dp.ctr[C.vxlanEncapsulated]} encapsulated`,
    );
    if (h.dp.recorder) {
      console.log(
        `# recorder: ${h.dp.ctr[C.recorderCaptured]} captures, ` + `${h.dp.ctr[C.recorderLost]} lost to the full ring`,
      );
    }
  }
}
