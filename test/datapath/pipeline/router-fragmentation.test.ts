// Router examples of IPv4 fragmentation toward the 1400-byte ep2: DF → too big, no DF →
// fragments (parked behind one ARP request, or sent at once to a known neighbour), the options
// later fragments copy, offsets and MF, the 13-bit limit, and resources running out.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  EP1,
  EP2,
  EP2_4,
  EP2_MAC,
  GEN_SLOTS,
  OUTCOME_IDX,
  PENDING_SLOTS,
  PORT_MACS,
  TX_PER_PORT,
  concat,
  csum,
  equalBytes,
  hex,
} from '../harness.js';
import { BASES } from './frames/corpus.js';
import { OPTS_MAX, OPTS_MIXED } from './frames/ipv4-options.js';
import { checkReceive } from './oracle/receive.js';
import { checkTick } from './oracle/tick.js';
import { g16 } from './reading/frame.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('oversize IPv4 to the 1400-MTU port: DF → dropTooBig + frag needed 1400; no DF → fragmented', () => {
  const { r, outcome, gen, b } = session.receive('udp4-big-df-to-ep2');
  assert.equal(outcome, 'dropTooBig');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  const o = gen[0].off;
  assert.equal(b[o + 34], 3);
  assert.equal(b[o + 35], 4);
  assert.equal(g16(b, o + 40), 1400);
  assert.equal(csum(b, o + 34, gen[0].len - 34), 0);
  assert.equal(gen[0].len, 14 + 576, 'error quotes up to 576 bytes');
  session.finish();
  // 1450 bytes without DF: 20 + 1376 and 20 + 54, parked for ep2 (unknown) behind one ARP request.
  const hist: string[] = [];
  const n = session.receive('udp4-big-nodf-to-ep2');
  assert.equal(n.outcome, 'fragmented');
  assert.equal(n.r.delta[C.fragmentsQueued], 2);
  assert.equal(n.r.delta[C.neighbourRequests], 1);
  assert.equal(n.r.delta[C.pendingQueued] + n.r.delta[C.forwarded], 0);
  const q = h.dp.pending;
  assert.deepEqual(
    n.r.parked.map((i) => q.len[i]),
    [14 + 1396, 14 + 74],
  );
  assert.deepEqual(
    n.r.parked.map((i) => g16(n.b, q.frameOff(i) + 20)),
    [0x2000, 172],
  );
  h.resetTx();
  let step = h.inject(BASES.find((x) => x.name === 'arp-reply-ep2')!.frame, EP2);
  assert.equal(checkReceive({ h, step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ h, step, history: hist });
  assert.equal(step.delta[C.pendingSent], 2);
  assert.deepEqual(
    step.tx.map((t) => [t.port, t.len]),
    [
      [EP2, 14 + 1396],
      [EP2, 14 + 74],
    ],
  );
  for (const t of step.tx) assert.ok(equalBytes(h.dp.arena.bytes, t.off, EP2_MAC, 0, 6));
  h.repatternReleased(step.released);
  session.finish();
});

test('fragments to a known neighbour go out at once: every option in the first, the copied ones in the others', () => {
  const { step, outcome, b } = session.sequence(['arp-reply-ep2', 'udp4-big-opts-nodf-to-ep2']);
  assert.equal(outcome, 'fragmented');
  assert.equal(step.delta[C.fragmentsSent], 2);
  assert.equal(step.parked.length, 0);
  const [f0, f1] = step.tx;
  // 36-byte header (16 bytes of options), 1360 bytes of data; then 28 (the 8 copied) + 48.
  assert.deepEqual(
    [f0.port, f0.len, b[f0.off + 14], f1.port, f1.len, b[f1.off + 14]],
    [EP2, 14 + 36 + 1360, 0x49, EP2, 14 + 28 + 48, 0x47],
  );
  assert.ok(equalBytes(b, f0.off + 34, OPTS_MIXED, 0, OPTS_MIXED.length));
  assert.deepEqual([...b.subarray(f1.off + 34, f1.off + 42)], [0x94, 4, 0, 0, 0x88, 4, 0x12, 0x34]);
  for (const t of [f0, f1]) {
    assert.ok(equalBytes(b, t.off, EP2_MAC, 0, 6) && equalBytes(b, t.off + 6, PORT_MACS[EP2], 0, 6));
    assert.equal(b[t.off + 22], 63);
    assert.equal(csum(b, t.off + 14, (b[t.off + 14] & 15) * 4), 0);
  }
  assert.deepEqual([g16(b, f0.off + 20), g16(b, f1.off + 20)], [0x2000, 170]);
  session.finish();
});

