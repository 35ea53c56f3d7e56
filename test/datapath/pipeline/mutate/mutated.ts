// Mutated valid frames: the arbitraries of a mutation and of a mutated step, and the step
// built from one (a corpus frame, mutated, optionally fixed up).
import fc from 'fast-check';
import { concat } from '../../harness.js';
import type { Base } from '../frames/builders.js';
import { BASES } from '../frames/corpus.js';
import { type Step, portArb, tickArb } from '../run/steps.js';
import { FIELDS, type Field, applyField } from './fields.js';
import { fixUp } from './fix-up.js';
import type { Val } from './values.js';

/** One mutation: a bit flip, a byte set, a cut, junk appended, or a header field changed. */
export type Mut =
  | { k: 'flip'; pos: number; mask: number }
  | { k: 'set'; pos: number; v: number }
  | { k: 'truncate'; at: number }
  | { k: 'extend'; junk: Uint8Array }
  | { k: 'field'; f: Field; v: Val };

const valArb: fc.Arbitrary<Val> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ m: fc.constant('pick' as const), i: fc.nat(64) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('rel' as const), d: fc.integer({ min: -9, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('avail' as const), d: fc.integer({ min: -2, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('raw' as const), v: fc.nat(0xffffffff) }) },
);

const byteArb = (min: number) => fc.integer({ min, max: 255 });

const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('flip' as const), pos: fc.nat(1600), mask: byteArb(1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('set' as const), pos: fc.nat(1600), v: byteArb(0) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: fc.nat(1600) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('extend' as const), junk: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('field' as const), f: fc.constantFrom(...FIELDS), v: valArb }) },
);

/** A corpus frame (by index), its mutations, what to fix up after, and the step's port and tick. */
export interface Mutated {
  base: number;
  muts: Mut[];
  fixLen: boolean;
  fixL4: boolean;
  fixIp: boolean;
  altZero: boolean;
  port: number | null;
  tick: number;
}

export const mutatedArb: fc.Arbitrary<Mutated> = fc.record({
  base: fc.nat(BASES.length - 1),
  muts: fc.array(mutArb, { minLength: 0, maxLength: 4 }),
  fixLen: fc.boolean(),
  fixL4: fc.boolean(),
  fixIp: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  altZero: fc.boolean(),
  port: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: portArb }),
  tick: tickArb,
});

/** The step a Mutated describes, over `bases` (the index wraps around). */
export function buildMutated(m: Mutated, bases: Base[] = BASES): Step {
  const base = bases[m.base % bases.length];
  let f: Uint8Array = base.frame.slice();
  for (const op of m.muts) {
    switch (op.k) {
      case 'flip':
        if (f.length) f[op.pos % f.length] ^= op.mask;
        break;
      case 'set':
        if (f.length) f[op.pos % f.length] = op.v;
        break;
      case 'truncate':
        f = f.slice(0, op.at % (f.length + 1));
        break;
      case 'extend':
        f = concat(f, op.junk);
        break;
      case 'field':
        applyField(f, op.f, op.v);
        break;
    }
  }
  fixUp(f, m.fixLen, m.fixL4, m.fixIp, m.altZero);
  return { frame: f, port: m.port ?? base.port, tick: m.tick };
}
