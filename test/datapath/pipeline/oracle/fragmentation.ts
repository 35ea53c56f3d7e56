// The checks of a frame that reached IPv4 fragmentation: the verdict against the model, then
// every fragment wherever it went (queued, parked, lost), and their reassembly.
import { C, GEN_SLOTS, concat, equalBytes, hex } from '../../harness.js';
import { ipv4Check, IPV4_OK } from '../../../../src/wire/ipv4.js';
import { g16 } from '../reading/frame.js';
import { type Ctx, check } from './check.js';
import type { Eff } from './effective.js';
import { expectedNextHop, forwardedInner, pathMtu } from './forwarding.js';
import { planFragments } from './fragment-model.js';

/**
 * A fragment found in its generated slot: the frame as queued (outer, for a tunnel) and the
 * IPv4 packet inside.
 */
interface FoundFragment {
  slot: number;
  /** The frame (encapsulated when the route is a tunnel). */
  o: number;
  len: number;
  /** Its IPv4 header. */
  ip: number;
  sport: number;
}

/**
 * A frame that reached fragmentation (outcome fragmented or a dropFragment* counter): the
 * verdict the model gives, and for `fragmented` every fragment, wherever it went (queued,
 * parked, lost): headers, lengths, offsets and MF, copied options, the reassembled payload,
 * and the counters of their fates. Returns the generated slots holding fragments.
 */