test(
  'fragmentation: options not copied, EOL, 40 bytes of options, MF and offsets of a fragment, ' +
    'the 13-bit limit, bad options',
  () => {
    /** [outcome, IHL of each fragment, flags/offset word of each] of a base toward ep2 (parked: ep2 unknown). */
    const shape = (name: string): [string, number[], number[]] => {
      const { r, outcome, b } = session.receive(name);
      const q = h.dp.pending;
      const offs = r.parked.map((i) => q.frameOff(i));
      const res: [string, number[], number[]] = [
        outcome,
        offs.map((o) => (b[o + 14] & 15) * 4),
        offs.map((o) => g16(b, o + 20)),
      ];
      session.finish();
      return res;
    };
    assert.deepEqual(shape('udp4-big-notcopied-nodf-to-ep2'), ['fragmented', [32, 20], [0x2000, 171]]);
    assert.deepEqual(shape('udp4-big-eolopts-nodf-to-ep2'), ['fragmented', [28, 24], [0x2000, 171]]);
    assert.deepEqual(shape('udp4-big-maxopts-nodf-to-ep2'), ['fragmented', [60, 36], [0x2000, 167]]);
    assert.deepEqual(shape('udp4-big-mf-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000, 0x2000 | 172]]);
    assert.deepEqual(shape('udp4-big-later-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000 | 185, 185 + 172]]);
    assert.deepEqual(shape('udp4-big-later-mf-nodf-to-ep2'), [
      'fragmented',
      [36, 28],
      [0x2000 | 370, 0x2000 | (370 + 170)],
    ]);
    assert.deepEqual(shape('udp4-big-edge-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000 | (0x1fff - 172), 0x1fff]]);
    assert.deepEqual(shape('udp4-big-overflow-nodf-to-ep2'), ['dropFragmentOffsetOverflow', [], []]);
    assert.deepEqual(shape('udp4-big-badopts-nodf-to-ep2'), ['dropFragmentBadOptions', [], []]);
    assert.deepEqual(shape('udp4-big-badtail-nodf-to-ep2'), ['dropFragmentBadOptions', [], []]);
    // The later fragments of the 40-byte options carry security (11) and router alert (4), one EOL of padding.
    const { r, b } = session.receive('udp4-big-maxopts-nodf-to-ep2');
    const o = h.dp.pending.frameOff(r.parked[1]);
    assert.equal(hex(b.subarray(o + 34, o + 50)), hex(concat(OPTS_MAX.subarray(0, 15), Uint8Array.of(0))));
    assert.equal(b[o + 22], 1, 'TTL 2 - 1');
    assert.equal(g16(b, o + 18), 0xbeef, 'the ID of the packet');
    session.finish();
  },
);

test(
  'fragments and exhausted resources: no generated slots → dropFragmentNoSlots and nothing sent; ' +
    'full TX / pending queues → fragmentsLost',
  () => {
    const hist: string[] = [];
    const big = BASES.find((x) => x.name === 'udp4-big-nodf-to-ep2')!.frame;
    // Two free generated slots: both fragments fit, the ARP request does not.
    h.reset();
    for (let i = 0; i < GEN_SLOTS - 2; i++) h.dp.arena.allocGen();
    let step = h.inject(big, EP1);
    assert.equal(checkReceive({ h, step, history: hist }), 'fragmented');
    assert.deepEqual([step.delta[C.fragmentsQueued], step.delta[C.neighbourRequests]], [2, 0]);
    session.finish();
    // One free slot: nothing at all.
    h.reset();
    for (let i = 0; i < GEN_SLOTS - 1; i++) h.dp.arena.allocGen();
    step = h.inject(big, EP1);
    assert.equal(checkReceive({ h, step, history: hist }), 'dropFragmentNoSlots');
    assert.equal(step.tx.length + step.parked.length, 0);
    session.finish();
    // Pending queue with one slot left: one fragment parked, one lost.
    h.reset();
    const small = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!.frame;
    for (let i = 0; i < PENDING_SLOTS - 1; i++) {
      assert.equal(checkReceive({ h, step: h.inject(small, EP1), history: hist }), 'pendingQueued');
      h.resetTx();
    }
    step = h.inject(big, EP1);
    assert.equal(checkReceive({ h, step, history: hist }), 'fragmented');
    assert.deepEqual(
      [step.delta[C.fragmentsQueued], step.delta[C.fragmentsLost], step.delta[C.dropPendingFull]],
      [1, 1, 0],
    );
    session.finish();
    // TX queue toward ep2 with one descriptor left: one fragment queued, one lost.
    h.reset();
    h.learn(EP2, 4, EP2_4, EP2_MAC);
    for (let i = 0; i < TX_PER_PORT - 1; i++) assert.equal(h.inject(small, EP1).delta[C.forwarded], 1);
    step = h.inject(big, EP1);
    assert.deepEqual(
      OUTCOME_IDX.filter((k) => step.delta[k] !== 0),
      [C.fragmented],
    );
    assert.deepEqual([step.delta[C.fragmentsSent], step.delta[C.fragmentsLost], step.delta[C.dropTxFull]], [1, 1, 0]);
    assert.equal(h.dp.tx.count[EP2], TX_PER_PORT);
    session.finish();
  },
);

after(() => session.logSummary('router fragmentation examples'));
