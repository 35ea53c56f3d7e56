// Property: random bytes, raw or behind a plausible Ethernet header, on random ports. Whatever
// arrives, every frame ends in exactly one outcome and the oracle holds for each step.
import { test, after } from 'node:test';
import fc from 'fast-check';
import { EP1_MAC, EP2_MAC, NH_MAC, eth } from '../harness.js';
import { MACS } from './mutate/values.js';
import { assertProperty } from './run/property.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';
import { type Step, portArb, tickArb } from './run/steps.js';

const session = new Session(recordingHarness());
const h = session.h;

/** Deterministic pseudo-random bytes (xorshift32): long random frames without 1600 shrinkable elements each. */
function prng(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed | 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

/** Random bytes, 0..max long: short ones element by element (shrinkable), long ones from a seed. */
function randomBytes(max: number): fc.Arbitrary<Uint8Array> {
  const seeded = fc
    .record({ len: fc.integer({ min: 0, max }), seed: fc.integer() })
    .map(({ len, seed }) => prng(len, seed));
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 80 }) },
    { weight: 4, arbitrary: seeded },
  );
}

test('random byte strings on random ports', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const stepArb = fc.record({ frame: randomBytes(1600), port: portArb, tick: tickArb });
  const runArb = fc.array(stepArb, { minLength: 1, maxLength: 3 });
  assertProperty(
    fc.property(runArb, (steps) => {
      session.runSteps(steps);
    }),
    10000,
  );
  t.diagnostic(`${h.frames - f0} frames`);
});

test('random payloads behind a plausible Ethernet header', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const stepArb = fc
    .record({
      dst: fc.oneof(fc.constantFrom(...MACS), fc.uint8Array({ minLength: 6, maxLength: 6 })),
      src: fc.oneof(fc.constantFrom(EP1_MAC, EP2_MAC, NH_MAC), fc.uint8Array({ minLength: 6, maxLength: 6 })),
      type: fc.oneof(fc.constantFrom(0x0800, 0x86dd, 0x0806, 0x8100), fc.integer({ min: 0, max: 0xffff })),
      first: fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00, 0x01),
      payload: randomBytes(1586),
      port: portArb,
      tick: tickArb,
    })
    .map((s): Step => {
      const p = s.payload.slice();
      if (p.length && (s.type === 0x0800 || s.type === 0x86dd)) p[0] = s.first;
      return { frame: eth(s.dst, s.src, s.type, p), port: s.port, tick: s.tick };
    });
  const runArb = fc.array(stepArb, { minLength: 1, maxLength: 3 });
  assertProperty(
    fc.property(runArb, (steps) => {
      session.runSteps(steps);
    }),
    8000,
  );
  t.diagnostic(`${h.frames - f0} frames`);
});

// (The recorder runs here too, but few random frames classify: the ring need not fill.)
after(() => session.logSummary('random frames'));
