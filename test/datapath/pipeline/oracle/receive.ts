// The oracle for one receiveFrame step: exactly one outcome counter moves, every queued frame
// is accounted for by a counter and checked against what the rules say it must be (forwarded,
// encapsulated, fragmented, answered, parked), and nothing is written outside a frame.
import { C, COUNTER_NAMES, GEN_SLOTS, OUTCOME_IDX, PENDING_SLOTS, equalBytes, hex } from '../../harness.js';
import { ipv4Check, IPV4_OK } from '../../../../src/wire/ipv4.js';
import { g16 } from '../reading/frame.js';
import { type Kinds, checkEchoReply, checkGenerated } from './answers.js';
import { type Ctx, check, fail } from './check.js';
import { effective } from './effective.js';
import { checkForwardedFrame, expectedNextHop } from './forwarding.js';
import { FRAG_OUTCOMES } from './fragment-model.js';
import { checkFragmentation } from './fragmentation.js';
import { checkDescriptor, checkPendingQueue, checkTxQueues } from './queues.js';
import { unwrapBack } from './tunnel.js';

/** Every invariant of one receiveFrame step. Returns the outcome's name. */
export function checkReceive(c: Ctx): string {
  const h = c.h;
  const r = c.step;
  if (r.error !== undefined) fail(c, `receiveFrame threw: ${(r.error as Error)?.stack ?? String(r.error)}`);
  const d = r.delta;
  for (let i = 0; i < d.length; i++) {
    check(c, Number.isInteger(d[i]) && d[i] >= 0, `counter ${COUNTER_NAMES[i]} moved by ${d[i]}`);
  }
  check(c, d[C.rxFrames] === 1, `rxFrames moved by ${d[C.rxFrames]}`);
  check(c, d[C.rxBytes] === r.input.length, `rxBytes moved by ${d[C.rxBytes]}, frame has ${r.input.length}`);
  const moved = OUTCOME_IDX.filter((i) => d[i] !== 0);
  check(
    c,
    moved.length === 1,
    `${moved.length} outcome counters moved (${moved.map((i) => COUNTER_NAMES[i]).join(', ') || 'none'})`,
  );
  check(c, d[moved[0]] === 1, `outcome ${COUNTER_NAMES[moved[0]]} moved by ${d[moved[0]]}`);
  const outcome = COUNTER_NAMES[moved[0]];
  check(
    c,
    d[C.txFrames] === 0 && d[C.txBytes] === 0 && d[C.pendingSent] === 0,
    'tx/pendingSent counters moved during receive',
  );
  check(c, d[C.vxlanRepliesLost] === 0, 'an answer through the tunnel was lost');
  const expectTx =
    d[C.forwarded] +
    d[C.echoReplied] +
    d[C.arpReplied] +
    d[C.ndpReplied] +
    d[C.neighbourRequests] +
    d[C.icmpErrorsSent] +
    d[C.fragmentsSent];
  check(c, r.tx.length === expectTx, `${r.tx.length} frames queued but the counters account for ${expectTx}`);
  checkTxQueues(c);
  checkPendingQueue(c);
  check(c, r.released.length === 0, 'receiveFrame released pending slots');
  const eff = effective(c);
  const a = h.dp.arena;
  const b = a.bytes;
  const rxGuard = h.slotGuard(0, r.input.length, d[C.vxlanEncapsulated] > 0 ? 70 : 0);
  check(
    c,
    rxGuard < 0,
    `RX slot written outside the frame at arena offset ${rxGuard} (frame at ${r.rxOff}, ${r.input.length} bytes)`,
  );
  const k: Kinds = { arpReply: 0, arpRequest: 0, ns: 0, na: 0, icmpError: 0, encapsulated: 0 };
  // Fragmentation: a non-DF IPv4 packet above the path MTU is fragmented (or dropped by name);
  // dropTooBig is for DF.
  const fragSlots = FRAG_OUTCOMES.has(outcome) ? checkFragmentation(c, eff, outcome) : new Set<number>();
  check(
    c,
    d[C.fragmentsSent] + d[C.fragmentsQueued] + d[C.fragmentsLost] === 0 || outcome === 'fragmented',
    `fragments counted with outcome ${outcome}`,
  );
  if (outcome === 'fragmented' && expectedNextHop(c, eff).tunnel) k.encapsulated += fragSlots.size;
  if (outcome === 'dropTooBig' && g16(eff.input, 12) === 0x0800) {
    check(c, (g16(eff.input, 20) & 0x4000) !== 0, 'dropTooBig for an IPv4 packet without DF');
  }
  const accounted = new Set<number>(fragSlots);
  for (const t of r.tx) if (h.isGenerated(t.off)) accounted.add(h.slotOf(t.off));
  for (let g = r.genBefore; g < r.genAfter; g++) {
    check(c, accounted.has(a.genBase + g), `generated slot ${g} allocated, but it is neither queued nor a fragment`);
  }
  let rxDescs = 0;
  for (const t of r.tx) {
    checkDescriptor(c, t);
    if (fragSlots.has(h.slotOf(t.off))) continue;
    if (h.slotOf(t.off) === 0) {
      rxDescs++;
      if (outcome === 'forwarded') {
        const e = expectedNextHop(c, eff);
        check(c, t.port === e.port, `forwarded out of port ${t.port}, route says ${e.port}`);
        check(
          c,
          t.off === eff.off - (e.tunnel ? e.tunnel.overhead : 0),
          `forwarded frame at ${t.off}: ` +
            `not the received one (less the headers prepended, ${e.tunnel?.overhead ?? 0})`,
        );
        if (checkForwardedFrame(c, eff, e, b, t.off, t.len, true)) k.encapsulated++;
      } else if (outcome === 'consumed' && d[C.echoReplied] === 1) {
        const [o, len] = unwrapBack(c, eff, t);
        if (eff.tunnel) k.encapsulated++;
        check(
          c,
          o === eff.off && len <= eff.input.length,
          `echo reply at ${o}+${len}, not built in place of the request at ${eff.off}+${eff.input.length}`,
        );
        checkEchoReply(c, eff, o, len);
      } else {
        fail(c, `frame queued from the RX slot with outcome ${outcome}`);
      }
    } else {
      check(
        c,
        h.isGenerated(t.off),
        `frame queued from arena offset ${t.off}, neither the RX frame nor a generated slot`,
      );
      checkGenerated(c, eff, t, k);
    }
  }
  check(
    c,
    rxDescs === (outcome === 'forwarded' || d[C.echoReplied] === 1 ? 1 : 0),
    `${rxDescs} RX-slot frames queued for outcome ${outcome}`,
  );
  check(c, d[C.echoReplied] === 0 || outcome === 'consumed', 'echoReplied without consumed');
  check(c, k.arpReply === d[C.arpReplied], `${k.arpReply} ARP replies queued, arpReplied moved by ${d[C.arpReplied]}`);
  check(c, k.na === d[C.ndpReplied], `${k.na} NAs queued, ndpReplied moved by ${d[C.ndpReplied]}`);
  check(
    c,
    k.arpRequest + k.ns === d[C.neighbourRequests],
    `${k.arpRequest + k.ns} solicitations queued, neighbourRequests moved by ${d[C.neighbourRequests]}`,
  );
  check(
    c,
    k.icmpError === d[C.icmpErrorsSent],
    `${k.icmpError} ICMP errors queued, icmpErrorsSent moved by ${d[C.icmpErrorsSent]}`,
  );
  check(c, k.arpReply + k.na === 0 || outcome === 'consumed', `ARP reply / NA queued with outcome ${outcome}`);
  check(
    c,
    k.arpRequest + k.ns === 0 || outcome === 'pendingQueued' || (outcome === 'fragmented' && d[C.fragmentsQueued] > 0),
    `solicitation queued with outcome ${outcome}`,
  );
  // Parking.
  check(
    c,
    r.parked.length === (outcome === 'pendingQueued' ? 1 : outcome === 'fragmented' ? d[C.fragmentsQueued] : 0),
    `${r.parked.length} frames parked with outcome ${outcome}`,
  );
  if (outcome === 'fragmented' && r.parked.length > 0) {
    // One solicitation, unless another frame already waited for that neighbour or the
    // fragments took the last generated slots.
    const e = expectedNextHop(c, eff);
    const q = h.dp.pending;
    let other = false;
    for (let j = 0; j < PENDING_SLOTS; j++) {
      const same =
        q.used[j] === 1 &&
        q.port[j] === e.port &&
        q.family[j] === e.family &&
        equalBytes(q.nexthop, j * 16, e.nh, 0, e.nh.length);
      if (!r.parked.includes(j) && same) other = true;
    }
    const solicitations = k.arpRequest + k.ns;
    check(
      c,
      solicitations === (other || r.genBefore + fragSlots.size === GEN_SLOTS ? 0 : 1),
      `${solicitations} solicitations for parked fragments (another frame waiting: ${other})`,
    );
  }
  if (outcome === 'pendingQueued') {
    const q = h.dp.pending;
    const i = r.parked[0];
    const e = expectedNextHop(c, eff);
    check(
      c,
      q.port[i] === e.port && q.family[i] === e.family && equalBytes(q.nexthop, i * 16, e.nh, 0, e.nh.length),
      `parked for port ${q.port[i]} family ${q.family[i]} next hop ${hex(q.nexthop.subarray(i * 16, i * 16 + 16))}, ` +
        `route says ${e.port} ${hex(e.nh)}`,
    );
    check(c, q.len[i] >= 14 && q.len[i] <= a.maxFrameLen(), `parked frame length ${q.len[i]}`);
    const po = q.frameOff(i);
    if (checkForwardedFrame(c, eff, e, b, po, q.len[i], false)) k.encapsulated++;
    const v = g16(b, po + 12) === 0x0800 ? ipv4Check(b, po + 14, q.len[i] - 14) : IPV4_OK;
    check(c, v === IPV4_OK, `parked IPv4 frame fails ipv4Check (${v})`);
    const guard = h.slotGuard(h.slotOf(po), q.len[i]);
    check(c, guard < 0, `pending slot written outside the parked frame at arena offset ${guard}`);
    const solicited = k.arpRequest + k.ns === 1;
    if (!solicited) {
      // Only when another frame already waits for the same neighbour.
      let other = false;
      for (let j = 0; j < PENDING_SLOTS; j++) {
        const same =
          q.used[j] === 1 &&
          q.port[j] === e.port &&
          q.family[j] === e.family &&
          equalBytes(q.nexthop, j * 16, e.nh, 0, e.nh.length);
        if (j !== i && same) other = true;
      }
      check(c, other, 'frame parked without a solicitation and nothing else waits for that neighbour');
    }
    check(c, h.neighbour(e.port, e.family, e.nh) === null, 'frame parked although its neighbour is known');
  }
  check(
    c,
    k.encapsulated === d[C.vxlanEncapsulated],
    `${k.encapsulated} encapsulated frames queued or parked, vxlanEncapsulated moved by ${d[C.vxlanEncapsulated]}`,
  );
  return outcome;
}
