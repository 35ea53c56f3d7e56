// Fragmentation from a jumbo port: ep1 with MTU 9000 (a harness of its own, without the
// recorder), so packets are cut into many fragments, toward the 1500-byte uplink, the
// 1400-byte ep2 and the tunnels; the seeds for their outcomes, then mutated.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  C,
  EP1,
  EP1_4,
  EP1_MAC,
  EP2_4,
  Harness,
  type Ipv4Opts,
  OUT_4,
  POD_B4,
  POD_C4,
  POD_D4,
  bytes,
  icmp4,
  udp,
} from '../harness.js';
import { type Base, U, v4 } from './frames/builders.js';
import { BASES } from './frames/corpus.js';
import { OPTS_BAD_TAIL, OPTS_MAX, OPTS_MIXED, OPTS_NOT_COPIED } from './frames/ipv4-options.js';
import { buildMutated, mutatedArb } from './mutate/mutated.js';
import { checkReceive } from './oracle/receive.js';
import { assertProperty } from './run/property.js';
import { Session } from './run/session.js';

const JUMBO_MTUS = [9000, 1400, 1500];
const session = new Session(new Harness({ mtus: JUMBO_MTUS }));
const h = session.h;

/** A packet from ep1 of `size` bytes of payload (UDP, or raw for a later fragment); `o` adds to the IPv4 header. */
function jumboFrame(dst: Uint8Array, o: Partial<Ipv4Opts>, size: number, l4 = true): Uint8Array {
  const payload = l4 ? udp(EP1_4, dst, 9000, 9001, bytes(size - 8, 17)) : bytes(size, 19);
  return v4(EP1, EP1_MAC, { src: EP1_4, dst, proto: U, ...o }, payload);
}

/** [base, outcome, fragments sent, fragments parked]. */
const JUMBO: [Base, string, number, number][] = [
  [{ name: 'j-udp4-9000-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 8980) }, 'fragmented', 7, 0],
  [{ name: 'j-udp4-1501-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 1481) }, 'fragmented', 2, 0],
  [{ name: 'j-udp4-1500-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 1480) }, 'forwarded', 0, 0],
  [
    { name: 'j-udp4-opts-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_MIXED }, 6000) },
    'fragmented',
    5,
    0,
  ],
  [
    { name: 'j-udp4-maxopts-to-ep2', port: EP1, frame: jumboFrame(EP2_4, { options: OPTS_MAX }, 8000) },
    'fragmented',
    0,
    6,
  ],
  [
    { name: 'j-udp4-notcopied-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_NOT_COPIED }, 3000) },
    'fragmented',
    3,
    0,
  ],
  [{ name: 'j-udp4-mf-to-out', port: EP1, frame: jumboFrame(OUT_4, { mf: true }, 4000) }, 'fragmented', 3, 0],
  [
    { name: 'j-udp4-later-to-out', port: EP1, frame: jumboFrame(OUT_4, { fragOff: 1000 }, 4000, false) },
    'fragmented',
    3,
    0,
  ],
  [
    {
      name: 'j-udp4-later-mf-opts-to-out',
      port: EP1,
      frame: jumboFrame(OUT_4, { fragOff: 2000, mf: true, options: OPTS_MIXED }, 4000, false),
    },
    'fragmented',
    3,
    0,
  ],
  [
    { name: 'j-udp4-overflow-to-out', port: EP1, frame: jumboFrame(OUT_4, { fragOff: 7500 }, 8000, false) },
    'dropFragmentOffsetOverflow',
    0,
    0,
  ],
  [
    { name: 'j-udp4-badopts-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_BAD_TAIL }, 3000) },
    'dropFragmentBadOptions',
    0,
    0,
  ],
  [{ name: 'j-udp4-df-to-out', port: EP1, frame: jumboFrame(OUT_4, { df: true }, 3000) }, 'dropTooBig', 0, 0],
  [{ name: 'j-udp4-ttl1-to-out', port: EP1, frame: jumboFrame(OUT_4, { ttl: 1 }, 3000) }, 'dropTtlExceeded', 0, 0],
  [{ name: 'j-udp4-to-pod-b', port: EP1, frame: jumboFrame(POD_B4, {}, 8980) }, 'fragmented', 7, 0],
  [
    { name: 'j-udp4-opts-to-pod-c', port: EP1, frame: jumboFrame(POD_C4, { options: OPTS_MIXED }, 5000) },
    'fragmented',
    0,
    4,
  ],
  [{ name: 'j-udp4-to-pod-d', port: EP1, frame: jumboFrame(POD_D4, {}, 3000) }, 'fragmented', 3, 0],
  [
    {
      name: 'j-echo4-to-ep2',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: 1 }, icmp4(8, 0, 0x42420001, bytes(5000, 5))),
    },
    'fragmented',
    0,
    4,
  ],
  [BASES.find((x) => x.name === 'arp-reply-ep2')!, 'consumed', 0, 0],
];
const JUMBO_BASES = JUMBO.map(([base]) => base);

test('jumbo ep1: every seed ends in its outcome, with that many fragments sent or parked', () => {
  const wrong: string[] = [];
  for (const [base, expected, sent, parked] of JUMBO) {
    h.reset();
    const step = h.inject(base.frame, base.port);
    const outcome = checkReceive({ h, step, history: [base.name] });
    session.count(outcome);
    const got = [outcome, step.delta[C.fragmentsSent], step.delta[C.fragmentsQueued]];
    const want = [expected, sent, parked];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      wrong.push(`${base.name}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
    h.resetTx();
    assert.equal(h.drainAndScan(), -1, `${base.name}: arena written outside frames`);
  }
  assert.deepEqual(wrong, []);
});

test('jumbo ep1: mutated seeds', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const runArb = fc.array(mutatedArb, { minLength: 1, maxLength: 3 });
  assertProperty(
    fc.property(runArb, (ms) => {
      session.runSteps(ms.map((m) => buildMutated(m, JUMBO_BASES)));
    }),
    1500,
  );
  t.diagnostic(`${h.frames - f0} frames`);
});

after(() => session.logSummary('jumbo ep1'));
