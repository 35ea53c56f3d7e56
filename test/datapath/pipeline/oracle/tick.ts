// The oracle for one servicePending step: each released parked frame ends in one outcome,
// sent ones go to the MAC the neighbour table now holds, and all it generates is solicitations.
import { C, COUNTER_NAMES, OUTCOME_IDX, equalBytes } from '../../harness.js';
import { g16 } from '../reading/frame.js';
import { type Kinds, checkGenerated } from './answers.js';
import { type Ctx, check, fail } from './check.js';
import { checkDescriptor, checkPendingQueue, checkTxQueues } from './queues.js';

/** servicePending: every released slot ends in exactly one outcome; sent frames go to the learned MAC. */
export function checkTick(c: Ctx): void {
  const h = c.h;
  const r = c.step;
  if (r.error !== undefined) fail(c, `servicePending threw: ${(r.error as Error)?.stack ?? String(r.error)}`);
  const d = r.delta;
  for (let i = 0; i < d.length; i++) {
    check(c, Number.isInteger(d[i]) && d[i] >= 0, `counter ${COUNTER_NAMES[i]} moved by ${d[i]}`);
  }
  const ends = d[C.pendingSent] + d[C.dropPendingTimeout] + d[C.dropPortDown] + d[C.dropTxFull];
  check(c, ends === r.released.length, `${r.released.length} parked frames released, outcomes moved by ${ends}`);
  for (const i of OUTCOME_IDX) {
    if (i !== C.dropPendingTimeout && i !== C.dropPortDown && i !== C.dropTxFull) {
      check(c, d[i] === 0, `servicePending moved ${COUNTER_NAMES[i]}`);
    }
  }
  check(c, d[C.vxlanEncapsulated] === 0 && d[C.vxlanDecapsulated] === 0, 'servicePending encapsulated or decapsulated');
  check(c, r.parked.length === 0, 'servicePending parked frames');
  check(
    c,
    r.tx.length === d[C.pendingSent] + d[C.neighbourRequests],
    `${r.tx.length} frames queued, counters account for ${d[C.pendingSent] + d[C.neighbourRequests]}`,
  );
  checkTxQueues(c);
  checkPendingQueue(c);
  const q = h.dp.pending;
  const b = h.dp.arena.bytes;
  const k: Kinds = { arpReply: 0, arpRequest: 0, ns: 0, na: 0, icmpError: 0, encapsulated: 0 };
  let sent = 0;
  for (const t of r.tx) {
    checkDescriptor(c, t);
    if (h.isPendingSlot(t.off)) {
      sent++;
      const i = h.slotOf(t.off) - h.dp.arena.pendingBase;
      check(c, t.off === q.frameOff(i), "a parked frame was sent from elsewhere than its slot's frame start");
      check(c, r.released.includes(i), 'a pending slot was sent but not released');
      const fam = g16(b, t.off + 12) === 0x0800 ? 4 : 6;
      const m = h.neighbour(t.port, fam, q.nexthop, i * 16);
      check(
        c,
        m !== null && equalBytes(b, t.off, m, 0, 6),
        'parked frame sent to a MAC the neighbour table does not hold',
      );
    } else {
      check(c, h.isGenerated(t.off), `servicePending queued arena offset ${t.off}`);
      checkGenerated(c, null, t, k);
    }
  }
  check(c, sent === d[C.pendingSent], `${sent} parked frames queued, pendingSent moved by ${d[C.pendingSent]}`);
  const queued = new Set(r.tx.filter((t) => h.isGenerated(t.off)).map((t) => h.slotOf(t.off)));
  for (let g = r.genBefore; g < r.genAfter; g++) {
    check(c, queued.has(h.dp.arena.genBase + g), `generated slot ${g} allocated by servicePending but not queued`);
  }
  check(
    c,
    k.arpRequest + k.ns === d[C.neighbourRequests] && k.arpReply + k.na + k.icmpError === 0,
    'servicePending generated something else than solicitations',
  );
}
