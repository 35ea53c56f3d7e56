// What the router actually processed: the received frame, or, when it was decapsulated
// (VXLAN on the uplink, IPIP / IP6IP6), the inner frame, after checking that the rules
// called for exactly that decapsulation or that drop.
import {
  C,
  COUNTER_NAMES,
  GW4,
  GW6,
  PORT_LL,
  TUNNEL_PORT,
  UP,
  UP_4,
  UP_6,
  VTEP_MAC,
  concat,
  equalBytes,
} from '../../harness.js';
import { extHeaders, g16 } from '../reading/frame.js';
import { type Vx, parseVx, udpSumOk } from '../reading/vxlan.js';
import { type Ctx, check } from './check.js';

const VX_DROPS = [
  C.dropVxlanMalformed,
  C.dropVxlanBadChecksum,
  C.dropVxlanBadFlags,
  C.dropVxlanBadVni,
  C.dropVxlanInnerMac,
  C.dropVxlanInnerEthertype,
];

/** Which dropVxlan* counter the rules give this datagram (our VNI: vni), or -1: decapsulate. */
function vxVerdict(b: Uint8Array, vx: Vx, vni: number): number {
  if (vx.ulen < 8 || vx.ulen > vx.avail) return C.dropVxlanMalformed;
  if (!udpSumOk(b, vx)) return C.dropVxlanBadChecksum;
  const v = vx.udp + 8;
  if (vx.ulen < 16) return C.dropVxlanMalformed;
  if ((b[v] & 8) === 0) return C.dropVxlanBadFlags;
  if (((b[v + 4] << 16) | (b[v + 5] << 8) | b[v + 6]) !== vni) return C.dropVxlanBadVni;
  if (vx.ulen < 16 + 14) return C.dropVxlanMalformed;
  const i = vx.inner;
  if ((b[i + 6] & 1) === 1 || ((b[i] & 1) === 0 && !equalBytes(b, i, VTEP_MAC, 0, 6))) return C.dropVxlanInnerMac;
  const t = g16(b, i + 12);
  if (t !== 0x0800 && t !== 0x86dd && t !== 0x0806) return C.dropVxlanInnerEthertype;
  return -1;
}

/** The tunnel a decapsulated frame came through: outer addresses and the previous hop's MAC. */
export interface Tunnel {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  prevMac: Uint8Array;
}

/** What the router processed: the received frame, or the inner frame of a decapsulated one. */
export interface Eff {
  input: Uint8Array;
  /** Arena offset of `input`. */
  off: number;
  /** Ingress port: TUNNEL_PORT for an inner frame. */
  port: number;
  tunnel: Tunnel | null;
}

export function effective(c: Ctx): Eff {
  const h = c.h;
  const r = c.step;
  const d = r.delta;
  const plain: Eff = { input: r.input, off: r.rxOff, port: r.port, tunnel: null };
  if (d[C.ipipDecapsulated] !== 0 || d[C.dropIpipMalformed] !== 0) return ipipEffective(c, plain);
  const drops = VX_DROPS.filter((i) => d[i] !== 0);
  if (d[C.vxlanDecapsulated] === 0 && drops.length === 0) return plain;
  check(c, d[C.vxlanDecapsulated] <= 1, `vxlanDecapsulated moved by ${d[C.vxlanDecapsulated]}`);
  const vx = parseVx(r.input, 0, r.input.length);
  check(
    c,
    vx !== null && r.port === UP && vx.dport === h.settings.vxlanPort(),
    'VXLAN handling of a frame that is not a UDP datagram to the VXLAN port received on the uplink',
  );
  const local = vx.family === 4 ? [GW4, UP_4] : [GW6, UP_6, PORT_LL[UP]];
  check(
    c,
    local.some((a) => equalBytes(a, 0, vx.dst, 0, a.length)),
    'VXLAN handling of a datagram not sent to one of our addresses',
  );
  const verdict = vxVerdict(r.input, vx, h.settings.vxlanVni());
  if (drops.length) {
    check(
      c,
      verdict === drops[0],
      `dropped as ${COUNTER_NAMES[drops[0]]}, the rules say ${verdict < 0 ? 'decapsulate' : COUNTER_NAMES[verdict]}`,
    );
    return plain;
  }
  check(c, verdict < 0, `decapsulated, the rules say ${COUNTER_NAMES[verdict]}`);
  const i = vx.inner;
  return {
    input: r.input.slice(i, i + vx.innerLen),
    off: r.rxOff + i,
    port: TUNNEL_PORT,
    tunnel: { family: vx.family, src: vx.src, dst: vx.dst, prevMac: r.input.slice(6, 12) },
  };
}

/**
 * IPIP / IP6IP6 to one of our addresses, received on the uplink (lb.ts ipipDecapsulate): the
 * inner packet behind the received Ethernet header is what the router processed, on the same port.
 */
function ipipEffective(c: Ctx, plain: Eff): Eff {
  const r = c.step;
  const d = r.delta;
  const f = r.input;
  check(
    c,
    d[C.ipipDecapsulated] + d[C.dropIpipMalformed] === 1,
    'ipipDecapsulated / dropIpipMalformed moved by more than one',
  );
  check(c, r.port === UP, 'IPIP decapsulated on a port that is not an uplink');
  const type = g16(f, 12);
  let inner: number;
  let end: number;
  let proto: number;
  let dst: Uint8Array;
  if (type === 0x0800) {
    inner = 14 + (f[14] & 15) * 4;
    end = 14 + g16(f, 16);
    proto = f[23];
    dst = f.slice(30, 34);
    check(c, (g16(f, 20) & 0x3fff) === 0, 'IPIP decapsulation of a fragment');
  } else {
    check(c, type === 0x86dd, `IPIP decapsulation of ethertype 0x${type.toString(16)}`);
    const e = extHeaders(f);
    inner = e.l4;
    proto = e.proto;
    end = 54 + g16(f, 18);
    dst = f.slice(38, 54);
    check(c, !e.offs.some((_, i) => (i === 0 ? f[20] : f[e.offs[i - 1]]) === 44), 'IP6IP6 decapsulation of a fragment');
  }
  check(c, proto === 4 || proto === 41, `IPIP decapsulation of protocol ${proto}`);
  const local = type === 0x0800 ? [GW4, UP_4] : [GW6, UP_6, PORT_LL[UP]];
  check(
    c,
    local.some((a) => equalBytes(a, 0, dst, 0, a.length)),
    'IPIP decapsulation of a packet not sent to one of our addresses',
  );
  const version = proto === 4 ? 4 : 6;
  const ok = end > inner && f[inner] >>> 4 === version;
  check(
    c,
    ok === (d[C.ipipDecapsulated] === 1),
    `IPIP inner version ${f[inner] >>> 4} for protocol ${proto}, but ${ok ? 'dropped' : 'decapsulated'}`,
  );
  if (!ok) return plain;
  return {
    input: concat(
      f.slice(0, 12),
      Uint8Array.of(version === 4 ? 0x08 : 0x86, version === 4 ? 0x00 : 0xdd),
      f.slice(inner, end),
    ),
    off: r.rxOff + inner - 14,
    port: r.port,
    tunnel: null,
  };
}
