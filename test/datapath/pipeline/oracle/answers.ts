// Frames the router sends of its own accord or in answer: ARP replies and requests, NAs and
// NSs, ICMP and ICMPv6 errors (in generated slots), and echo replies (built in the RX slot),
// each from the right identity and back to where the frame that caused it came from.
import {
  BCAST,
  C,
  GW4,
  GW6,
  type Harness,
  PORT_LL,
  PORT_MACS,
  TUNNEL_PORT,
  type TxDesc,
  UP_6,
  VTEP_LL,
  VTEP_MAC,
  csum,
  equalBytes,
  hex,
  multicastMac,
  solicitedNode,
} from '../../harness.js';
import { g16, g32, icmp6Ok, isV4Multi } from '../reading/frame.js';
import { type Ctx, check } from './check.js';
import type { Eff } from './effective.js';
import { expectedNextHop, pathMtu } from './forwarding.js';
import { isSolicited } from './queues.js';
import { unwrapBack } from './tunnel.js';

/** Our MAC and addresses as the sender of answers: on a port, or inside the tunnel. */
interface Identity {
  mac: Uint8Array;
  ipv4: Uint8Array;
  ll: Uint8Array;
}

function identity(h: Harness, port: number): Identity {
  if (port === TUNNEL_PORT) return { mac: VTEP_MAC, ipv4: GW4, ll: VTEP_LL };
  const ipv4 = h.ports.bytes.slice(h.ports.ipv4Off(port), h.ports.ipv4Off(port) + 4);
  return { mac: PORT_MACS[port], ipv4, ll: PORT_LL[port] };
}

/** What a step queued, by kind, to hold against the counters. */
export interface Kinds {
  arpReply: number;
  arpRequest: number;
  ns: number;
  na: number;
  icmpError: number;
  encapsulated: number;
}

