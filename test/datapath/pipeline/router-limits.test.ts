// Router examples at the limits: full pending and TX queues and exhausted generated slots
// still end each frame in one outcome; martian destinations and unspecified sources are never
// forwarded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  COUNTER_NAMES,
  EP1,
  EP1_4,
  EP1_6,
  EP1_MAC,
  EP2,
  GEN_SLOTS,
  NH_MAC,
  OUT_6,
  OUTCOME_IDX,
  PENDING_SLOTS,
  TX_PER_PORT,
  UP,
  ip,
  udp,
} from '../harness.js';
import { PAY, U, ZERO6, v4, v6 } from './frames/builders.js';
import { BASES } from './frames/corpus.js';
import { checkReceive } from './oracle/receive.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('full pending queue, full TX queue, exhausted generated slots: still one outcome per frame', () => {
  const hist: string[] = [];
  // 129 frames for 129 different unknown neighbours on the uplink's connected /24.
  h.reset();
  const outs: string[] = [];
  for (let i = 0; i <= PENDING_SLOTS; i++) {
    const dst = Uint8Array.of(198, 18, 0, 10 + i); // (.2 and .5 are VTEPs)
    const f = v4(EP1, EP1_MAC, { src: EP1_4, dst, proto: U }, udp(EP1_4, dst, 1, 2, PAY));
    outs.push(checkReceive({ h, step: h.inject(f, EP1), history: hist }));
    h.resetTx();
  }
  assert.equal(outs.filter((o) => o === 'pendingQueued').length, PENDING_SLOTS);
  assert.equal(outs[PENDING_SLOTS], 'dropPendingFull');
  session.finish();
  // TX queue of one port full: the frame is dropped and counted once.
  h.reset();
  const fwd = BASES.find((x) => x.name === 'udp4-ep2-to-ep1')!.frame;
  let last = '';
  for (let i = 0; i <= TX_PER_PORT; i++) {
    const step = h.inject(fwd, EP2);
    const d = step.delta;
    const moved = OUTCOME_IDX.filter((k) => d[k] !== 0);
    assert.equal(moved.length, 1);
    last = COUNTER_NAMES[moved[0]];
  }
  assert.equal(last, 'dropTxFull');
  assert.equal(h.dp.tx.count[EP1], TX_PER_PORT);
  session.finish();
  // More ICMP errors in one batch than generated slots.
  h.reset();
  const ttl1 = BASES.find((x) => x.name === 'udp4-ttl1')!.frame;
  let sent = 0;
  for (let i = 0; i < GEN_SLOTS + 72; i++) {
    h.dp.now += 10; // keep the ICMP token bucket from being the limit
    const step = h.inject(ttl1, EP1);
    const moved = OUTCOME_IDX.filter((k) => step.delta[k] !== 0);
    assert.deepEqual(moved, [C.dropTtlExceeded]);
    sent += step.delta[C.icmpErrorsSent];
  }
  assert.equal(sent, GEN_SLOTS, 'one ICMP error per generated slot');
  session.finish();
});

test('a router does not forward martian destinations (127/8, 0/8, ::1) or unspecified sources', () => {
  const cases: [string, Uint8Array, number][] = [
    [
      'v4 dst 127.0.0.1',
      v4(EP1, EP1_MAC, { src: EP1_4, dst: ip('127.0.0.1'), proto: U }, udp(EP1_4, ip('127.0.0.1'), 1, 2, PAY)),
      EP1,
    ],
    [
      'v4 dst 0.0.0.5',
      v4(EP1, EP1_MAC, { src: EP1_4, dst: ip('0.0.0.5'), proto: U }, udp(EP1_4, ip('0.0.0.5'), 1, 2, PAY)),
      EP1,
    ],
    ['v6 dst ::1', v6(UP, NH_MAC, OUT_6, ip('::1'), U, 64, udp(OUT_6, ip('::1'), 1, 2, PAY)), UP],
    ['v6 src ::', v6(UP, NH_MAC, ZERO6, EP1_6, U, 64, udp(ZERO6, EP1_6, 1, 2, PAY)), UP],
  ];
  const bad: string[] = [];
  for (const [name, frame, port] of cases) {
    h.reset();
    const outcome = checkReceive({ h, step: h.inject(frame, port), history: [] });
    if (outcome === 'forwarded' || outcome === 'pendingQueued') bad.push(`${name}: ${outcome}`);
    session.finish();
  }
  assert.deepEqual(bad, []);
});

after(() => session.logSummary('router limits'));
