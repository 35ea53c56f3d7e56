// How the oracle reports: a step's context, and an InvariantError that carries the step and
// the run so far (fast-check shows the message of the counterexample's error).
import { Harness, type StepResult, hex } from '../../harness.js';

export interface Ctx {
  /** The harness the step ran in (its tables, arena and queues are what the checks read). */
  h: Harness;
  step: StepResult;
  /** The run's frames so far, for messages. */
  history: string[];
}

/** One step for an error message: input, counters moved, descriptors queued, pending slots. */
function describeStep(r: StepResult): string {
  const tx = r.tx.map((d) => `${d.port}@${d.off}+${d.len}`).join(' ');
  return (
    `\n  port ${r.port} len ${r.input.length} frame ${hex(r.input)}` +
    `\n  counters ${JSON.stringify(Harness.named(r.delta))}` +
    `\n  tx [${tx}] parked [${r.parked}] released [${r.released}]`
  );
}

export class InvariantError extends Error {}

export function fail(c: Ctx, msg: string): never {
  const run = c.history.length > 1 ? `\n  run so far:\n    ${c.history.join('\n    ')}` : '';
  throw new InvariantError(`${msg}${describeStep(c.step)}${run}`);
}

export function check(c: Ctx, cond: boolean, msg: string): asserts cond {
  if (!cond) fail(c, msg);
}