export function checkFragmentation(c: Ctx, eff: Eff, outcome: string): Set<number> {
  const h = c.h;
  const r = c.step;
  const d = r.delta;
  const input = eff.input;
  const a = h.dp.arena;
  const b = a.bytes;
  check(
    c,
    input.length >= 34 && g16(input, 12) === 0x0800 && ipv4Check(input, 14, input.length - 14) === IPV4_OK,
    `${outcome} for a frame that is not a valid IPv4 packet`,
  );
  const w = g16(input, 20);
  check(c, (w & 0x4000) === 0, `${outcome} for a packet with DF set`);
  check(c, input[22] > 1, `${outcome} for a packet with TTL ${input[22]}`);
  const e = expectedNextHop(c, eff);
  const mtu = pathMtu(h, e);
  const total = g16(input, 16);
  const hl = (input[14] & 15) * 4;
  check(c, total > mtu, `${outcome} for ${total} bytes on a path with MTU ${mtu}`);
  const plan = planFragments(input, mtu, GEN_SLOTS - r.genBefore);
  check(c, outcome === plan.verdict, `${outcome}, the model says ${plan.verdict}`);
  const slots = new Set<number>();
  if (outcome !== 'fragmented') {
    const built = d[C.fragmentsSent] + d[C.fragmentsQueued] + d[C.fragmentsLost];
    check(
      c,
      built === 0 && r.parked.length === 0 && r.genAfter === r.genBefore,
      `${outcome}, but fragments were built, sent or parked`,
    );
    return slots;
  }
  const n = plan.frags.length;
  check(c, r.genAfter - r.genBefore >= n, `${n} fragments but ${r.genAfter - r.genBefore} generated slots allocated`);
  const overhead = e.tunnel ? e.tunnel.overhead : 0;
  const found: FoundFragment[] = [];
  const ttl = input[22] - 1;
  // Every fragment, in its generated slot (allocated one after the other).
  for (let k = 0; k < n; k++) {
    const pf = plan.frags[k];
    const slot = a.genBase + r.genBefore + k;
    slots.add(slot);
    const fo = a.frameOff(slot);
    const itotal = g16(b, fo + 16);
    check(c, itotal >= 20 && itotal <= mtu, `fragment ${k}: IPv4 total length ${itotal}, path MTU ${mtu}`);
    const o = fo - overhead;
    const len = 14 + itotal + overhead;
    const guard = h.slotGuard(slot, 14 + itotal, overhead);
    check(c, guard < 0, `fragment ${k}'s generated slot written outside the frame at arena offset ${guard}`);
    const inner = forwardedInner(c, e, b, o, len);
    check(
      c,
      inner.io === fo && inner.ilen === 14 + itotal,
      `fragment ${k}: the encapsulation does not wrap the fragment`,
    );
    const ip = fo + 14;
    const v = ipv4Check(b, ip, itotal);
    check(
      c,
      v === IPV4_OK,
      `fragment ${k} fails ipv4Check (${v}): ${hex(b.subarray(fo, fo + Math.min(14 + itotal, 80)))}`,
    );
    check(
      c,
      g16(b, fo + 12) === 0x0800 && equalBytes(b, fo + 6, inner.srcMac, 0, 6),
      `fragment ${k}: Ethernet source or type wrong`,
    );
    if (e.tunnel) {
      check(c, equalBytes(b, fo, e.tunnel.innerMac, 0, 6), `fragment ${k}: inner destination MAC is not the route's`);
    }
    const fhl = (b[ip] & 15) * 4;
    const fw = g16(b, ip + 6);
    // Spec-level: DF clear, offsets continue the packet's own, MF on all but the last (and on
    // the last as the packet had it), data a multiple of 8 but in the last.
    const fdata = itotal - fhl;
    check(c, (fw & 0x4000) === 0, `fragment ${k} has DF set`);
    check(c, (fw & 0x8000) === (w & 0x8000), `fragment ${k}: reserved flag changed`);
    check(
      c,
      (fw & 0x1fff) === (w & 0x1fff) + pf.pos / 8,
      `fragment ${k}: offset ${fw & 0x1fff}, expected ${(w & 0x1fff) + pf.pos / 8}`,
    );
    check(
      c,
      k === n - 1 ? (fw & 0x2000) === (w & 0x2000) : (fw & 0x2000) !== 0,
      `fragment ${k} of ${n}: MF ${(fw >> 13) & 1}, packet's MF ${(w >> 13) & 1}`,
    );
    check(c, k === n - 1 || fdata % 8 === 0, `fragment ${k} of ${n} carries ${fdata} bytes, not a multiple of 8`);
    check(
      c,
      fhl === pf.hlen && fdata === pf.len && fw === pf.word,
      `fragment ${k}: header ${fhl} + data ${fdata}, flags 0x${fw.toString(16)}; ` +
        `the model says ${pf.hlen} + ${pf.len}, 0x${pf.word.toString(16)}`,
    );
    check(c, b[ip + 8] === ttl, `fragment ${k}: TTL ${b[ip + 8]}, expected ${ttl}`);
    if (k === 0) {
      // The original's header, options and all, but for length, flags, TTL and checksum.
      for (let i = 0; i < hl; i++) {
        if (i === 2 || i === 3 || i === 6 || i === 7 || i === 8 || i === 10 || i === 11) continue;
        check(c, b[ip + i] === input[14 + i], `first fragment's header differs from the packet's at byte ${i}`);
      }
    } else {
      check(
        c,
        b[ip] === 0x40 + fhl / 4 &&
          b[ip + 1] === input[15] &&
          g16(b, ip + 4) === g16(input, 18) &&
          b[ip + 9] === input[23] &&
          equalBytes(b, ip + 12, input, 26, 8),
        `fragment ${k}: version, TOS, ID, protocol or addresses differ from the packet's`,
      );
      check(
        c,
        equalBytes(b, ip + 20, plan.later, 0, plan.later.length),
        `fragment ${k}: options ${hex(b.subarray(ip + 20, ip + fhl))}, the copied ones are ${hex(plan.later)}`,
      );
    }
    check(
      c,
      equalBytes(b, ip + fhl, input, 14 + hl + pf.pos, fdata),
      `fragment ${k}: data differs from the packet's at ${pf.pos}`,
    );
    if (k > 0) check(c, inner.sport === found[0].sport, 'fragments of one packet took different outer source ports');
    found.push({ slot, o, len, ip, sport: inner.sport });
  }
  // Reassembly, as the receiver does it: by offset, MF clear on the last.
  const byOffset = [...found].sort((x, y) => (g16(b, x.ip + 6) & 0x1fff) - (g16(b, y.ip + 6) & 0x1fff));
  const parts: Uint8Array[] = [];
  let next = w & 0x1fff;
  for (const f of byOffset) {
    const fhl = (b[f.ip] & 15) * 4;
    check(c, (g16(b, f.ip + 6) & 0x1fff) === next, `fragments leave a hole or overlap at offset ${next}`);
    const fdata = g16(b, f.ip + 2) - fhl;
    parts.push(b.slice(f.ip + fhl, f.ip + fhl + fdata));
    next += fdata / 8;
  }
  const whole = concat(...parts);
  check(
    c,
    whole.length === total - hl && equalBytes(whole, 0, input, 14 + hl, total - hl),
    "reassembled fragments differ from the packet's payload",
  );
  // Where each went: queued (to the neighbour's MAC), parked (a copy, for the route's neighbour), or lost.
  const fates = new Map<number, string>();
  for (const t of r.tx) {
    if (!h.isGenerated(t.off) || !slots.has(h.slotOf(t.off))) continue;
    const f = found.find((x) => x.slot === h.slotOf(t.off))!;
    check(c, !fates.has(f.slot), 'a fragment queued twice');
    fates.set(f.slot, 'sent');
    check(
      c,
      t.off === f.o && t.len === f.len && t.port === e.port,
      `fragment queued at ${t.port}:${t.off}+${t.len}, expected ${e.port}:${f.o}+${f.len}`,
    );
    const m = h.neighbour(e.port, e.family, e.nh);
    check(
      c,
      m !== null && equalBytes(b, t.off, m, 0, 6),
      `fragment sent to MAC ${hex(b.subarray(t.off, t.off + 6))}, neighbour table says ${m && hex(m)}`,
    );
  }
  const q = h.dp.pending;
  for (const i of r.parked) {
    const po = q.frameOff(i);
    const f = found.find((x) => x.len === q.len[i] && equalBytes(b, x.o, b, po, x.len));
    check(c, f !== undefined, `parked frame in pending slot ${i} is none of the fragments`);
    check(c, !fates.has(f.slot), 'a fragment parked twice, or sent and parked');
    fates.set(f.slot, 'parked');
    check(
      c,
      q.port[i] === e.port && q.family[i] === e.family && equalBytes(q.nexthop, i * 16, e.nh, 0, e.nh.length),
      `fragment parked for port ${q.port[i]} family ${q.family[i]}, route says ${e.port} ${hex(e.nh)}`,
    );
    const guard = h.slotGuard(h.slotOf(po), q.len[i]);
    check(c, guard < 0, `pending slot written outside the parked fragment at arena offset ${guard}`);
  }
  const sent = [...fates.values()].filter((x) => x === 'sent').length;
  const parked = fates.size - sent;
  check(
    c,
    d[C.fragmentsSent] === sent && d[C.fragmentsQueued] === parked && d[C.fragmentsLost] === n - sent - parked,
    `${n} fragments: ${sent} queued, ${parked} parked; ` +
      `counters say sent ${d[C.fragmentsSent]}, queued ${d[C.fragmentsQueued]}, lost ${d[C.fragmentsLost]}`,
  );
  if (parked > 0) {
    check(c, h.neighbour(e.port, e.family, e.nh) === null, 'fragments parked although the neighbour is known');
  }
  if (sent > 0) check(c, parked === 0, 'fragments both sent and parked');
  return slots;
}
