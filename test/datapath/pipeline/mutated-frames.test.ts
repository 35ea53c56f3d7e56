// Property: valid frames of the corpus, mutated (bits, bytes, cuts, junk, header fields) and
// optionally fixed up to reach deeper code, in runs of up to four on one harness.
import { test, after } from 'node:test';
import fc from 'fast-check';
import { buildMutated, mutatedArb } from './mutate/mutated.js';
import { assertProperty } from './run/property.js';
import { assertRecorderFilled, recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('mutated valid frames', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const runArb = fc.array(mutatedArb, { minLength: 1, maxLength: 4 });
  assertProperty(
    fc.property(runArb, (ms) => {
      session.runSteps(ms.map((m) => buildMutated(m)));
    }),
    34000,
  );
  t.diagnostic(`${h.frames - f0} frames`);
});

after(() => {
  session.logSummary('mutated frames');
  assertRecorderFilled(h);
});
