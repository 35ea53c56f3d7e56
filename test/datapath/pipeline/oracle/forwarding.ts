// Forwarding: where the route says a frame goes (next hop, port, tunnel, path MTU), and the
// forwarded frame byte for byte against the input, encapsulated or not.
import { type Harness, PORT_MACS, VTEP_MAC, equalBytes, hex } from '../../harness.js';
import { g16 } from '../reading/frame.js';
import { type Ctx, check } from './check.js';
import type { Eff } from './effective.js';
import { checkVxHeaders } from './tunnel.js';

/** The IP part of a forwarded frame equals the input but for TTL/hop limit (+IPv4 checksum). */
function checkForwardedBytes(
  c: Ctx,
  input: Uint8Array,
  out: Uint8Array,
  o: number,
  len: number,
  srcMac: Uint8Array,
  mtu: number,
): void {
  const type = g16(input, 12);
  check(c, type === 0x0800 || type === 0x86dd, 'forwarded a frame that is neither IPv4 nor IPv6');
  if (type === 0x0800) {
    const total = g16(input, 16);
    check(c, len === 14 + total, `forwarded IPv4 length ${len}, expected 14 + total length ${total}`);
    check(c, total <= mtu, `forwarded ${total} bytes onto a path with MTU ${mtu}`);
    check(
      c,
      input[22] > 1 && out[o + 22] === input[22] - 1,
      `forwarded IPv4 TTL ${out[o + 22]}, input TTL ${input[22]}`,
    );
    for (let i = 14; i < len; i++) {
      if (i === 22 || i === 24 || i === 25) continue;
      check(c, out[o + i] === input[i], `forwarded IPv4 frame differs from the input at byte ${i}`);
    }
  } else {
    const total = 40 + g16(input, 18);
    check(c, len === 14 + total, `forwarded IPv6 length ${len}, expected 14 + 40 + payload length`);
    check(c, total <= mtu, `forwarded ${total} bytes onto a path with MTU ${mtu}`);
    check(
      c,
      input[21] > 1 && out[o + 21] === input[21] - 1,
      `forwarded IPv6 hop limit ${out[o + 21]}, input ${input[21]}`,
    );
    for (let i = 14; i < len; i++) {
      if (i === 21) continue;
      check(c, out[o + i] === input[i], `forwarded IPv6 frame differs from the input at byte ${i}`);
    }
  }
  check(c, equalBytes(out, o + 6, srcMac, 0, 6), 'forwarded frame has the wrong source MAC');
  check(c, g16(out, o + 12) === type, 'forwarded frame has another ethertype');
}

export interface NextHop {
  port: number;
  family: 4 | 6;
  nh: Uint8Array;
  /** The route is a tunnel: the remote VTEP, the inner destination MAC, the encapsulation overhead. */
  tunnel: { remote: Uint8Array; innerMac: Uint8Array; overhead: number } | null;
}

/** Where the route of the (effective) input's destination says the frame goes. */
export function expectedNextHop(c: Ctx, eff: Eff): NextHop {
  const h = c.h;
  const input = eff.input;
  const family = g16(input, 12) === 0x0800 ? 4 : 6;
  const dst = family === 4 ? input.subarray(30, 34) : input.subarray(38, 54);
  const r = h.route(family, dst);
  check(
    c,
    r !== null && (r.type === 2 || r.type === 3 || r.type === 6),
    `forwarded to ${hex(dst)} whose route is ${JSON.stringify(r)}`,
  );
  if (r.type === 6) {
    // The remote VTEP is the neighbour unless a via route out of the same uplink leads to it.
    const ur = h.route(r.nhFamily, r.nexthop);
    const nh = ur !== null && ur.type === 3 && ur.port === r.port ? ur.nexthop : r.nexthop;
    const tunnel = { remote: r.nexthop, innerMac: r.innerMac ?? VTEP_MAC, overhead: r.nhFamily === 4 ? 50 : 70 };
    return { port: r.port, family: r.nhFamily, nh, tunnel };
  }
  return { port: r.port, family, nh: r.type === 3 ? r.nexthop : dst.slice(), tunnel: null };
}

/** The MTU the inner packet has on that path (the port's, less the tunnel's overhead). */
export function pathMtu(h: Harness, e: NextHop): number {
  return h.ports.mtu(e.port) - (e.tunnel ? e.tunnel.overhead : 0);
}

function portAddr(h: Harness, port: number, family: 4 | 6): Uint8Array {
  const o = family === 4 ? h.ports.ipv4Off(port) : h.ports.ipv6Off(port);
  return h.ports.bytes.slice(o, o + (family === 4 ? 4 : 16));
}

/** The frame inside a forwarded frame (io, ilen), its source MAC, and the outer UDP source port (-1: none). */
export interface Forwarded {
  io: number;
  ilen: number;
  srcMac: Uint8Array;
  sport: number;
}

/**
 * The frame a forwarded frame at o carries: itself, or when the route is a tunnel the inner
 * frame (outer headers checked).
 */
export function forwardedInner(c: Ctx, e: NextHop, b: Uint8Array, o: number, len: number): Forwarded {
  if (!e.tunnel) return { io: o, ilen: len, srcMac: PORT_MACS[e.port], sport: -1 };
  const vx = checkVxHeaders(c, b, o, len, e.family);
  check(c, equalBytes(b, o + 6, PORT_MACS[e.port], 0, 6), 'encapsulated frame has the wrong outer source MAC');
  const src = portAddr(c.h, e.port, e.family);
  check(c, equalBytes(vx.src, 0, src, 0, src.length), "outer source is not the uplink's address");
  check(
    c,
    equalBytes(vx.dst, 0, e.tunnel.remote, 0, e.tunnel.remote.length),
    'outer destination is not the remote VTEP',
  );
  check(
    c,
    equalBytes(b, vx.inner, e.tunnel.innerMac, 0, 6),
    "inner destination MAC is not the route's (or our VXLAN MAC)",
  );
  return { io: vx.inner, ilen: vx.innerLen, srcMac: VTEP_MAC, sport: vx.sport };
}

/**
 * A forwarded (sent) or parked frame at o: the encapsulation when the route is a tunnel, then
 * the packet. Returns whether it was encapsulated.
 */
export function checkForwardedFrame(
  c: Ctx,
  eff: Eff,
  e: NextHop,
  b: Uint8Array,
  o: number,
  len: number,
  sent: boolean,
): boolean {
  const h = c.h;
  const { io, ilen, srcMac } = forwardedInner(c, e, b, o, len);
  checkForwardedBytes(c, eff.input, b, io, ilen, srcMac, pathMtu(h, e));
  if (sent) {
    const m = h.neighbour(e.port, e.family, e.nh);
    check(
      c,
      m !== null && equalBytes(b, o, m, 0, 6),
      `forwarded to MAC ${hex(b.subarray(o, o + 6))}, neighbour table says ${m && hex(m)}`,
    );
  }
  return e.tunnel !== null;
}
