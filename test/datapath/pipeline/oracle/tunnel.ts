// Frames through the tunnel: the outer headers of whatever the router encapsulated, and
// answers that go back encapsulated to where a decapsulated frame came from.
import { type TxDesc, equalBytes, hex } from '../../harness.js';
import { g16, g32 } from '../reading/frame.js';
import { type Vx, parseVx, udpSumOk } from '../reading/vxlan.js';
import { type Ctx, check } from './check.js';
import type { Eff } from './effective.js';

/** The outer headers of a frame the router encapsulated (any direction); returns the parse. */
export function checkVxHeaders(c: Ctx, b: Uint8Array, o: number, len: number, family: 4 | 6): Vx {
  const h = c.h;
  const vx = parseVx(b, o, len);
  check(
    c,
    vx !== null && vx.family === family,
    `expected a VXLAN frame over IPv${family}: ${hex(b.subarray(o, o + Math.min(len, 80)))}`,
  );
  const ip = vx.ip;
  if (family === 4) {
    check(
      c,
      b[ip] === 0x45 && b[ip + 1] === 0 && g16(b, ip + 4) === 0 && g16(b, ip + 6) === 0x4000 && b[ip + 8] === 64,
      'outer IPv4: expected IHL 5, TOS 0, ID 0, DF, TTL 64',
    );
    check(c, g16(b, vx.udp + 6) === 0, 'outer UDP checksum over IPv4 is not 0');
  } else {
    check(
      c,
      g32(b, ip) === 0x60000000 && b[ip + 6] === 17 && b[ip + 7] === 64,
      'outer IPv6: expected class/flow label 0, UDP directly, hop limit 64',
    );
    check(c, g16(b, vx.udp + 6) !== 0 && udpSumOk(b, vx), 'outer UDP checksum over IPv6 does not verify');
  }
  check(c, vx.dport === h.settings.vxlanPort(), `outer UDP destination port ${vx.dport}`);
  check(c, vx.sport >= 32768 && vx.sport < 61000, `outer UDP source port ${vx.sport} outside 32768..60999`);
  check(c, vx.ulen === vx.avail && vx.udp + vx.ulen === o + len, 'outer UDP length does not end with the frame');
  const v = vx.udp + 8;
  check(
    c,
    b[v] === 8 && b[v + 1] === 0 && b[v + 2] === 0 && b[v + 3] === 0 && b[v + 7] === 0,
    'VXLAN flags/reserved not 08 000000 .. 00',
  );
  check(c, ((b[v + 4] << 16) | (b[v + 5] << 8) | b[v + 6]) === h.settings.vxlanVni(), 'VXLAN VNI');
  check(c, len === vx.innerLen + (family === 4 ? 50 : 70), 'encapsulation overhead is not 50 (IPv4) / 70 (IPv6)');
  return vx;
}

/**
 * A frame the router sent back where `eff` came from: out of the ingress port, or encapsulated
 * back through the tunnel it arrived in. Returns the offset and length of the answer itself.
 */
export function unwrapBack(c: Ctx, eff: Eff, t: TxDesc): [number, number] {
  const h = c.h;
  if (!eff.tunnel) {
    check(c, t.port === eff.port, 'answer not sent back out of the ingress port');
    return [t.off, t.len];
  }
  const tn = eff.tunnel;
  const b = h.dp.arena.bytes;
  check(c, t.port === c.step.port, 'answer to a tunnelled frame not sent out of the port the tunnel came in on');
  const vx = checkVxHeaders(c, b, t.off, t.len, tn.family);
  check(
    c,
    equalBytes(vx.src, 0, tn.dst, 0, tn.dst.length) && equalBytes(vx.dst, 0, tn.src, 0, tn.src.length),
    'answer through the tunnel not from the address the frame was sent to, to its source',
  );
  check(c, equalBytes(b, t.off, tn.prevMac, 0, 6), "answer through the tunnel not sent to the previous hop's MAC");
  return [vx.inner, vx.innerLen];
}
