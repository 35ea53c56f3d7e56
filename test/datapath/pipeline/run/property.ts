// Running a property: WEFT_PROP_SCALE scales every run count, WEFT_PROP_SEED replays a seed.
import fc from 'fast-check';

const SCALE = Number(process.env.WEFT_PROP_SCALE ?? '1');
const SEED = process.env.WEFT_PROP_SEED === undefined ? undefined : Number(process.env.WEFT_PROP_SEED);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));

/** fc.assert, but the failure message carries the invariant that broke (node:test hides `cause`). */
export function assertProperty<T>(prop: fc.IProperty<[T]>, numRuns: number): void {
  const d = fc.check(prop, SEED === undefined ? { numRuns: runs(numRuns) } : { numRuns: runs(numRuns), seed: SEED });
  if (!d.failed) return;
  const err = d.errorInstance as Error | undefined;
  throw new Error(
    `property failed after ${d.numRuns} runs (seed ${d.seed}, path "${d.counterexamplePath}", ` +
      `shrunk ${d.numShrinks} times)\n` +
      `counterexample: ${fc.stringify(d.counterexample)}\n${err?.message ?? String(err)}`,
  );
}