/** Classifies and checks a frame the router generated (gen slot); eff is null for servicePending. */
export function checkGenerated(c: Ctx, eff: Eff | null, d: TxDesc, k: Kinds): void {
  const h = c.h;
  const a = h.dp.arena;
  const b = a.bytes;
  const slot = h.slotOf(d.off);
  const before = a.frameOff(slot) - d.off;
  check(c, before >= 0, `generated frame starts ${-before} bytes after its slot's frame start`);
  const guard = h.slotGuard(slot, d.len - before, before);
  check(c, guard < 0, `generated frame's slot was written outside the frame at arena offset ${guard}`);
  let o = d.off;
  let len = d.len;
  let back = false;
  if (before !== 0) {
    check(
      c,
      eff !== null && eff.tunnel !== null,
      'an encapsulated generated frame, but nothing came through the tunnel',
    );
    [o, len] = unwrapBack(c, eff, d);
    check(c, o === a.frameOff(slot), 'the encapsulated answer is not the generated frame');
    k.encapsulated++;
    back = true;
  }
  // Answers go back where the frame came from: the ingress port, or the tunnel (checked above).
  const answersBack = back || (eff !== null && eff.tunnel === null && d.port === eff.port);
  const id = back ? identity(h, TUNNEL_PORT) : identity(h, d.port);
  const input = eff?.input ?? new Uint8Array(0);
  const type = g16(b, o + 12);
  if (type === 0x0806) {
    if (g16(b, o + 20) === 2) {
      k.arpReply++;
      check(c, answersBack, 'ARP reply not sent back where the request came from');
      check(c, g16(input, 12) === 0x0806 && g16(input, 20) === 1, 'ARP reply to something that is not an ARP request');
      check(
        c,
        equalBytes(b, o + 6, id.mac, 0, 6) && equalBytes(b, o + 22, id.mac, 0, 6),
        'ARP reply sender MAC is not the port MAC',
      );
      check(c, equalBytes(b, o + 28, input, 38, 4), 'ARP reply sender IP is not the requested IP');
      check(
        c,
        equalBytes(b, o + 32, input, 22, 6) && equalBytes(b, o + 38, input, 28, 4),
        'ARP reply target is not the requester',
      );
      check(c, equalBytes(b, o, input, 6, 6), 'ARP reply not addressed to the requester MAC');
    } else {
      k.arpRequest++;
      check(c, !back, 'ARP request sent through the tunnel');
      check(c, equalBytes(b, o, BCAST, 0, 6), 'ARP request not broadcast');
      check(c, equalBytes(b, o + 22, PORT_MACS[d.port], 0, 6), 'ARP request sender MAC is not the port MAC');
      const spa = h.ports.bytes.subarray(h.ports.ipv4Off(d.port), h.ports.ipv4Off(d.port) + 4);
      check(c, equalBytes(b, o + 28, spa, 0, 4), 'ARP request sender IP is not the port address');
      check(
        c,
        isSolicited(h, d.port, 4, b.subarray(o + 38, o + 42)),
        `ARP request for ${hex(b.subarray(o + 38, o + 42))}, which no parked frame waits for`,
      );
    }
    return;
  }
  if (type === 0x0800) {
    const hl = (b[o + 14] & 15) * 4;
    const total = g16(b, o + 16);
    check(c, hl === 20 && b[o + 23] === 1, 'generated IPv4 frame is not a plain ICMP packet');
    check(c, csum(b, o + 14, 20) === 0 && len === 14 + total, 'generated IPv4 header checksum or length wrong');
    const m = o + 14 + hl;
    check(c, csum(b, m, total - hl) === 0, `generated ICMP message has a bad checksum: ${hex(b.subarray(o, o + len))}`);
    const t = b[m];
    check(c, t === 3 || t === 11, `router generated ICMP type ${t}`);
    k.icmpError++;
    check(c, answersBack, 'ICMP error not sent back where the offending frame came from');
    check(c, g16(input, 12) === 0x0800, 'ICMPv4 error about a non-IPv4 frame');
    check(c, equalBytes(b, o + 30, input, 26, 4), "ICMP error not addressed to the offending packet's source");
    check(c, equalBytes(b, o + 26, id.ipv4, 0, 4), 'ICMP error source is not the port address');
    check(c, equalBytes(b, o, input, 6, 6), "ICMP error not sent to the offending frame's source MAC");
    check(c, equalBytes(b, o + 6, id.mac, 0, 6), 'ICMP error not sent from the port MAC');
    check(
      c,
      !isV4Multi(input, 26) && input[26] !== 0,
      'ICMP error about a packet from a multicast/broadcast/zero source',
    );
    check(c, (g16(input, 20) & 0x1fff) === 0, 'ICMP error about a later fragment');
    check(c, (input[0] & 1) === 0, 'ICMP error about a frame sent to a group MAC');
    const ihl = (input[14] & 15) * 4;
    const itotal = g16(input, 16);
    const quote = Math.min(itotal, 576 - 28);
    check(c, total === 28 + quote, `ICMP error quotes ${total - 28} bytes, expected ${quote}`);
    check(c, equalBytes(b, m + 8, input, 14, quote), 'ICMP error quote differs from the offending packet');
    check(
      c,
      !(input[23] === 1 && ihl < itotal && [3, 4, 5, 11, 12].includes(input[14 + ihl])),
      'ICMP error about an ICMP error',
    );
    const code = b[m + 1];
    if (t === 11) {
      check(c, c.step.delta[C.dropTtlExceeded] === 1 && code === 0, 'time exceeded without dropTtlExceeded');
    } else if (code === 4) {
      check(c, c.step.delta[C.dropTooBig] === 1, 'fragmentation needed without dropTooBig');
      const e = expectedNextHop(c, eff!);
      check(
        c,
        g16(b, m + 6) === pathMtu(h, e),
        `fragmentation needed advertises MTU ${g16(b, m + 6)}, the path has ${pathMtu(h, e)}`,
      );
    } else {
      check(
        c,
        c.step.delta[C.dropNoRoute] === 1 && (code === 0 || code === 1),
        `destination unreachable code ${code} without dropNoRoute`,
      );
    }
    return;
  }
  // IPv6: NS, NA or an ICMPv6 error, never with extension headers.
  check(c, b[o + 20] === 58, 'generated IPv6 frame is not ICMPv6');
  const plen = g16(b, o + 18);
  check(c, len === 54 + plen, 'generated IPv6 payload length does not match the frame');
  const m = o + 54;
  check(c, icmp6Ok(b, o + 14, m, plen), `generated ICMPv6 message has a bad checksum: ${hex(b.subarray(o, o + len))}`);
  const t = b[m];
  if (t === 135) {
    k.ns++;
    check(c, !back, 'NS sent through the tunnel');
    check(c, plen === 32 && b[o + 21] === 255 && b[m + 24] === 1 && b[m + 25] === 1, 'malformed NS');
    check(c, equalBytes(b, o + 22, PORT_LL[d.port], 0, 16), 'NS not from the port link-local address');
    check(
      c,
      equalBytes(b, o + 38, solicitedNode(b.subarray(m + 8, m + 24)), 0, 16),
      'NS not sent to the solicited-node group',
    );
    check(
      c,
      equalBytes(b, o, multicastMac(b.subarray(o + 38, o + 54)), 0, 6),
      'NS Ethernet destination is not the group MAC',
    );
    check(c, equalBytes(b, m + 26, PORT_MACS[d.port], 0, 6), 'NS source link-layer option is not the port MAC');
    check(c, isSolicited(h, d.port, 6, b.subarray(m + 8, m + 24)), 'NS for an address no parked frame waits for');
  } else if (t === 136) {
    k.na++;
    check(c, answersBack, 'NA not sent back where the NS came from');
    check(c, plen === 32 && b[o + 21] === 255 && b[m + 24] === 2 && b[m + 25] === 1, 'malformed NA');
    check(
      c,
      equalBytes(b, m + 26, id.mac, 0, 6) && equalBytes(b, o + 6, id.mac, 0, 6),
      'NA target link-layer option / source MAC is not the port MAC',
    );
    check(c, g16(input, 12) === 0x86dd, 'NA in answer to a non-IPv6 frame');
    check(c, equalBytes(b, o + 22, b, m + 8, 16), 'NA source is not its target');
    const target = b.subarray(m + 8, m + 24);
    const ours =
      equalBytes(target, 0, GW6, 0, 16) || equalBytes(target, 0, UP_6, 0, 16) || equalBytes(target, 0, id.ll, 0, 16);
    check(c, ours, `NA for ${hex(target)}, which is not ours`);
  } else {
    check(c, t === 1 || t === 2 || t === 3, `router generated ICMPv6 type ${t}`);
    k.icmpError++;
    check(c, answersBack, 'ICMPv6 error not sent back where the offending frame came from');
    check(c, g16(input, 12) === 0x86dd, 'ICMPv6 error about a non-IPv6 frame');
    check(c, equalBytes(b, o + 38, input, 22, 16), "ICMPv6 error not addressed to the offending packet's source");
    check(c, input[22] !== 0xff, 'ICMPv6 error to a multicast source');
    check(c, (input[0] & 1) === 0, 'ICMPv6 error about a frame sent to a group MAC');
    const quote = Math.min(40 + g16(input, 18), 1280 - 48);
    check(c, plen === 8 + quote, `ICMPv6 error quotes ${plen - 8} bytes, expected ${quote}`);
    check(c, equalBytes(b, m + 8, input, 14, quote), 'ICMPv6 error quote differs from the offending packet');
    if (t === 3) check(c, c.step.delta[C.dropTtlExceeded] === 1, 'time exceeded without dropTtlExceeded');
    else if (t === 2) {
      check(c, c.step.delta[C.dropTooBig] === 1, 'packet too big without dropTooBig');
      const e = expectedNextHop(c, eff!);
      check(
        c,
        g32(b, m + 4) === pathMtu(h, e),
        `packet too big advertises MTU ${g32(b, m + 4)}, the path has ${pathMtu(h, e)}`,
      );
    } else check(c, c.step.delta[C.dropNoRoute] === 1, 'destination unreachable without dropNoRoute');
  }
}

