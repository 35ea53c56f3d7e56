// The queues the pipeline leaves behind: each TX descriptor a well-formed frame inside the
// arena, the TX and pending queues' bookkeeping consistent.
import {
  type Harness,
  HEADROOM,
  NPORTS,
  PENDING_SLOTS,
  PORT_MACS,
  TUNNEL_PORT,
  TX_PER_PORT,
  type TxDesc,
  equalBytes,
  hex,
} from '../../harness.js';
import { ipv4Check, IPV4_OK } from '../../../../src/wire/ipv4.js';
import { g16 } from '../reading/frame.js';
import { type Ctx, check } from './check.js';

/** Structural checks on one queued descriptor. */
export function checkDescriptor(c: Ctx, d: TxDesc): void {
  const h = c.h;
  const a = h.dp.arena;
  const b = a.bytes;
  check(c, d.port >= 0 && d.port < NPORTS && h.ports.active(d.port), `tx queued on port ${d.port}, not an active port`);
  check(c, Number.isInteger(d.off) && Number.isInteger(d.len), `tx descriptor ${d.off}+${d.len} not integral`);
  check(
    c,
    d.off >= 0 && d.off + d.len <= b.length,
    `tx descriptor ${d.off}+${d.len} outside the arena (${b.length} bytes)`,
  );
  check(c, d.len >= 14 && d.len <= a.maxFrameLen(), `tx descriptor length ${d.len} not in 14..${a.maxFrameLen()}`);
  const slot = h.slotOf(d.off);
  const start = slot * a.slotSize;
  // Frames start at the slot's frame start, or earlier by an encapsulation's headers, or
  // (decapsulated, in the RX slot) later.
  check(
    c,
    d.off >= start + HEADROOM - 70 && d.off + d.len <= start + a.slotSize,
    `tx descriptor ${d.off}+${d.len} not inside slot ${slot}'s frame area`,
  );
  check(c, slot === 0 || slot >= a.genBase, `tx descriptor points into RX slot ${slot}, which holds no frame`);
  const o = d.off;
  const type = g16(b, o + 12);
  check(c, type === 0x0800 || type === 0x86dd || type === 0x0806, `tx frame with ethertype 0x${type.toString(16)}`);
  check(
    c,
    equalBytes(b, o + 6, PORT_MACS[d.port], 0, 6),
    `tx frame on port ${d.port} has source MAC ${hex(b.subarray(o + 6, o + 12))}`,
  );
  if (type === 0x0800) {
    const v = ipv4Check(b, o + 14, d.len - 14);
    check(c, v === IPV4_OK, `tx IPv4 frame fails ipv4Check (verdict ${v}): ${hex(b.subarray(o, o + d.len))}`);
    check(c, g16(b, o + 16) === d.len - 14, `tx IPv4 total length ${g16(b, o + 16)} != frame length ${d.len} - 14`);
    check(c, b[o + 22] > 0, 'tx IPv4 frame with TTL 0');
  } else if (type === 0x86dd) {
    check(
      c,
      d.len >= 54 && b[o + 14] >>> 4 === 6,
      `tx IPv6 frame too short or not version 6: ${hex(b.subarray(o, o + Math.min(d.len, 64)))}`,
    );
    check(
      c,
      40 + g16(b, o + 18) === d.len - 14,
      `tx IPv6 payload length ${g16(b, o + 18)} != frame length ${d.len} - 54`,
    );
    check(c, b[o + 21] > 0, 'tx IPv6 frame with hop limit 0');
  } else {
    check(
      c,
      d.len === 42 && g16(b, o + 14) === 1 && g16(b, o + 16) === 0x0800 && b[o + 18] === 6 && b[o + 19] === 4,
      `tx ARP frame malformed: ${hex(b.subarray(o, o + d.len))}`,
    );
    const op = g16(b, o + 20);
    check(c, op === 1 || op === 2, `tx ARP op ${op}`);
  }
}

/** Some parked frame waits for (port, family, addr). */
export function isSolicited(h: Harness, port: number, family: number, addr: Uint8Array): boolean {
  const q = h.dp.pending;
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < PENDING_SLOTS; i++) {
    if (q.used[i] === 1 && q.port[i] === port && q.family[i] === family && equalBytes(q.nexthop, i * 16, addr, 0, n)) {
      return true;
    }
  }
  return false;
}

export function checkPendingQueue(c: Ctx): void {
  const q = c.h.dp.pending;
  let used = 0;
  for (let i = 0; i < PENDING_SLOTS; i++) used += q.used[i];
  check(c, q.count >= 0 && q.count <= PENDING_SLOTS, `pending count ${q.count} outside 0..${PENDING_SLOTS}`);
  check(c, used === q.count, `pending count ${q.count} but ${used} slots used`);
}

export function checkTxQueues(c: Ctx): void {
  const tx = c.h.dp.tx;
  const seen = new Set<number>();
  for (let k = 0; k < tx.dirtyCount; k++) {
    check(c, !seen.has(tx.dirty[k]), `port ${tx.dirty[k]} twice in the dirty list`);
    seen.add(tx.dirty[k]);
  }
  for (let p = 0; p < NPORTS; p++) {
    check(c, tx.count[p] >= 0 && tx.count[p] <= TX_PER_PORT, `tx count ${tx.count[p]} on port ${p}`);
    check(c, tx.count[p] === 0 || seen.has(p), `port ${p} has queued frames but is not in the dirty list`);
  }
  check(c, tx.count[TUNNEL_PORT] === 0 && !seen.has(TUNNEL_PORT), 'frames left on the tunnel pseudo-port');
}