/** An echo reply built in place of the request (o, len: the reply, unwrapped from the tunnel). */
export function checkEchoReply(c: Ctx, eff: Eff, o: number, len: number): void {
  const h = c.h;
  const b = h.dp.arena.bytes;
  const input = eff.input;
  check(c, equalBytes(b, o, input, 6, 6), 'echo reply not sent to the requester MAC');
  check(c, equalBytes(b, o + 6, identity(h, eff.port).mac, 0, 6), 'echo reply not sent from the port MAC');
  if (g16(input, 12) === 0x0800) {
    const hl = (b[o + 14] & 15) * 4;
    const total = g16(b, o + 16);
    check(c, len === 14 + total, 'IPv4 echo reply length');
    check(
      c,
      b[o + 23] === 1 && b[o + 14 + hl] === 0 && b[o + 15 + hl] === 0,
      'IPv4 echo reply is not ICMP type 0 code 0',
    );
    check(
      c,
      csum(b, o + 14 + hl, total - hl) === 0,
      `IPv4 echo reply has a bad ICMP checksum: ${hex(b.subarray(o, o + len))}`,
    );
    check(
      c,
      equalBytes(b, o + 26, input, 30, 4) && equalBytes(b, o + 30, input, 26, 4),
      'IPv4 echo reply addresses not swapped',
    );
  } else {
    const plen = g16(b, o + 18);
    check(c, len === 54 + plen, 'IPv6 echo reply length');
    // (The IPv4 path drops echo requests with a non-zero code; the IPv6 path echoes the code back.)
    check(c, b[o + 20] === 58 && b[o + 54] === 129, 'IPv6 echo reply is not ICMPv6 type 129');
    check(c, icmp6Ok(b, o + 14, o + 54, plen), `IPv6 echo reply has a bad checksum: ${hex(b.subarray(o, o + len))}`);
    check(
      c,
      equalBytes(b, o + 22, input, 38, 16) && equalBytes(b, o + 38, input, 22, 16),
      'IPv6 echo reply addresses not swapped',
    );
  }
}
