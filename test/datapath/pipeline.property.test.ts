// Property tests of the router pipeline, in-process (no TAPs): random and mutated frames
// must each end in exactly one outcome, and whatever the pipeline queues for transmission
// must be a well-formed frame inside the arena.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Harness, StepResult, TxDesc, OUTCOME_IDX, COUNTER_NAMES, C, PENDING_SLOTS, TX_PER_PORT, HEADROOM, NPORTS, GEN_SLOTS,
  EP1, EP2, UP, PORT_MACS, PORT_LL, BCAST, GW4, GW6, EP1_4, EP2_4, EP1_6, EP2_6, UP_4, UP_6, NH_4, NH_6, OUT_4, OUT_6,
  BLACKHOLE_4, UNREACH_4, BLACKHOLE_6, UNREACH_6, EP1_MAC, EP2_MAC, NH_MAC, TUNNEL_PORT,
  VX_PORT, VX_VNI, VTEP_MAC, VTEP_LL, LINUX_VX_MAC, VTEP_B_MAC, VTEP_B4, VTEP_C6, VTEP_D4, VTEP_E4,
  POD_B4, POD_B6, POD_C4, POD_C6, POD_D4, POD_E4,
  ip, mac, eth, ipv4, icmp4, udp, tcp, ipv6, icmp6, extHeader, fragHeader, solicitedNode, multicastMac, arp, concat,
  bytes, csum, hex, equalBytes, vxlanUdp,
} from './harness.js';
import { ipv4Check, IPV4_OK } from '../../src/wire/ipv4.js';
import { RecorderTables, RecorderReader } from '../../src/recorder/tables.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The main harness records everything (IPv4 and IPv6, both capture points, 128 bytes) into a
 * small ring that fills up: classification and capture run on every hostile frame too, and must
 * neither throw nor change an outcome or a byte of any frame.
 */
function recordingEverything(): RecorderReader {
  const tables = new RecorderTables({ maxFilters: 16, workers: 1, ringBytes: 1 << 16 });
  tables.setCaptureLength(0, 128);
  const any = (bytes: Uint8Array) => ({ src: { bytes, len: 0 }, srcPort: 0, dst: { bytes, len: 0 }, dstPort: 0, proto: 0 });
  tables.addFilter(0, any(new Uint8Array(4)), 0);
  tables.addFilter(1, any(new Uint8Array(16)), 0);
  const mask = (family: 4 | 6) => ({ family, srcLen: 0, dstLen: 0, srcPortAny: true, dstPortAny: true, protoAny: true });
  tables.publishMasks([{ id: 0, mask: mask(4) }, { id: 1, mask: mask(6) }]);
  return new RecorderReader(tables.sabs, 0);
}

/** The harness the checks read: the main one, or (for the jumbo tests) one with a 9000-byte ep1. */
let h = new Harness({ recorder: recordingEverything() });
const mainHarness = h;
const started = performance.now();
const SCALE = Number(process.env.WEFT_PROP_SCALE ?? '1');
const SEED = process.env.WEFT_PROP_SEED === undefined ? undefined : Number(process.env.WEFT_PROP_SEED);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));

/** fc.assert, but the failure message carries the invariant that broke (node:test hides `cause`). */
function assertProperty<T>(prop: fc.IProperty<[T]>, numRuns: number): void {
  const d = fc.check(prop, SEED === undefined ? { numRuns: runs(numRuns) } : { numRuns: runs(numRuns), seed: SEED });
  if (!d.failed) return;
  const err = d.errorInstance as Error | undefined;
  throw new Error(`property failed after ${d.numRuns} runs (seed ${d.seed}, path "${d.counterexamplePath}", shrunk ${d.numShrinks} times)\n` +
    `counterexample: ${fc.stringify(d.counterexample)}\n${err?.message ?? String(err)}`);
}

// ---------------------------------------------------------------------------------------
// Reading frames (independently of src/wire).

const g16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const g32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

function pseudo6Sum(b: Uint8Array, ipOff: number, len: number): number {
  let s = 58 + (len >>> 16) + (len & 0xffff);
  for (let i = 0; i < 32; i += 2) s += (b[ipOff + 8 + i] << 8) | b[ipOff + 9 + i];
  return s;
}

/** True if the ICMPv6 message at m (len bytes) of the IPv6 packet at ipOff verifies. */
function icmp6Ok(b: Uint8Array, ipOff: number, m: number, len: number): boolean {
  return csum(b, m, len, pseudo6Sum(b, ipOff, len)) === 0;
}

function isV4Multi(b: Uint8Array, o: number): boolean {
  return (b[o] >= 224 && b[o] <= 239) || (b[o] === 255 && b[o + 1] === 255 && b[o + 2] === 255 && b[o + 3] === 255);
}

// ---------------------------------------------------------------------------------------
// Invariants.

interface Ctx {
  step: StepResult;
  /** The run's frames so far, for messages. */
  history: string[];
}

function describe(r: StepResult): string {
  const tx = r.tx.map((d) => `${d.port}@${d.off}+${d.len}`).join(' ');
  return `\n  port ${r.port} len ${r.input.length} frame ${hex(r.input)}\n  counters ${JSON.stringify(Harness.named(r.delta))}\n  tx [${tx}] parked [${r.parked}] released [${r.released}]`;
}

class InvariantError extends Error {}

function fail(c: Ctx, msg: string): never {
  throw new InvariantError(`${msg}${describe(c.step)}${c.history.length > 1 ? `\n  run so far:\n    ${c.history.join('\n    ')}` : ''}`);
}

function check(c: Ctx, cond: boolean, msg: string): asserts cond {
  if (!cond) fail(c, msg);
}

// ---------------------------------------------------------------------------------------
// VXLAN, read independently of src/wire.

/** A UDP datagram in an Ethernet frame at o: IPv4 (not a fragment) or IPv6 after its extension headers. */
interface Vx {
  family: 4 | 6;
  ip: number;
  udp: number;
  /** The UDP length field. */
  ulen: number;
  /** Bytes from the UDP header to the end of the IP packet. */
  avail: number;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  /** The inner frame behind the VXLAN header, if the UDP length is right. */
  inner: number;
  innerLen: number;
}

function parseVx(b: Uint8Array, o: number, len: number): Vx | null {
  if (len < 14) return null;
  const type = g16(b, o + 12);
  const ip = o + 14;
  let u: number;
  let end: number;
  let family: 4 | 6;
  if (type === 0x0800) {
    if (len < 34) return null;
    const ihl = (b[ip] & 15) * 4;
    if (b[ip] >>> 4 !== 4 || ihl < 20 || b[ip + 9] !== 17 || (g16(b, ip + 6) & 0x3fff) !== 0) return null;
    u = ip + ihl;
    end = ip + g16(b, ip + 2);
    family = 4;
  } else if (type === 0x86dd) {
    if (len < 54) return null;
    const f = b.subarray(o, o + len);
    const e = extHeaders(f);
    if (e.proto !== 17 || e.l4 + 8 > len) return null;
    for (let k = 0; k < e.offs.length; k++) if ((k === 0 ? f[20] : f[e.offs[k - 1]]) === 44) return null; // a fragment
    u = o + e.l4;
    end = ip + 40 + g16(b, ip + 4);
    family = 6;
  } else {
    return null;
  }
  if (end > o + len || u + 8 > end) return null;
  const ulen = g16(b, u + 4);
  const n = family === 4 ? 4 : 16;
  const a = family === 4 ? ip + 12 : ip + 8;
  return {
    family, ip, udp: u, ulen, avail: end - u, src: b.slice(a, a + n), dst: b.slice(a + n, a + 2 * n),
    sport: g16(b, u), dport: g16(b, u + 2), inner: u + 16, innerLen: ulen - 16,
  };
}

/** The UDP checksum verifies; zero is "none" over IPv4 and invalid over IPv6. */
function udpSumOk(b: Uint8Array, vx: Vx): boolean {
  const c0 = g16(b, vx.udp + 6);
  if (c0 === 0) return vx.family === 4;
  let s = 17 + vx.ulen;
  for (const a of [vx.src, vx.dst]) for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1];
  return csum(b, vx.udp, vx.ulen, s) === 0;
}

const VX_DROPS = [C.dropVxlanMalformed, C.dropVxlanBadChecksum, C.dropVxlanBadFlags, C.dropVxlanBadVni, C.dropVxlanInnerMac, C.dropVxlanInnerEthertype];

/** Which dropVxlan* counter the rules give this datagram, or -1: decapsulate. */
function vxVerdict(b: Uint8Array, vx: Vx): number {
  if (vx.ulen < 8 || vx.ulen > vx.avail) return C.dropVxlanMalformed;
  if (!udpSumOk(b, vx)) return C.dropVxlanBadChecksum;
  const v = vx.udp + 8;
  if (vx.ulen < 16) return C.dropVxlanMalformed;
  if ((b[v] & 8) === 0) return C.dropVxlanBadFlags;
  if (((b[v + 4] << 16) | (b[v + 5] << 8) | b[v + 6]) !== h.settings.vxlanVni()) return C.dropVxlanBadVni;
  if (vx.ulen < 16 + 14) return C.dropVxlanMalformed;
  const i = vx.inner;
  if ((b[i + 6] & 1) === 1 || ((b[i] & 1) === 0 && !equalBytes(b, i, VTEP_MAC, 0, 6))) return C.dropVxlanInnerMac;
  const t = g16(b, i + 12);
  if (t !== 0x0800 && t !== 0x86dd && t !== 0x0806) return C.dropVxlanInnerEthertype;
  return -1;
}

/** The tunnel a decapsulated frame came through: outer addresses and the previous hop's MAC. */
interface Tunnel {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  prevMac: Uint8Array;
}

/** What the router processed: the received frame, or the inner frame of a decapsulated one. */
interface Eff {
  input: Uint8Array;
  /** Arena offset of `input`. */
  off: number;
  /** Ingress port: TUNNEL_PORT for an inner frame. */
  port: number;
  tunnel: Tunnel | null;
}

function effective(c: Ctx): Eff {
  const r = c.step;
  const d = r.delta;
  const plain: Eff = { input: r.input, off: r.rxOff, port: r.port, tunnel: null };
  if (d[C.ipipDecapsulated] !== 0 || d[C.dropIpipMalformed] !== 0) return ipipEffective(c, plain);
  const drops = VX_DROPS.filter((i) => d[i] !== 0);
  if (d[C.vxlanDecapsulated] === 0 && drops.length === 0) return plain;
  check(c, d[C.vxlanDecapsulated] <= 1, `vxlanDecapsulated moved by ${d[C.vxlanDecapsulated]}`);
  const vx = parseVx(r.input, 0, r.input.length);
  check(c, vx !== null && r.port === UP && vx.dport === h.settings.vxlanPort(), 'VXLAN handling of a frame that is not a UDP datagram to the VXLAN port received on the uplink');
  const local = vx.family === 4 ? [GW4, UP_4] : [GW6, UP_6, PORT_LL[UP]];
  check(c, local.some((a) => equalBytes(a, 0, vx.dst, 0, a.length)), 'VXLAN handling of a datagram not sent to one of our addresses');
  const verdict = vxVerdict(r.input, vx);
  if (drops.length) {
    check(c, verdict === drops[0], `dropped as ${COUNTER_NAMES[drops[0]]}, the rules say ${verdict < 0 ? 'decapsulate' : COUNTER_NAMES[verdict]}`);
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
  check(c, d[C.ipipDecapsulated] + d[C.dropIpipMalformed] === 1, 'ipipDecapsulated / dropIpipMalformed moved by more than one');
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
    check(c, !e.offs.some((o, i) => (i === 0 ? f[20] : f[e.offs[i - 1]]) === 44), 'IP6IP6 decapsulation of a fragment');
  }
  check(c, proto === 4 || proto === 41, `IPIP decapsulation of protocol ${proto}`);
  const local = type === 0x0800 ? [GW4, UP_4] : [GW6, UP_6, PORT_LL[UP]];
  check(c, local.some((a) => equalBytes(a, 0, dst, 0, a.length)), 'IPIP decapsulation of a packet not sent to one of our addresses');
  const version = proto === 4 ? 4 : 6;
  const ok = end > inner && f[inner] >>> 4 === version;
  check(c, ok === (d[C.ipipDecapsulated] === 1), `IPIP inner version ${f[inner] >>> 4} for protocol ${proto}, but ${ok ? 'dropped' : 'decapsulated'}`);
  if (!ok) return plain;
  return {
    input: concat(f.slice(0, 12), Uint8Array.of(version === 4 ? 0x08 : 0x86, version === 4 ? 0x00 : 0xdd), f.slice(inner, end)),
    off: r.rxOff + inner - 14,
    port: r.port,
    tunnel: null,
  };
}

/** The outer headers of a frame the router encapsulated (any direction); returns the parse. */
function checkVxHeaders(c: Ctx, b: Uint8Array, o: number, len: number, family: 4 | 6): Vx {
  const vx = parseVx(b, o, len);
  check(c, vx !== null && vx.family === family, `expected a VXLAN frame over IPv${family}: ${hex(b.subarray(o, o + Math.min(len, 80)))}`);
  const ip = vx.ip;
  if (family === 4) {
    check(c, b[ip] === 0x45 && b[ip + 1] === 0 && g16(b, ip + 4) === 0 && g16(b, ip + 6) === 0x4000 && b[ip + 8] === 64,
      'outer IPv4: expected IHL 5, TOS 0, ID 0, DF, TTL 64');
    check(c, g16(b, vx.udp + 6) === 0, 'outer UDP checksum over IPv4 is not 0');
  } else {
    check(c, g32(b, ip) === 0x60000000 && b[ip + 6] === 17 && b[ip + 7] === 64, 'outer IPv6: expected class/flow label 0, UDP directly, hop limit 64');
    check(c, g16(b, vx.udp + 6) !== 0 && udpSumOk(b, vx), 'outer UDP checksum over IPv6 does not verify');
  }
  check(c, vx.dport === h.settings.vxlanPort(), `outer UDP destination port ${vx.dport}`);
  check(c, vx.sport >= 32768 && vx.sport < 61000, `outer UDP source port ${vx.sport} outside 32768..60999`);
  check(c, vx.ulen === vx.avail && vx.udp + vx.ulen === o + len, 'outer UDP length does not end with the frame');
  const v = vx.udp + 8;
  check(c, b[v] === 8 && b[v + 1] === 0 && b[v + 2] === 0 && b[v + 3] === 0 && b[v + 7] === 0, 'VXLAN flags/reserved not 08 000000 .. 00');
  check(c, ((b[v + 4] << 16) | (b[v + 5] << 8) | b[v + 6]) === h.settings.vxlanVni(), 'VXLAN VNI');
  check(c, len === vx.innerLen + (family === 4 ? 50 : 70), 'encapsulation overhead is not 50 (IPv4) / 70 (IPv6)');
  return vx;
}

/** Our MAC and addresses as the sender of answers: on a port, or inside the tunnel. */
interface Identity {
  mac: Uint8Array;
  ipv4: Uint8Array;
  ll: Uint8Array;
}

function identity(port: number): Identity {
  if (port === TUNNEL_PORT) return { mac: VTEP_MAC, ipv4: GW4, ll: VTEP_LL };
  return { mac: PORT_MACS[port], ipv4: h.ports.bytes.slice(h.ports.ipv4Off(port), h.ports.ipv4Off(port) + 4), ll: PORT_LL[port] };
}

/**
 * A frame the router sent back where `eff` came from: out of the ingress port, or encapsulated
 * back through the tunnel it arrived in. Returns the offset and length of the answer itself.
 */
function unwrapBack(c: Ctx, eff: Eff, t: TxDesc): [number, number] {
  if (!eff.tunnel) {
    check(c, t.port === eff.port, 'answer not sent back out of the ingress port');
    return [t.off, t.len];
  }
  const tn = eff.tunnel;
  const b = h.dp.arena.bytes;
  check(c, t.port === c.step.port, 'answer to a tunnelled frame not sent out of the port the tunnel came in on');
  const vx = checkVxHeaders(c, b, t.off, t.len, tn.family);
  check(c, equalBytes(vx.src, 0, tn.dst, 0, tn.dst.length) && equalBytes(vx.dst, 0, tn.src, 0, tn.src.length),
    'answer through the tunnel not from the address the frame was sent to, to its source');
  check(c, equalBytes(b, t.off, tn.prevMac, 0, 6), 'answer through the tunnel not sent to the previous hop\'s MAC');
  return [vx.inner, vx.innerLen];
}

/** Structural checks on one queued descriptor. */
function checkDescriptor(c: Ctx, d: TxDesc): void {
  const a = h.dp.arena;
  const b = a.bytes;
  check(c, d.port >= 0 && d.port < NPORTS && h.ports.active(d.port), `tx queued on port ${d.port}, not an active port`);
  check(c, Number.isInteger(d.off) && Number.isInteger(d.len), `tx descriptor ${d.off}+${d.len} not integral`);
  check(c, d.off >= 0 && d.off + d.len <= b.length, `tx descriptor ${d.off}+${d.len} outside the arena (${b.length} bytes)`);
  check(c, d.len >= 14 && d.len <= a.maxFrameLen(), `tx descriptor length ${d.len} not in 14..${a.maxFrameLen()}`);
  const slot = h.slotOf(d.off);
  const start = slot * a.slotSize;
  // Frames start at the slot's frame start, or earlier by an encapsulation's headers, or
  // (decapsulated, in the RX slot) later.
  check(c, d.off >= start + HEADROOM - 70 && d.off + d.len <= start + a.slotSize, `tx descriptor ${d.off}+${d.len} not inside slot ${slot}'s frame area`);
  check(c, slot === 0 || slot >= a.genBase, `tx descriptor points into RX slot ${slot}, which holds no frame`);
  const o = d.off;
  const type = g16(b, o + 12);
  check(c, type === 0x0800 || type === 0x86dd || type === 0x0806, `tx frame with ethertype 0x${type.toString(16)}`);
  check(c, equalBytes(b, o + 6, PORT_MACS[d.port], 0, 6), `tx frame on port ${d.port} has source MAC ${hex(b.subarray(o + 6, o + 12))}`);
  if (type === 0x0800) {
    const v = ipv4Check(b, o + 14, d.len - 14);
    check(c, v === IPV4_OK, `tx IPv4 frame fails ipv4Check (verdict ${v}): ${hex(b.subarray(o, o + d.len))}`);
    check(c, g16(b, o + 16) === d.len - 14, `tx IPv4 total length ${g16(b, o + 16)} != frame length ${d.len} - 14`);
    check(c, b[o + 22] > 0, 'tx IPv4 frame with TTL 0');
  } else if (type === 0x86dd) {
    check(c, d.len >= 54 && b[o + 14] >>> 4 === 6, `tx IPv6 frame too short or not version 6: ${hex(b.subarray(o, o + Math.min(d.len, 64)))}`);
    check(c, 40 + g16(b, o + 18) === d.len - 14, `tx IPv6 payload length ${g16(b, o + 18)} != frame length ${d.len} - 54`);
    check(c, b[o + 21] > 0, 'tx IPv6 frame with hop limit 0');
  } else {
    check(c, d.len === 42 && g16(b, o + 14) === 1 && g16(b, o + 16) === 0x0800 && b[o + 18] === 6 && b[o + 19] === 4,
      `tx ARP frame malformed: ${hex(b.subarray(o, o + d.len))}`);
    const op = g16(b, o + 20);
    check(c, op === 1 || op === 2, `tx ARP op ${op}`);
  }
}

/** The IP part of a forwarded frame equals the input but for TTL/hop limit (+IPv4 checksum). */
function checkForwardedBytes(c: Ctx, input: Uint8Array, out: Uint8Array, o: number, len: number, srcMac: Uint8Array, mtu: number): void {
  const type = g16(input, 12);
  check(c, type === 0x0800 || type === 0x86dd, 'forwarded a frame that is neither IPv4 nor IPv6');
  if (type === 0x0800) {
    const total = g16(input, 16);
    check(c, len === 14 + total, `forwarded IPv4 length ${len}, expected 14 + total length ${total}`);
    check(c, total <= mtu, `forwarded ${total} bytes onto a path with MTU ${mtu}`);
    check(c, input[22] > 1 && out[o + 22] === input[22] - 1, `forwarded IPv4 TTL ${out[o + 22]}, input TTL ${input[22]}`);
    for (let i = 14; i < len; i++) {
      if (i === 22 || i === 24 || i === 25) continue;
      check(c, out[o + i] === input[i], `forwarded IPv4 frame differs from the input at byte ${i}`);
    }
  } else {
    const total = 40 + g16(input, 18);
    check(c, len === 14 + total, `forwarded IPv6 length ${len}, expected 14 + 40 + payload length`);
    check(c, total <= mtu, `forwarded ${total} bytes onto a path with MTU ${mtu}`);
    check(c, input[21] > 1 && out[o + 21] === input[21] - 1, `forwarded IPv6 hop limit ${out[o + 21]}, input ${input[21]}`);
    for (let i = 14; i < len; i++) {
      if (i === 21) continue;
      check(c, out[o + i] === input[i], `forwarded IPv6 frame differs from the input at byte ${i}`);
    }
  }
  check(c, equalBytes(out, o + 6, srcMac, 0, 6), 'forwarded frame has the wrong source MAC');
  check(c, g16(out, o + 12) === type, 'forwarded frame has another ethertype');
}

interface NextHop {
  port: number;
  family: 4 | 6;
  nh: Uint8Array;
  /** The route is a tunnel: the remote VTEP, the inner destination MAC, the encapsulation overhead. */
  tunnel: { remote: Uint8Array; innerMac: Uint8Array; overhead: number } | null;
}

/** Where the route of the (effective) input's destination says the frame goes. */
function expectedNextHop(c: Ctx, eff: Eff): NextHop {
  const input = eff.input;
  const family = g16(input, 12) === 0x0800 ? 4 : 6;
  const dst = family === 4 ? input.subarray(30, 34) : input.subarray(38, 54);
  const r = h.route(family, dst);
  check(c, r !== null && (r.type === 2 || r.type === 3 || r.type === 6), `forwarded to ${hex(dst)} whose route is ${JSON.stringify(r)}`);
  if (r.type === 6) {
    // The remote VTEP is the neighbour unless a via route out of the same uplink leads to it.
    const ur = h.route(r.nhFamily, r.nexthop);
    const nh = ur !== null && ur.type === 3 && ur.port === r.port ? ur.nexthop : r.nexthop;
    return { port: r.port, family: r.nhFamily, nh, tunnel: { remote: r.nexthop, innerMac: r.innerMac ?? VTEP_MAC, overhead: r.nhFamily === 4 ? 50 : 70 } };
  }
  return { port: r.port, family, nh: r.type === 3 ? r.nexthop : dst.slice(), tunnel: null };
}

/** The MTU the inner packet has on that path (the port's, less the tunnel's overhead). */
function pathMtu(e: NextHop): number {
  return h.ports.mtu(e.port) - (e.tunnel ? e.tunnel.overhead : 0);
}

function portAddr(port: number, family: 4 | 6): Uint8Array {
  const o = family === 4 ? h.ports.ipv4Off(port) : h.ports.ipv6Off(port);
  return h.ports.bytes.slice(o, o + (family === 4 ? 4 : 16));
}

/** The frame a forwarded frame at o carries: itself, or when the route is a tunnel the inner frame (outer headers checked). */
function forwardedInner(c: Ctx, e: NextHop, b: Uint8Array, o: number, len: number): { io: number; ilen: number; srcMac: Uint8Array; sport: number } {
  if (!e.tunnel) return { io: o, ilen: len, srcMac: PORT_MACS[e.port], sport: -1 };
  const vx = checkVxHeaders(c, b, o, len, e.family);
  check(c, equalBytes(b, o + 6, PORT_MACS[e.port], 0, 6), 'encapsulated frame has the wrong outer source MAC');
  const src = portAddr(e.port, e.family);
  check(c, equalBytes(vx.src, 0, src, 0, src.length), 'outer source is not the uplink\'s address');
  check(c, equalBytes(vx.dst, 0, e.tunnel.remote, 0, e.tunnel.remote.length), 'outer destination is not the remote VTEP');
  check(c, equalBytes(b, vx.inner, e.tunnel.innerMac, 0, 6), 'inner destination MAC is not the route\'s (or our VXLAN MAC)');
  return { io: vx.inner, ilen: vx.innerLen, srcMac: VTEP_MAC, sport: vx.sport };
}

/** A forwarded (sent) or parked frame at o: the encapsulation when the route is a tunnel, then the packet. */
function checkForwardedFrame(c: Ctx, eff: Eff, e: NextHop, b: Uint8Array, o: number, len: number, sent: boolean): boolean {
  const { io, ilen, srcMac } = forwardedInner(c, e, b, o, len);
  checkForwardedBytes(c, eff.input, b, io, ilen, srcMac, pathMtu(e));
  if (sent) {
    const m = h.neighbour(e.port, e.family, e.nh);
    check(c, m !== null && equalBytes(b, o, m, 0, 6), `forwarded to MAC ${hex(b.subarray(o, o + 6))}, neighbour table says ${m && hex(m)}`);
  }
  return e.tunnel !== null;
}

// ---------------------------------------------------------------------------------------
// IPv4 fragmentation (RFC 791 §3.2): the model, and the checks of every fragment.

/**
 * The options of an IPv4 header (hdr: the whole header) that later fragments carry: those
 * with the copied flag (0x80), padded with EOL to a multiple of 4; null when the walk meets
 * an option whose length byte is missing, below 2 or past the header.
 */
function copiedOptions(hdr: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  let p = 20;
  while (p < hdr.length) {
    const type = hdr[p];
    if (type === 0) break;
    if (type === 1) {
      p += 1;
      continue;
    }
    if (p + 1 >= hdr.length || hdr[p + 1] < 2 || p + hdr[p + 1] > hdr.length) return null;
    if (type & 0x80) out.push(...hdr.subarray(p, p + hdr[p + 1]));
    p += hdr[p + 1];
  }
  while (out.length % 4) out.push(0);
  return Uint8Array.from(out);
}

interface PlannedFragment {
  /** Position of its data in the packet's payload. */
  pos: number;
  len: number;
  hlen: number;
  /** The flags / fragment offset word. */
  word: number;
}

type FragVerdict = 'fragmented' | 'dropFragmentBadOptions' | 'dropFragmentOffsetOverflow' | 'dropFragmentNoSlots';

/** How the IPv4 packet in `input` (a frame) must be cut for an MTU, with genFree generated slots left. */
function planFragments(input: Uint8Array, mtu: number, genFree: number): { verdict: FragVerdict; frags: PlannedFragment[]; later: Uint8Array } {
  const hl = (input[14] & 15) * 4;
  const total = g16(input, 16);
  const w = g16(input, 20);
  const later = copiedOptions(input.subarray(14, 14 + hl));
  if (later === null) return { verdict: 'dropFragmentBadOptions', frags: [], later: new Uint8Array(0) };
  const frags: PlannedFragment[] = [];
  const data = total - hl;
  for (let pos = 0; pos < data;) {
    const hlen = frags.length === 0 ? hl : 20 + later.length;
    const room = Math.floor((mtu - hlen) / 8) * 8;
    const len = Math.min(room, data - pos);
    const last = pos + len === data;
    frags.push({ pos, len, hlen, word: (w & 0x8000) | (last ? w & 0x2000 : 0x2000) | ((w & 0x1fff) + pos / 8) });
    pos += len;
  }
  let verdict: FragVerdict = 'fragmented';
  if (frags.some((f) => (w & 0x1fff) + f.pos / 8 > 0x1fff)) verdict = 'dropFragmentOffsetOverflow';
  else if (frags.length > genFree) verdict = 'dropFragmentNoSlots';
  return { verdict, frags, later };
}

const FRAG_OUTCOMES = new Set<string>(['fragmented', 'dropFragmentBadOptions', 'dropFragmentOffsetOverflow', 'dropFragmentNoSlots']);

/** A fragment found in its generated slot: the frame as queued (outer, for a tunnel) and the IPv4 packet inside. */
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
function checkFragmentation(c: Ctx, eff: Eff, outcome: string): Set<number> {
  const r = c.step;
  const d = r.delta;
  const input = eff.input;
  const a = h.dp.arena;
  const b = a.bytes;
  check(c, input.length >= 34 && g16(input, 12) === 0x0800 && ipv4Check(input, 14, input.length - 14) === IPV4_OK,
    `${outcome} for a frame that is not a valid IPv4 packet`);
  const w = g16(input, 20);
  check(c, (w & 0x4000) === 0, `${outcome} for a packet with DF set`);
  check(c, input[22] > 1, `${outcome} for a packet with TTL ${input[22]}`);
  const e = expectedNextHop(c, eff);
  const mtu = pathMtu(e);
  const total = g16(input, 16);
  const hl = (input[14] & 15) * 4;
  check(c, total > mtu, `${outcome} for ${total} bytes on a path with MTU ${mtu}`);
  const plan = planFragments(input, mtu, GEN_SLOTS - r.genBefore);
  check(c, outcome === plan.verdict, `${outcome}, the model says ${plan.verdict}`);
  const slots = new Set<number>();
  if (outcome !== 'fragmented') {
    check(c, d[C.fragmentsSent] + d[C.fragmentsQueued] + d[C.fragmentsLost] === 0 && r.parked.length === 0 && r.genAfter === r.genBefore,
      `${outcome}, but fragments were built, sent or parked`);
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
    check(c, inner.io === fo && inner.ilen === 14 + itotal, `fragment ${k}: the encapsulation does not wrap the fragment`);
    const ip = fo + 14;
    const v = ipv4Check(b, ip, itotal);
    check(c, v === IPV4_OK, `fragment ${k} fails ipv4Check (${v}): ${hex(b.subarray(fo, fo + Math.min(14 + itotal, 80)))}`);
    check(c, g16(b, fo + 12) === 0x0800 && equalBytes(b, fo + 6, inner.srcMac, 0, 6), `fragment ${k}: Ethernet source or type wrong`);
    if (e.tunnel) check(c, equalBytes(b, fo, e.tunnel.innerMac, 0, 6), `fragment ${k}: inner destination MAC is not the route's`);
    const fhl = (b[ip] & 15) * 4;
    const fw = g16(b, ip + 6);
    // Spec-level: DF clear, offsets continue the packet's own, MF on all but the last (and on
    // the last as the packet had it), data a multiple of 8 but in the last.
    const fdata = itotal - fhl;
    check(c, (fw & 0x4000) === 0, `fragment ${k} has DF set`);
    check(c, (fw & 0x8000) === (w & 0x8000), `fragment ${k}: reserved flag changed`);
    check(c, (fw & 0x1fff) === (w & 0x1fff) + pf.pos / 8, `fragment ${k}: offset ${fw & 0x1fff}, expected ${(w & 0x1fff) + pf.pos / 8}`);
    check(c, k === n - 1 ? (fw & 0x2000) === (w & 0x2000) : (fw & 0x2000) !== 0, `fragment ${k} of ${n}: MF ${(fw >> 13) & 1}, packet's MF ${(w >> 13) & 1}`);
    check(c, k === n - 1 || fdata % 8 === 0, `fragment ${k} of ${n} carries ${fdata} bytes, not a multiple of 8`);
    check(c, fhl === pf.hlen && fdata === pf.len && fw === pf.word, `fragment ${k}: header ${fhl} + data ${fdata}, flags 0x${fw.toString(16)}; the model says ${pf.hlen} + ${pf.len}, 0x${pf.word.toString(16)}`);
    check(c, b[ip + 8] === ttl, `fragment ${k}: TTL ${b[ip + 8]}, expected ${ttl}`);
    if (k === 0) {
      // The original's header, options and all, but for length, flags, TTL and checksum.
      for (let i = 0; i < hl; i++) {
        if (i === 2 || i === 3 || i === 6 || i === 7 || i === 8 || i === 10 || i === 11) continue;
        check(c, b[ip + i] === input[14 + i], `first fragment's header differs from the packet's at byte ${i}`);
      }
    } else {
      check(c, b[ip] === 0x40 + fhl / 4 && b[ip + 1] === input[15] && g16(b, ip + 4) === g16(input, 18) && b[ip + 9] === input[23] &&
        equalBytes(b, ip + 12, input, 26, 8), `fragment ${k}: version, TOS, ID, protocol or addresses differ from the packet's`);
      check(c, equalBytes(b, ip + 20, plan.later, 0, plan.later.length), `fragment ${k}: options ${hex(b.subarray(ip + 20, ip + fhl))}, the copied ones are ${hex(plan.later)}`);
    }
    check(c, equalBytes(b, ip + fhl, input, 14 + hl + pf.pos, fdata), `fragment ${k}: data differs from the packet's at ${pf.pos}`);
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
  check(c, whole.length === total - hl && equalBytes(whole, 0, input, 14 + hl, total - hl), 'reassembled fragments differ from the packet\'s payload');
  // Where each went: queued (to the neighbour's MAC), parked (a copy, for the route's neighbour), or lost.
  const fates = new Map<number, string>();
  for (const t of r.tx) {
    if (!h.isGenerated(t.off) || !slots.has(h.slotOf(t.off))) continue;
    const f = found.find((x) => x.slot === h.slotOf(t.off))!;
    check(c, !fates.has(f.slot), 'a fragment queued twice');
    fates.set(f.slot, 'sent');
    check(c, t.off === f.o && t.len === f.len && t.port === e.port, `fragment queued at ${t.port}:${t.off}+${t.len}, expected ${e.port}:${f.o}+${f.len}`);
    const m = h.neighbour(e.port, e.family, e.nh);
    check(c, m !== null && equalBytes(b, t.off, m, 0, 6), `fragment sent to MAC ${hex(b.subarray(t.off, t.off + 6))}, neighbour table says ${m && hex(m)}`);
  }
  const q = h.dp.pending;
  for (const i of r.parked) {
    const po = q.frameOff(i);
    const f = found.find((x) => x.len === q.len[i] && equalBytes(b, x.o, b, po, x.len));
    check(c, f !== undefined, `parked frame in pending slot ${i} is none of the fragments`);
    check(c, !fates.has(f.slot), 'a fragment parked twice, or sent and parked');
    fates.set(f.slot, 'parked');
    check(c, q.port[i] === e.port && q.family[i] === e.family && equalBytes(q.nexthop, i * 16, e.nh, 0, e.nh.length),
      `fragment parked for port ${q.port[i]} family ${q.family[i]}, route says ${e.port} ${hex(e.nh)}`);
    const guard = h.slotGuard(h.slotOf(po), q.len[i]);
    check(c, guard < 0, `pending slot written outside the parked fragment at arena offset ${guard}`);
  }
  const sent = [...fates.values()].filter((x) => x === 'sent').length;
  const parked = fates.size - sent;
  check(c, d[C.fragmentsSent] === sent && d[C.fragmentsQueued] === parked && d[C.fragmentsLost] === n - sent - parked,
    `${n} fragments: ${sent} queued, ${parked} parked; counters say sent ${d[C.fragmentsSent]}, queued ${d[C.fragmentsQueued]}, lost ${d[C.fragmentsLost]}`);
  if (parked > 0) check(c, h.neighbour(e.port, e.family, e.nh) === null, 'fragments parked although the neighbour is known');
  if (sent > 0) check(c, parked === 0, 'fragments both sent and parked');
  return slots;
}

interface Kinds {
  arpReply: number;
  arpRequest: number;
  ns: number;
  na: number;
  icmpError: number;
  encapsulated: number;
}

/** Classifies and checks a frame the router generated (gen slot); eff is null for servicePending. */
function checkGenerated(c: Ctx, eff: Eff | null, d: TxDesc, k: Kinds): void {
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
    check(c, eff !== null && eff.tunnel !== null, 'an encapsulated generated frame, but nothing came through the tunnel');
    [o, len] = unwrapBack(c, eff, d);
    check(c, o === a.frameOff(slot), 'the encapsulated answer is not the generated frame');
    k.encapsulated++;
    back = true;
  }
  // Answers go back where the frame came from: the ingress port, or the tunnel (checked above).
  const answersBack = back || (eff !== null && eff.tunnel === null && d.port === eff.port);
  const id = back ? identity(TUNNEL_PORT) : identity(d.port);
  const input = eff?.input ?? new Uint8Array(0);
  const type = g16(b, o + 12);
  if (type === 0x0806) {
    if (g16(b, o + 20) === 2) {
      k.arpReply++;
      check(c, answersBack, 'ARP reply not sent back where the request came from');
      check(c, g16(input, 12) === 0x0806 && g16(input, 20) === 1, 'ARP reply to something that is not an ARP request');
      check(c, equalBytes(b, o + 6, id.mac, 0, 6) && equalBytes(b, o + 22, id.mac, 0, 6), 'ARP reply sender MAC is not the port MAC');
      check(c, equalBytes(b, o + 28, input, 38, 4), 'ARP reply sender IP is not the requested IP');
      check(c, equalBytes(b, o + 32, input, 22, 6) && equalBytes(b, o + 38, input, 28, 4), 'ARP reply target is not the requester');
      check(c, equalBytes(b, o, input, 6, 6), 'ARP reply not addressed to the requester MAC');
    } else {
      k.arpRequest++;
      check(c, !back, 'ARP request sent through the tunnel');
      check(c, equalBytes(b, o, BCAST, 0, 6), 'ARP request not broadcast');
      check(c, equalBytes(b, o + 22, PORT_MACS[d.port], 0, 6), 'ARP request sender MAC is not the port MAC');
      const spa = h.ports.bytes.subarray(h.ports.ipv4Off(d.port), h.ports.ipv4Off(d.port) + 4);
      check(c, equalBytes(b, o + 28, spa, 0, 4), 'ARP request sender IP is not the port address');
      check(c, isSolicited(d.port, 4, b.subarray(o + 38, o + 42)), `ARP request for ${hex(b.subarray(o + 38, o + 42))}, which no parked frame waits for`);
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
    check(c, equalBytes(b, o + 30, input, 26, 4), 'ICMP error not addressed to the offending packet\'s source');
    check(c, equalBytes(b, o + 26, id.ipv4, 0, 4), 'ICMP error source is not the port address');
    check(c, equalBytes(b, o, input, 6, 6), 'ICMP error not sent to the offending frame\'s source MAC');
    check(c, equalBytes(b, o + 6, id.mac, 0, 6), 'ICMP error not sent from the port MAC');
    check(c, !isV4Multi(input, 26) && input[26] !== 0, 'ICMP error about a packet from a multicast/broadcast/zero source');
    check(c, (g16(input, 20) & 0x1fff) === 0, 'ICMP error about a later fragment');
    check(c, (input[0] & 1) === 0, 'ICMP error about a frame sent to a group MAC');
    const ihl = (input[14] & 15) * 4;
    const itotal = g16(input, 16);
    const quote = Math.min(itotal, 576 - 28);
    check(c, total === 28 + quote, `ICMP error quotes ${total - 28} bytes, expected ${quote}`);
    check(c, equalBytes(b, m + 8, input, 14, quote), 'ICMP error quote differs from the offending packet');
    check(c, !(input[23] === 1 && ihl < itotal && [3, 4, 5, 11, 12].includes(input[14 + ihl])), 'ICMP error about an ICMP error');
    const code = b[m + 1];
    if (t === 11) check(c, c.step.delta[C.dropTtlExceeded] === 1 && code === 0, 'time exceeded without dropTtlExceeded');
    else if (code === 4) {
      check(c, c.step.delta[C.dropTooBig] === 1, 'fragmentation needed without dropTooBig');
      const e = expectedNextHop(c, eff!);
      check(c, g16(b, m + 6) === pathMtu(e), `fragmentation needed advertises MTU ${g16(b, m + 6)}, the path has ${pathMtu(e)}`);
    } else check(c, c.step.delta[C.dropNoRoute] === 1 && (code === 0 || code === 1), `destination unreachable code ${code} without dropNoRoute`);
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
    check(c, equalBytes(b, o + 38, solicitedNode(b.subarray(m + 8, m + 24)), 0, 16), 'NS not sent to the solicited-node group');
    check(c, equalBytes(b, o, multicastMac(b.subarray(o + 38, o + 54)), 0, 6), 'NS Ethernet destination is not the group MAC');
    check(c, equalBytes(b, m + 26, PORT_MACS[d.port], 0, 6), 'NS source link-layer option is not the port MAC');
    check(c, isSolicited(d.port, 6, b.subarray(m + 8, m + 24)), 'NS for an address no parked frame waits for');
  } else if (t === 136) {
    k.na++;
    check(c, answersBack, 'NA not sent back where the NS came from');
    check(c, plen === 32 && b[o + 21] === 255 && b[m + 24] === 2 && b[m + 25] === 1, 'malformed NA');
    check(c, equalBytes(b, m + 26, id.mac, 0, 6) && equalBytes(b, o + 6, id.mac, 0, 6), 'NA target link-layer option / source MAC is not the port MAC');
    check(c, g16(input, 12) === 0x86dd, 'NA in answer to a non-IPv6 frame');
    check(c, equalBytes(b, o + 22, b, m + 8, 16), 'NA source is not its target');
    const target = b.subarray(m + 8, m + 24);
    check(c, equalBytes(target, 0, GW6, 0, 16) || equalBytes(target, 0, UP_6, 0, 16) || equalBytes(target, 0, id.ll, 0, 16),
      `NA for ${hex(target)}, which is not ours`);
  } else {
    check(c, t === 1 || t === 2 || t === 3, `router generated ICMPv6 type ${t}`);
    k.icmpError++;
    check(c, answersBack, 'ICMPv6 error not sent back where the offending frame came from');
    check(c, g16(input, 12) === 0x86dd, 'ICMPv6 error about a non-IPv6 frame');
    check(c, equalBytes(b, o + 38, input, 22, 16), 'ICMPv6 error not addressed to the offending packet\'s source');
    check(c, input[22] !== 0xff, 'ICMPv6 error to a multicast source');
    check(c, (input[0] & 1) === 0, 'ICMPv6 error about a frame sent to a group MAC');
    const quote = Math.min(40 + g16(input, 18), 1280 - 48);
    check(c, plen === 8 + quote, `ICMPv6 error quotes ${plen - 8} bytes, expected ${quote}`);
    check(c, equalBytes(b, m + 8, input, 14, quote), 'ICMPv6 error quote differs from the offending packet');
    if (t === 3) check(c, c.step.delta[C.dropTtlExceeded] === 1, 'time exceeded without dropTtlExceeded');
    else if (t === 2) {
      check(c, c.step.delta[C.dropTooBig] === 1, 'packet too big without dropTooBig');
      const e = expectedNextHop(c, eff!);
      check(c, g32(b, m + 4) === pathMtu(e), `packet too big advertises MTU ${g32(b, m + 4)}, the path has ${pathMtu(e)}`);
    } else check(c, c.step.delta[C.dropNoRoute] === 1, 'destination unreachable without dropNoRoute');
  }
}

/** Some parked frame waits for (port, family, addr). */
function isSolicited(port: number, family: number, addr: Uint8Array): boolean {
  const q = h.dp.pending;
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < PENDING_SLOTS; i++) {
    if (q.used[i] === 1 && q.port[i] === port && q.family[i] === family && equalBytes(q.nexthop, i * 16, addr, 0, n)) return true;
  }
  return false;
}

function checkPendingQueue(c: Ctx): void {
  const q = h.dp.pending;
  let used = 0;
  for (let i = 0; i < PENDING_SLOTS; i++) used += q.used[i];
  check(c, q.count >= 0 && q.count <= PENDING_SLOTS, `pending count ${q.count} outside 0..${PENDING_SLOTS}`);
  check(c, used === q.count, `pending count ${q.count} but ${used} slots used`);
}

function checkTxQueues(c: Ctx): void {
  const tx = h.dp.tx;
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

/** Every invariant of one receiveFrame step. Returns the outcome's name. */
function checkReceive(c: Ctx): string {
  const r = c.step;
  if (r.error !== undefined) fail(c, `receiveFrame threw: ${(r.error as Error)?.stack ?? String(r.error)}`);
  const d = r.delta;
  for (let i = 0; i < d.length; i++) {
    check(c, Number.isInteger(d[i]) && d[i] >= 0, `counter ${COUNTER_NAMES[i]} moved by ${d[i]}`);
  }
  check(c, d[C.rxFrames] === 1, `rxFrames moved by ${d[C.rxFrames]}`);
  check(c, d[C.rxBytes] === r.input.length, `rxBytes moved by ${d[C.rxBytes]}, frame has ${r.input.length}`);
  const moved = OUTCOME_IDX.filter((i) => d[i] !== 0);
  check(c, moved.length === 1, `${moved.length} outcome counters moved (${moved.map((i) => COUNTER_NAMES[i]).join(', ') || 'none'})`);
  check(c, d[moved[0]] === 1, `outcome ${COUNTER_NAMES[moved[0]]} moved by ${d[moved[0]]}`);
  const outcome = COUNTER_NAMES[moved[0]];
  check(c, d[C.txFrames] === 0 && d[C.txBytes] === 0 && d[C.pendingSent] === 0, 'tx/pendingSent counters moved during receive');
  check(c, d[C.vxlanRepliesLost] === 0, 'an answer through the tunnel was lost');
  const expectTx = d[C.forwarded] + d[C.echoReplied] + d[C.arpReplied] + d[C.ndpReplied] + d[C.neighbourRequests] + d[C.icmpErrorsSent] + d[C.fragmentsSent];
  check(c, r.tx.length === expectTx, `${r.tx.length} frames queued but the counters account for ${expectTx}`);
  checkTxQueues(c);
  checkPendingQueue(c);
  check(c, r.released.length === 0, 'receiveFrame released pending slots');
  const eff = effective(c);
  const a = h.dp.arena;
  const b = a.bytes;
  const rxGuard = h.slotGuard(0, r.input.length, d[C.vxlanEncapsulated] > 0 ? 70 : 0);
  check(c, rxGuard < 0, `RX slot written outside the frame at arena offset ${rxGuard} (frame at ${r.rxOff}, ${r.input.length} bytes)`);
  const k: Kinds = { arpReply: 0, arpRequest: 0, ns: 0, na: 0, icmpError: 0, encapsulated: 0 };
  // Fragmentation: a non-DF IPv4 packet above the path MTU is fragmented (or dropped by name);
  // dropTooBig is for DF.
  const fragSlots = FRAG_OUTCOMES.has(outcome) ? checkFragmentation(c, eff, outcome) : new Set<number>();
  check(c, d[C.fragmentsSent] + d[C.fragmentsQueued] + d[C.fragmentsLost] === 0 || outcome === 'fragmented', `fragments counted with outcome ${outcome}`);
  if (outcome === 'fragmented' && expectedNextHop(c, eff).tunnel) k.encapsulated += fragSlots.size;
  if (outcome === 'dropTooBig' && g16(eff.input, 12) === 0x0800) check(c, (g16(eff.input, 20) & 0x4000) !== 0, 'dropTooBig for an IPv4 packet without DF');
  const accounted = new Set<number>(fragSlots);
  for (const t of r.tx) if (h.isGenerated(t.off)) accounted.add(h.slotOf(t.off));
  for (let g = r.genBefore; g < r.genAfter; g++) check(c, accounted.has(a.genBase + g), `generated slot ${g} allocated, but it is neither queued nor a fragment`);
  let rxDescs = 0;
  for (const t of r.tx) {
    checkDescriptor(c, t);
    if (fragSlots.has(h.slotOf(t.off))) continue;
    if (h.slotOf(t.off) === 0) {
      rxDescs++;
      if (outcome === 'forwarded') {
        const e = expectedNextHop(c, eff);
        check(c, t.port === e.port, `forwarded out of port ${t.port}, route says ${e.port}`);
        check(c, t.off === eff.off - (e.tunnel ? e.tunnel.overhead : 0), `forwarded frame at ${t.off}: not the received one (less the headers prepended, ${e.tunnel?.overhead ?? 0})`);
        if (checkForwardedFrame(c, eff, e, b, t.off, t.len, true)) k.encapsulated++;
      } else if (outcome === 'consumed' && d[C.echoReplied] === 1) {
        const [o, len] = unwrapBack(c, eff, t);
        if (eff.tunnel) k.encapsulated++;
        check(c, o === eff.off && len <= eff.input.length, `echo reply at ${o}+${len}, not built in place of the request at ${eff.off}+${eff.input.length}`);
        checkEchoReply(c, eff, o, len);
      } else {
        fail(c, `frame queued from the RX slot with outcome ${outcome}`);
      }
    } else {
      check(c, h.isGenerated(t.off), `frame queued from arena offset ${t.off}, neither the RX frame nor a generated slot`);
      checkGenerated(c, eff, t, k);
    }
  }
  check(c, rxDescs === (outcome === 'forwarded' || d[C.echoReplied] === 1 ? 1 : 0), `${rxDescs} RX-slot frames queued for outcome ${outcome}`);
  check(c, d[C.echoReplied] === 0 || outcome === 'consumed', 'echoReplied without consumed');
  check(c, k.arpReply === d[C.arpReplied], `${k.arpReply} ARP replies queued, arpReplied moved by ${d[C.arpReplied]}`);
  check(c, k.na === d[C.ndpReplied], `${k.na} NAs queued, ndpReplied moved by ${d[C.ndpReplied]}`);
  check(c, k.arpRequest + k.ns === d[C.neighbourRequests], `${k.arpRequest + k.ns} solicitations queued, neighbourRequests moved by ${d[C.neighbourRequests]}`);
  check(c, k.icmpError === d[C.icmpErrorsSent], `${k.icmpError} ICMP errors queued, icmpErrorsSent moved by ${d[C.icmpErrorsSent]}`);
  check(c, k.arpReply + k.na === 0 || outcome === 'consumed', `ARP reply / NA queued with outcome ${outcome}`);
  check(c, k.arpRequest + k.ns === 0 || outcome === 'pendingQueued' || (outcome === 'fragmented' && d[C.fragmentsQueued] > 0),
    `solicitation queued with outcome ${outcome}`);
  // Parking.
  check(c, r.parked.length === (outcome === 'pendingQueued' ? 1 : outcome === 'fragmented' ? d[C.fragmentsQueued] : 0), `${r.parked.length} frames parked with outcome ${outcome}`);
  if (outcome === 'fragmented' && r.parked.length > 0) {
    // One solicitation, unless another frame already waited for that neighbour or the fragments took the last generated slots.
    const e = expectedNextHop(c, eff);
    const q = h.dp.pending;
    let other = false;
    for (let j = 0; j < PENDING_SLOTS; j++) {
      if (!r.parked.includes(j) && q.used[j] === 1 && q.port[j] === e.port && q.family[j] === e.family && equalBytes(q.nexthop, j * 16, e.nh, 0, e.nh.length)) other = true;
    }
    const solicitations = k.arpRequest + k.ns;
    check(c, solicitations === (other || r.genBefore + fragSlots.size === GEN_SLOTS ? 0 : 1),
      `${solicitations} solicitations for parked fragments (another frame waiting: ${other})`);
  }
  if (outcome === 'pendingQueued') {
    const q = h.dp.pending;
    const i = r.parked[0];
    const e = expectedNextHop(c, eff);
    check(c, q.port[i] === e.port && q.family[i] === e.family && equalBytes(q.nexthop, i * 16, e.nh, 0, e.nh.length),
      `parked for port ${q.port[i]} family ${q.family[i]} next hop ${hex(q.nexthop.subarray(i * 16, i * 16 + 16))}, route says ${e.port} ${hex(e.nh)}`);
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
        if (j !== i && q.used[j] === 1 && q.port[j] === e.port && q.family[j] === e.family && equalBytes(q.nexthop, j * 16, e.nh, 0, e.nh.length)) other = true;
      }
      check(c, other, 'frame parked without a solicitation and nothing else waits for that neighbour');
    }
    check(c, h.neighbour(e.port, e.family, e.nh) === null, 'frame parked although its neighbour is known');
  }
  check(c, k.encapsulated === d[C.vxlanEncapsulated], `${k.encapsulated} encapsulated frames queued or parked, vxlanEncapsulated moved by ${d[C.vxlanEncapsulated]}`);
  return outcome;
}

function checkEchoReply(c: Ctx, eff: Eff, o: number, len: number): void {
  const b = h.dp.arena.bytes;
  const input = eff.input;
  check(c, equalBytes(b, o, input, 6, 6), 'echo reply not sent to the requester MAC');
  check(c, equalBytes(b, o + 6, identity(eff.port).mac, 0, 6), 'echo reply not sent from the port MAC');
  if (g16(input, 12) === 0x0800) {
    const hl = (b[o + 14] & 15) * 4;
    const total = g16(b, o + 16);
    check(c, len === 14 + total, 'IPv4 echo reply length');
    check(c, b[o + 23] === 1 && b[o + 14 + hl] === 0 && b[o + 15 + hl] === 0, 'IPv4 echo reply is not ICMP type 0 code 0');
    check(c, csum(b, o + 14 + hl, total - hl) === 0, `IPv4 echo reply has a bad ICMP checksum: ${hex(b.subarray(o, o + len))}`);
    check(c, equalBytes(b, o + 26, input, 30, 4) && equalBytes(b, o + 30, input, 26, 4), 'IPv4 echo reply addresses not swapped');
  } else {
    const plen = g16(b, o + 18);
    check(c, len === 54 + plen, 'IPv6 echo reply length');
    // (The IPv4 path drops echo requests with a non-zero code; the IPv6 path echoes the code back.)
    check(c, b[o + 20] === 58 && b[o + 54] === 129, 'IPv6 echo reply is not ICMPv6 type 129');
    check(c, icmp6Ok(b, o + 14, o + 54, plen), `IPv6 echo reply has a bad checksum: ${hex(b.subarray(o, o + len))}`);
    check(c, equalBytes(b, o + 22, input, 38, 16) && equalBytes(b, o + 38, input, 22, 16), 'IPv6 echo reply addresses not swapped');
  }
}

/** servicePending: every released slot ends in exactly one outcome; sent frames go to the learned MAC. */
function checkTick(c: Ctx): void {
  const r = c.step;
  if (r.error !== undefined) fail(c, `servicePending threw: ${(r.error as Error)?.stack ?? String(r.error)}`);
  const d = r.delta;
  for (let i = 0; i < d.length; i++) check(c, Number.isInteger(d[i]) && d[i] >= 0, `counter ${COUNTER_NAMES[i]} moved by ${d[i]}`);
  const ends = d[C.pendingSent] + d[C.dropPendingTimeout] + d[C.dropPortDown] + d[C.dropTxFull];
  check(c, ends === r.released.length, `${r.released.length} parked frames released, outcomes moved by ${ends}`);
  for (const i of OUTCOME_IDX) {
    if (i !== C.dropPendingTimeout && i !== C.dropPortDown && i !== C.dropTxFull) check(c, d[i] === 0, `servicePending moved ${COUNTER_NAMES[i]}`);
  }
  check(c, d[C.vxlanEncapsulated] === 0 && d[C.vxlanDecapsulated] === 0, 'servicePending encapsulated or decapsulated');
  check(c, r.parked.length === 0, 'servicePending parked frames');
  check(c, r.tx.length === d[C.pendingSent] + d[C.neighbourRequests], `${r.tx.length} frames queued, counters account for ${d[C.pendingSent] + d[C.neighbourRequests]}`);
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
      check(c, t.off === q.frameOff(i), 'a parked frame was sent from elsewhere than its slot\'s frame start');
      check(c, r.released.includes(i), 'a pending slot was sent but not released');
      const fam = g16(b, t.off + 12) === 0x0800 ? 4 : 6;
      const m = h.neighbour(t.port, fam, q.nexthop, i * 16);
      check(c, m !== null && equalBytes(b, t.off, m, 0, 6), 'parked frame sent to a MAC the neighbour table does not hold');
    } else {
      check(c, h.isGenerated(t.off), `servicePending queued arena offset ${t.off}`);
      checkGenerated(c, null, t, k);
    }
  }
  check(c, sent === d[C.pendingSent], `${sent} parked frames queued, pendingSent moved by ${d[C.pendingSent]}`);
  const queued = new Set(r.tx.filter((t) => h.isGenerated(t.off)).map((t) => h.slotOf(t.off)));
  for (let g = r.genBefore; g < r.genAfter; g++) check(c, queued.has(h.dp.arena.genBase + g), `generated slot ${g} allocated by servicePending but not queued`);
  check(c, k.arpRequest + k.ns === d[C.neighbourRequests] && k.arpReply + k.na + k.icmpError === 0, 'servicePending generated something else than solicitations');
}

// ---------------------------------------------------------------------------------------
// Running sequences of frames.

interface Step {
  frame: Uint8Array;
  port: number;
  /** Milliseconds the clock moves before servicePending runs after this frame. */
  tick: number;
}

const outcomes = new Map<string, number>();
let ticks = 0;

/** One independent run: reset, then every frame through receiveFrame + servicePending, all checked. */
function runSteps(steps: Step[]): string[] {
  h.reset();
  const history: string[] = [];
  const result: string[] = [];
  for (const s of steps) {
    history.push(`port ${s.port} tick ${s.tick} ${hex(s.frame.subarray(0, h.dp.arena.maxFrameLen()))}`);
    const c: Ctx = { step: h.inject(s.frame, s.port), history };
    const o = checkReceive(c);
    result.push(o);
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    h.resetTx();
    if (s.tick >= 0) {
      ticks++;
      const tc: Ctx = { step: h.tick(s.tick), history };
      checkTick(tc);
      h.repatternReleased(tc.step.released);
      h.resetTx();
    }
  }
  const bad = h.drainAndScan();
  if (bad >= 0) {
    throw new InvariantError(`arena byte ${bad} (slot ${h.slotOf(bad)}) was written outside any frame\n  run:\n    ${history.join('\n    ')}`);
  }
  return result;
}

const portArb = fc.integer({ min: 0, max: NPORTS - 1 });
const tickArb = fc.constantFrom(-1, 0, 0, 5, 1100, 3500);

// ---------------------------------------------------------------------------------------
// Hand-built valid frames.

interface Base {
  name: string;
  port: number;
  frame: Uint8Array;
}

const U = 17;
const T = 6;
const PAY = bytes(64, 3);

function v4(port: number, srcMac: Uint8Array, o: Parameters<typeof ipv4>[0], payload: Uint8Array): Uint8Array {
  return eth(PORT_MACS[port], srcMac, 0x0800, ipv4(o, payload));
}

function v6(port: number, srcMac: Uint8Array, src: Uint8Array, dst: Uint8Array, next: number, hops: number, payload: Uint8Array, dstMac = PORT_MACS[port]): Uint8Array {
  return eth(dstMac, srcMac, 0x86dd, ipv6(src, dst, next, hops, payload));
}

const echo4 = (src: Uint8Array, dst: Uint8Array): Uint8Array => icmp4(8, 0, 0x42420001, bytes(32, 5));
const echo6 = (src: Uint8Array, dst: Uint8Array): Uint8Array => icmp6(src, dst, 128, 0, concat(Uint8Array.of(0x42, 0x42, 0, 1), bytes(32, 9)));
const nsBody = (target: Uint8Array, sll?: Uint8Array): Uint8Array =>
  concat(new Uint8Array(4), target, sll ? concat(Uint8Array.of(1, 1), sll) : new Uint8Array(0));
const naBody = (target: Uint8Array, tll: Uint8Array, flags = 0x60): Uint8Array =>
  concat(Uint8Array.of(flags, 0, 0, 0), target, Uint8Array.of(2, 1), tll);
const ZERO6 = new Uint8Array(16);
const ZERO_MAC = new Uint8Array(6);

/** UDP inside HBH + dest-opts + routing (type 253, segments left 0) + fragment (first) headers. */
function udp6WithExt(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const u = udp(src, dst, 5000, 53, PAY);
  const frag = fragHeader(U, 0, true, 0xabcd);
  const rh = extHeader(44, 24, (x) => {
    x[2] = 253; // experimental routing type
    x[3] = 0; // segments left
  });
  const dopt = extHeader(43, 8);
  const hbh = extHeader(60, 16);
  return concat(hbh, dopt, rh, frag, u);
}

/** UDP behind hop-by-hop + (n - 1) destination-options headers: 8 are allowed, 9 are too many. */
function udp6Chain(src: Uint8Array, dst: Uint8Array, n: number): Uint8Array {
  const hs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) hs.push(extHeader(i === n - 1 ? U : 60, 8));
  return concat(...hs, udp(src, dst, 7, 7, PAY));
}

// VXLAN: frames toward the remote pod CIDRs (encapsulated), and frames from the remote VTEPs
// (decapsulated), valid and malformed.

const VTEP_C_MAC = mac('02:aa:00:00:00:0c');
const LINUX_VX_4 = ip('198.19.2.1');
const LINUX_VX_LL = ip('fe80::ff:fe00:201');

/** From VTEP B (the Linux node, IPv4 underlay) to our uplink address, carrying `inner`. */
function fromB(inner: Uint8Array, o: Parameters<typeof vxlanUdp>[3] = {}, dst = UP_4): Uint8Array {
  return v4(UP, VTEP_B_MAC, { src: VTEP_B4, dst, proto: U }, vxlanUdp(VTEP_B4, dst, inner, o));
}

/** From VTEP C over the IPv6 underlay. */
function fromC(inner: Uint8Array, o: Parameters<typeof vxlanUdp>[3] = {}, dst = UP_6): Uint8Array {
  return v6(UP, VTEP_C_MAC, VTEP_C6, dst, U, 64, vxlanUdp(VTEP_C6, dst, inner, o));
}

/** An inner IPv4 frame from the Linux node's vxlan device to our VXLAN MAC. */
function in4(o: Parameters<typeof ipv4>[0], payload: Uint8Array, dstMac = VTEP_MAC, srcMac = LINUX_VX_MAC): Uint8Array {
  return eth(dstMac, srcMac, 0x0800, ipv4(o, payload));
}

function in6(src: Uint8Array, dst: Uint8Array, next: number, hops: number, payload: Uint8Array, dstMac = VTEP_MAC): Uint8Array {
  return eth(dstMac, LINUX_VX_MAC, 0x86dd, ipv6(src, dst, next, hops, payload));
}

function patched(f: Uint8Array, fn: (f: Uint8Array) => void): Uint8Array {
  const g = f.slice();
  fn(g);
  return g;
}

/**
 * VXLAN frames a Linux vxlan device sent to Weft's uplink (test/fixtures/wire/vxlan-linux.json,
 * captured by capture_linux_vxlan.mjs): they arrive on the uplink as they are.
 */
function linuxBases(): Base[] {
  const path = fileURLToPath(new URL('../../../test/fixtures/wire/vxlan-linux.json', import.meta.url));
  const frames = JSON.parse(readFileSync(path, 'utf8')) as { name: string; hex: string }[];
  return frames.map((f) => ({ name: f.name, port: UP, frame: Uint8Array.from(Buffer.from(f.hex, 'hex')) }));
}

function tunnelBases(): Base[] {
  const b4ep1 = in4({ src: POD_B4, dst: EP1_4, proto: U }, udp(POD_B4, EP1_4, 5000, 53, PAY));
  return [
    // Out through the tunnel.
    { name: 'udp4-ep1-to-pod-b', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U }, udp(EP1_4, POD_B4, 5000, 53, PAY)) },
    { name: 'tcp6-ep1-to-pod-b', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, POD_B6, T, 64, tcp(EP1_6, POD_B6, 40000, 443, 0x02, PAY)) },
    { name: 'udp4-ep1-to-pod-c', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_C4, proto: U }, udp(EP1_4, POD_C4, 5000, 53, PAY)) },
    { name: 'echo6-ep1-to-pod-c', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, POD_C6, 58, 64, echo6(EP1_6, POD_C6)) },
    { name: 'udp4-ep2-to-pod-d', port: EP2, frame: v4(EP2, EP2_MAC, { src: EP2_4, dst: POD_D4, proto: U }, udp(EP2_4, POD_D4, 5000, 53, PAY)) },
    { name: 'udp4-ep1-to-pod-e', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_E4, proto: U }, udp(EP1_4, POD_E4, 5000, 53, PAY)) },
    { name: 'udp4-1450-df-to-pod-b', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U, df: true }, udp(EP1_4, POD_B4, 1, 2, bytes(1422, 1))) },
    { name: 'udp4-1451-df-to-pod-b', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U, df: true }, udp(EP1_4, POD_B4, 1, 2, bytes(1423, 1))) },
    { name: 'udp4-1451-nodf-to-pod-b', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U }, udp(EP1_4, POD_B4, 1, 2, bytes(1423, 1))) },
    { name: 'udp4-1500-opts-nodf-to-pod-c', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_C4, proto: U, options: OPTS_MIXED }, udp(EP1_4, POD_C4, 1, 2, bytes(1456, 2))) },
    { name: 'udp6-1431-to-pod-c', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, POD_C6, U, 64, udp(EP1_6, POD_C6, 1, 2, bytes(1383, 4))) },
    { name: 'udp4-ttl1-to-pod-b', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U, ttl: 1 }, udp(EP1_4, POD_B4, 33434, 33434, PAY)) },
    // In from the tunnel.
    { name: 'vx4-udp4-b-to-ep1', port: UP, frame: fromB(b4ep1) },
    { name: 'vx4-udp6-b-to-ep1', port: UP, frame: fromB(in6(POD_B6, EP1_6, U, 64, udp(POD_B6, EP1_6, 5000, 53, PAY))) },
    { name: 'vx4-echo-b-to-gw', port: UP, frame: fromB(in4({ src: POD_B4, dst: GW4, proto: 1 }, echo4(POD_B4, GW4))) },
    { name: 'vx4-arp-b-gw', port: UP, frame: fromB(eth(BCAST, LINUX_VX_MAC, 0x0806, arp(1, LINUX_VX_MAC, LINUX_VX_4, ZERO_MAC, GW4))) },
    { name: 'vx4-ns-b-gw6', port: UP, frame: fromB(in6(LINUX_VX_LL, solicitedNode(GW6), 58, 255, icmp6(LINUX_VX_LL, solicitedNode(GW6), 135, 0, nsBody(GW6, LINUX_VX_MAC)), multicastMac(solicitedNode(GW6)))) },
    { name: 'vx4-udp4-b-ttl1', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP1_4, proto: U, ttl: 1 }, udp(POD_B4, EP1_4, 33434, 33434, PAY))) },
    { name: 'vx4-udp4-b-to-ep2', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U }, udp(POD_B4, EP2_4, 5000, 53, PAY))) },
    { name: 'vx4-udp4-big-b-to-ep2', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U }, udp(POD_B4, EP2_4, 5000, 53, bytes(1422, 6)))) },
    { name: 'vx4-udp4-big-df-b-to-ep2', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U, df: true }, udp(POD_B4, EP2_4, 5000, 53, bytes(1422, 6)))) },
    { name: 'vx4-udp4-big-b-to-pod-c', port: UP, frame: fromB(in4({ src: POD_B4, dst: POD_C4, proto: U, options: OPTS_MIXED }, udp(POD_B4, POD_C4, 5000, 53, bytes(1406, 6)))) },
    { name: 'vx4-udp4-b-to-pod-d', port: UP, frame: fromB(in4({ src: POD_B4, dst: POD_D4, proto: U }, udp(POD_B4, POD_D4, 5000, 53, PAY))) },
    { name: 'vx4-udp4-b-unreachable', port: UP, frame: fromB(in4({ src: POD_B4, dst: UNREACH_4, proto: U }, udp(POD_B4, UNREACH_4, 5000, 53, PAY))) },
    { name: 'vx4-udp4-b-csum-to-ep1', port: UP, frame: fromB(b4ep1, { csum: true }) },
    { name: 'vx4-udp4-b-to-gw-addr', port: UP, frame: fromB(b4ep1, {}, GW4) },
    { name: 'vx6-udp4-c-to-ep1', port: UP, frame: fromC(in4({ src: POD_C4, dst: EP1_4, proto: U }, udp(POD_C4, EP1_4, 5000, 53, PAY))) },
    { name: 'vx6-echo6-c-to-gw', port: UP, frame: fromC(in6(POD_C6, GW6, 58, 64, echo6(POD_C6, GW6))) },
    // Malformed, each with its drop counter.
    { name: 'vx4-bad-vni', port: UP, frame: fromB(b4ep1, { vni: 3 }) },
    { name: 'vx4-no-i-flag', port: UP, frame: fromB(b4ep1, { flags: 0x80 }) },
    { name: 'vx4-inner-mac', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP1_4, proto: U }, udp(POD_B4, EP1_4, 5000, 53, PAY), PORT_MACS[UP])) },
    { name: 'vx4-inner-group-src', port: UP, frame: fromB(in4({ src: POD_B4, dst: EP1_4, proto: U }, udp(POD_B4, EP1_4, 5000, 53, PAY), VTEP_MAC, mac('01:00:5e:00:00:01'))) },
    { name: 'vx4-inner-lldp', port: UP, frame: fromB(eth(VTEP_MAC, LINUX_VX_MAC, 0x88cc, PAY)) },
    { name: 'vx4-inner-short', port: UP, frame: fromB(bytes(10, 7)) },
    { name: 'vx4-udp-len', port: UP, frame: patched(fromB(b4ep1), (f) => { f[38] = 0xff; }) },
    { name: 'vx4-bad-csum', port: UP, frame: patched(fromB(b4ep1, { csum: true }), (f) => { f[f.length - 1] ^= 0x10; }) },
    { name: 'vx6-zero-csum', port: UP, frame: patched(fromC(in4({ src: POD_C4, dst: EP1_4, proto: U }, udp(POD_C4, EP1_4, 5000, 53, PAY))), (f) => { f[60] = 0; f[61] = 0; }) },
    { name: 'vx4-on-endpoint', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: GW4, proto: U }, vxlanUdp(EP1_4, GW4, b4ep1)) },
    { name: 'vx4-port-4789', port: UP, frame: fromB(b4ep1, { dport: 4789 }) },
    { name: 'vx4-nested', port: UP, frame: fromB(in4({ src: POD_B4, dst: GW4, proto: U }, vxlanUdp(POD_B4, GW4, b4ep1))) },
  ];
}

// IPv4 options for the fragmentation seeds. Copied: router alert (0x94), stream ID (0x88),
// security (0x82); not copied: record route (7), timestamp (0x44).
const OPTS_MIXED = Uint8Array.of(0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 1, 0x88, 4, 0x12, 0x34);
const OPTS_NOT_COPIED = Uint8Array.of(7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** 40 bytes: security (11), router alert (4), record route (23), NOP, EOL. */
const OPTS_MAX = concat(Uint8Array.of(0x82, 11), bytes(9, 5), Uint8Array.of(0x94, 4, 0, 0, 7, 23, 4), new Uint8Array(20), Uint8Array.of(1, 0));
/** EOL, then bytes that would not parse as options (ignored). */
const OPTS_EOL_JUNK = Uint8Array.of(0x94, 4, 0, 0, 0, 0xff, 2, 0x33);
/** Record route whose length byte runs past the header; a type byte without a length. */
const OPTS_BAD = Uint8Array.of(0x94, 4, 0, 0, 7, 9, 4, 0, 0, 0, 0, 0);
const OPTS_BAD_TAIL = Uint8Array.of(1, 1, 1, 0x83);

/** Oversize IPv4 without DF from ep1 to ep2 (MTU 1400): `o` adds options, MF, an offset. */
function bigToEp2(o: Partial<Parameters<typeof ipv4>[0]>, size: number, l4 = true): Uint8Array {
  const payload = l4 ? udp(EP1_4, EP2_4, 7000, 7001, bytes(size - 8, 11)) : bytes(size, 13);
  return v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: U, ...o }, payload);
}

function fragmentBases(): Base[] {
  return [
    { name: 'udp4-big-opts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_MIXED }, 1408) },
    { name: 'udp4-big-notcopied-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_NOT_COPIED }, 1420) },
    { name: 'udp4-big-maxopts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_MAX, id: 0xbeef, ttl: 2 }, 1420) },
    { name: 'udp4-big-eolopts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_EOL_JUNK }, 1430) },
    { name: 'udp4-big-badopts-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_BAD }, 1430) },
    { name: 'udp4-big-badtail-nodf-to-ep2', port: EP1, frame: bigToEp2({ options: OPTS_BAD_TAIL }, 1430) },
    { name: 'udp4-big-mf-nodf-to-ep2', port: EP1, frame: bigToEp2({ mf: true }, 1472) },
    { name: 'udp4-big-later-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 185 }, 1441, false) },
    { name: 'udp4-big-later-mf-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 370, mf: true, options: OPTS_MIXED }, 1440, false) },
    { name: 'udp4-big-overflow-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 0x1fff - 100 }, 1440, false) },
    { name: 'udp4-big-edge-nodf-to-ep2', port: EP1, frame: bigToEp2({ fragOff: 0x1fff - 172 }, 1440, false) },
  ];
}

const BASES: Base[] = [
  { name: 'arp-request-gw', port: EP1, frame: eth(BCAST, EP1_MAC, 0x0806, arp(1, EP1_MAC, EP1_4, ZERO_MAC, GW4)) },
  { name: 'arp-request-uplink', port: UP, frame: eth(BCAST, NH_MAC, 0x0806, arp(1, NH_MAC, NH_4, ZERO_MAC, UP_4)) },
  { name: 'arp-reply-ep2', port: EP2, frame: eth(PORT_MACS[EP2], EP2_MAC, 0x0806, arp(2, EP2_MAC, EP2_4, PORT_MACS[EP2], GW4)) },
  { name: 'echo4-gw', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: GW4, proto: 1 }, echo4(EP1_4, GW4)) },
  { name: 'echo4-uplink-addr', port: UP, frame: v4(UP, NH_MAC, { src: OUT_4, dst: UP_4, proto: 1 }, echo4(OUT_4, UP_4)) },
  { name: 'echo4-ep1-to-ep2', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: 1 }, echo4(EP1_4, EP2_4)) },
  { name: 'echo4-ep2-to-ep1', port: EP2, frame: v4(EP2, EP2_MAC, { src: EP2_4, dst: EP1_4, proto: 1 }, echo4(EP2_4, EP1_4)) },
  { name: 'udp4-ep1-to-ep2', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: U }, udp(EP1_4, EP2_4, 5000, 53, PAY)) },
  { name: 'udp4-ep2-to-ep1', port: EP2, frame: v4(EP2, EP2_MAC, { src: EP2_4, dst: EP1_4, proto: U }, udp(EP2_4, EP1_4, 5000, 53, PAY)) },
  { name: 'tcp4-ep1-to-out', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: T, df: true }, tcp(EP1_4, OUT_4, 40000, 443, 0x02, new Uint8Array(0))) },
  { name: 'tcp4-out-to-ep1', port: UP, frame: v4(UP, NH_MAC, { src: OUT_4, dst: EP1_4, proto: T, df: true }, tcp(OUT_4, EP1_4, 443, 40000, 0x12, PAY)) },
  { name: 'udp4-options', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: U, options: Uint8Array.of(0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0) }, udp(EP1_4, OUT_4, 1, 2, PAY)) },
  { name: 'udp4-frag-first', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: U, mf: true }, udp(EP1_4, OUT_4, 1, 2, PAY)) },
  { name: 'udp4-frag-later', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: U, fragOff: 185 }, PAY) },
  { name: 'echo4-frag-to-gw', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: GW4, proto: 1, mf: true }, echo4(EP1_4, GW4)) },
  { name: 'udp4-ttl1', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: U, ttl: 1 }, udp(EP1_4, OUT_4, 33434, 33434, PAY)) },
  { name: 'udp4-big-df-to-ep2', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: U, df: true }, udp(EP1_4, EP2_4, 1, 2, bytes(1422, 1))) },
  { name: 'udp4-big-nodf-to-ep2', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: U }, udp(EP1_4, EP2_4, 1, 2, bytes(1422, 1))) },
  { name: 'udp4-blackhole', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: BLACKHOLE_4, proto: U }, udp(EP1_4, BLACKHOLE_4, 1, 2, PAY)) },
  { name: 'udp4-unreachable', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: UNREACH_4, proto: U }, udp(EP1_4, UNREACH_4, 1, 2, PAY)) },
  { name: 'icmp4-error-ttl1', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: OUT_4, proto: 1, ttl: 1 }, icmp4(3, 3, 0, bytes(28, 2))) },
  { name: 'echo6-gw', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, GW6, 58, 64, echo6(EP1_6, GW6)) },
  { name: 'echo6-ll', port: EP1, frame: v6(EP1, EP1_MAC, ip('fe80::aa:ff:fe00:10'), PORT_LL[EP1], 58, 64, echo6(ip('fe80::aa:ff:fe00:10'), PORT_LL[EP1])) },
  { name: 'echo6-ep1-to-ep2', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, EP2_6, 58, 64, echo6(EP1_6, EP2_6)) },
  { name: 'ns-gw', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, solicitedNode(GW6), 58, 255, icmp6(EP1_6, solicitedNode(GW6), 135, 0, nsBody(GW6, EP1_MAC)), multicastMac(solicitedNode(GW6))) },
  { name: 'ns-gw-unicast', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, GW6, 58, 255, icmp6(EP1_6, GW6, 135, 0, nsBody(GW6, EP1_MAC))) },
  { name: 'ns-dad-gw', port: EP2, frame: v6(EP2, EP2_MAC, ZERO6, solicitedNode(GW6), 58, 255, icmp6(ZERO6, solicitedNode(GW6), 135, 0, nsBody(GW6)), multicastMac(solicitedNode(GW6))) },
  { name: 'ns-uplink-ll', port: UP, frame: v6(UP, NH_MAC, NH_6, solicitedNode(PORT_LL[UP]), 58, 255, icmp6(NH_6, solicitedNode(PORT_LL[UP]), 135, 0, nsBody(PORT_LL[UP], NH_MAC)), multicastMac(solicitedNode(PORT_LL[UP]))) },
  { name: 'na-ep2', port: EP2, frame: v6(EP2, EP2_MAC, EP2_6, GW6, 58, 255, icmp6(EP2_6, GW6, 136, 0, naBody(EP2_6, EP2_MAC))) },
  { name: 'na-uplink-gw', port: UP, frame: v6(UP, NH_MAC, NH_6, UP_6, 58, 255, icmp6(NH_6, UP_6, 136, 0, naBody(NH_6, NH_MAC, 0xe0))) },
  { name: 'udp6-ext-to-out', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, OUT_6, 0, 64, udp6WithExt(EP1_6, OUT_6)) },
  { name: 'udp6-ext-to-ep1', port: EP2, frame: v6(EP2, EP2_MAC, EP2_6, EP1_6, 0, 64, udp6WithExt(EP2_6, EP1_6)) },
  { name: 'udp6-ep2-to-ep1', port: EP2, frame: v6(EP2, EP2_MAC, EP2_6, EP1_6, U, 64, udp(EP2_6, EP1_6, 5000, 53, PAY)) },
  { name: 'tcp6-out-to-ep1', port: UP, frame: v6(UP, NH_MAC, OUT_6, EP1_6, T, 64, tcp(OUT_6, EP1_6, 443, 40000, 0x12, PAY)) },
  { name: 'udp6-8-ext-to-ep1', port: EP2, frame: v6(EP2, EP2_MAC, EP2_6, EP1_6, 0, 64, udp6Chain(EP2_6, EP1_6, 8)) },
  { name: 'udp6-9-ext-to-ep1', port: EP2, frame: v6(EP2, EP2_MAC, EP2_6, EP1_6, 0, 64, udp6Chain(EP2_6, EP1_6, 9)) },
  { name: 'udp6-frag-later', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, OUT_6, 44, 64, concat(fragHeader(U, 100, false, 7), PAY)) },
  { name: 'udp6-hop1', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, OUT_6, U, 1, udp(EP1_6, OUT_6, 33434, 33434, PAY)) },
  { name: 'udp6-big-to-ep2', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, EP2_6, U, 64, udp(EP1_6, EP2_6, 1, 2, bytes(1402, 4))) },
  { name: 'udp6-blackhole', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, BLACKHOLE_6, U, 64, udp(EP1_6, BLACKHOLE_6, 1, 2, PAY)) },
  { name: 'udp6-unreachable', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, UNREACH_6, U, 64, udp(EP1_6, UNREACH_6, 1, 2, PAY)) },
  ...fragmentBases(),
  ...tunnelBases(),
  ...linuxBases(),
];


// ---------------------------------------------------------------------------------------
// Mutations.

const ADDR4 = [GW4, EP1_4, EP2_4, UP_4, NH_4, OUT_4, BLACKHOLE_4, UNREACH_4, ip('0.0.0.0'), ip('127.0.0.1'), ip('224.0.0.1'),
  ip('255.255.255.255'), ip('198.18.0.255'), ip('198.18.0.77'), ip('198.19.1.99'), POD_B4, POD_C4, POD_D4, POD_E4, VTEP_B4, VTEP_D4, VTEP_E4];
const ADDR6 = [GW6, EP1_6, EP2_6, UP_6, NH_6, OUT_6, BLACKHOLE_6, UNREACH_6, ZERO6, ip('::1'), ip('ff02::1'), solicitedNode(GW6),
  solicitedNode(EP2_6), ...PORT_LL, ip('fe80::1'), ip('2001:db8:18::77'), ip('::ffff:198.19.1.1'), POD_B6, POD_C6, VTEP_C6, VTEP_LL];
const MACS = [...PORT_MACS, BCAST, mac('33:33:00:00:00:01'), mac('33:33:ff:00:00:01'), mac('01:00:5e:00:00:01'), EP1_MAC, mac('00:00:00:00:00:00'), VTEP_MAC];
/** Inner Ethernet addresses for VXLAN mutations. */
const INNER_MACS = [VTEP_MAC, LINUX_VX_MAC, BCAST, mac('33:33:ff:00:00:01'), PORT_MACS[UP], mac('01:00:5e:00:00:01'), ZERO_MAC];

type Field =
  | 'ethDst' | 'ethType'
  | 'v4ver' | 'v4ihl' | 'v4tot' | 'v4frag' | 'v4ttl' | 'v4proto' | 'v4src' | 'v4dst' | 'v4opt'
  | 'v6ver' | 'v6plen' | 'v6next' | 'v6hops' | 'v6src' | 'v6dst' | 'extNext' | 'extLen' | 'extFrag'
  | 'l4type' | 'l4code' | 'ndTarget' | 'ndOptType' | 'ndOptLen'
  | 'arpHw' | 'arpProto' | 'arpLens' | 'arpOp' | 'arpSpa' | 'arpTpa' | 'arpSha'
  | 'udpDport' | 'udpLen' | 'vxFlags' | 'vxVni' | 'innerDst' | 'innerSrc' | 'innerType' | 'innerTtl' | 'innerDstIp';

const FIELDS: Field[] = ['ethDst', 'ethType', 'v4ver', 'v4ihl', 'v4tot', 'v4frag', 'v4ttl', 'v4proto', 'v4src', 'v4dst', 'v4opt',
  'v6ver', 'v6plen', 'v6next', 'v6hops', 'v6src', 'v6dst', 'extNext', 'extLen', 'extFrag', 'l4type', 'l4code', 'ndTarget',
  'ndOptType', 'ndOptLen', 'arpHw', 'arpProto', 'arpLens', 'arpOp', 'arpSpa', 'arpTpa', 'arpSha',
  'udpDport', 'udpLen', 'vxFlags', 'vxVni', 'innerDst', 'innerSrc', 'innerType', 'innerTtl', 'innerDstIp'];

/** A value for a field: one of the interesting ones (pick), a delta to the current value (rel), or anything (raw). */
type Val = { m: 'pick'; i: number } | { m: 'rel'; d: number } | { m: 'raw'; v: number } | { m: 'avail'; d: number };

type Mut =
  | { k: 'flip'; pos: number; mask: number }
  | { k: 'set'; pos: number; v: number }
  | { k: 'truncate'; at: number }
  | { k: 'extend'; junk: Uint8Array }
  | { k: 'field'; f: Field; v: Val };

const valArb: fc.Arbitrary<Val> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ m: fc.constant('pick' as const), i: fc.nat(64) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('rel' as const), d: fc.integer({ min: -9, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('avail' as const), d: fc.integer({ min: -2, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('raw' as const), v: fc.nat(0xffffffff) }) },
);

const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('flip' as const), pos: fc.nat(1600), mask: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('set' as const), pos: fc.nat(1600), v: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: fc.nat(1600) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('extend' as const), junk: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('field' as const), f: fc.constantFrom(...FIELDS), v: valArb }) },
);

interface Mutated {
  base: number;
  muts: Mut[];
  fixLen: boolean;
  fixL4: boolean;
  fixIp: boolean;
  altZero: boolean;
  port: number | null;
  tick: number;
}

const mutatedArb: fc.Arbitrary<Mutated> = fc.record({
  base: fc.nat(BASES.length - 1),
  muts: fc.array(mutArb, { minLength: 0, maxLength: 4 }),
  fixLen: fc.boolean(),
  fixL4: fc.boolean(),
  fixIp: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  altZero: fc.boolean(),
  port: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: portArb }),
  tick: tickArb,
});

/** Walks the IPv6 extension headers of the frame (ignoring bounds problems); offsets of each header. */
function extHeaders(f: Uint8Array): { offs: number[]; l4: number; proto: number } {
  const offs: number[] = [];
  let next = f[20];
  let p = 54;
  for (let n = 0; n < 10 && p + 8 <= f.length; n++) {
    if (next !== 0 && next !== 43 && next !== 44 && next !== 60 && next !== 51 && next !== 135) break;
    offs.push(p);
    const len = next === 44 ? 8 : next === 51 ? (f[p + 1] + 2) * 4 : (f[p + 1] + 1) * 8;
    next = f[p];
    p += len;
  }
  return { offs, l4: p, proto: next };
}

function pickVal(v: Val, cur: number, choices: number[], bits: number, avail: number): number {
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  switch (v.m) {
    case 'pick': return choices[v.i % choices.length] & mask;
    case 'rel': return (cur + v.d) & mask;
    case 'avail': return (avail + v.d) & mask;
    case 'raw': return v.v & mask;
  }
}

function put16(f: Uint8Array, o: number, v: number): void {
  if (o + 1 < f.length) {
    f[o] = (v >>> 8) & 255;
    f[o + 1] = v & 255;
  }
}

function putAddr(f: Uint8Array, o: number, v: Val, list: Uint8Array[], n: number): void {
  if (o + n > f.length) return;
  if (v.m === 'pick') f.set(list[v.i % list.length], o);
  else if (v.m === 'raw') for (let i = 0; i < n; i++) f[o + i] = (v.v >>> ((i & 3) * 8)) & 255;
  else f[o + n - 1] = (f[o + n - 1] + v.d) & 255;
}

function applyField(f: Uint8Array, fld: Field, v: Val): void {
  const is4 = f.length >= 14 && g16(f, 12) === 0x0800;
  const is6 = f.length >= 14 && g16(f, 12) === 0x86dd;
  const isArp = f.length >= 14 && g16(f, 12) === 0x0806;
  const ihl = f.length > 14 ? (f[14] & 15) * 4 : 20;
  const l4v4 = 14 + ihl;
  switch (fld) {
    case 'ethDst': if (f.length >= 6) f.set(MACS[(v.m === 'pick' ? v.i : v.m === 'raw' ? v.v : 0) % MACS.length], 0); break;
    case 'ethType': if (f.length >= 14) put16(f, 12, pickVal(v, g16(f, 12), [0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, 0x0000, 0xffff], 16, 0)); break;
    case 'v4ver': if (is4 && f.length > 14) f[14] = (pickVal(v, f[14] >>> 4, [4, 6, 0, 15, 5], 4, 0) << 4) | (f[14] & 15); break;
    case 'v4ihl': if (is4 && f.length > 14) f[14] = (f[14] & 0xf0) | pickVal(v, f[14] & 15, [5, 4, 0, 6, 15, 1, 8], 4, Math.floor((f.length - 14) / 4)); break;
    case 'v4tot': if (is4) put16(f, 16, pickVal(v, g16(f, 16), [0, 19, 20, ihl - 1, ihl, ihl + 1, ihl + 7, ihl + 8, 0xffff, f.length - 14, f.length - 13, 1400, 1401, 1500, 1501], 16, f.length - 14)); break;
    case 'v4frag': if (is4) put16(f, 20, pickVal(v, g16(f, 20), [0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x6000, 0x8000, 0x3fff, 0x2001], 16, 0)); break;
    case 'v4ttl': if (is4 && f.length > 22) f[22] = pickVal(v, f[22], [0, 1, 2, 255, 64], 8, 0); break;
    case 'v4proto': if (is4 && f.length > 23) f[23] = pickVal(v, f[23], [1, 6, 17, 58, 4, 41, 0, 255], 8, 0); break;
    case 'v4src': if (is4) putAddr(f, 26, v, ADDR4, 4); break;
    case 'v4dst': if (is4) putAddr(f, 30, v, ADDR4, 4); break;
    case 'v4opt': if (is4 && ihl > 20 && f.length > 34) f[34 + ((v.m === 'raw' ? v.v : v.m === 'pick' ? v.i : 0) % (ihl - 20))] = pickVal(v, f[34], [0, 1, 0x94, 7, 68, 0xff, 2, 40, 0x88, 0x83, 3], 8, 0); break;
    case 'v6ver': if (is6 && f.length > 14) f[14] = (pickVal(v, f[14] >>> 4, [6, 4, 0, 15, 7], 4, 0) << 4) | (f[14] & 15); break;
    case 'v6plen': if (is6) put16(f, 18, pickVal(v, g16(f, 18), [0, 1, 7, 8, 0xffff, f.length - 54, f.length - 53, 1360, 1361, 1460, 1461], 16, f.length - 54)); break;
    case 'v6next': if (is6 && f.length > 20) f[20] = pickVal(v, f[20], [0, 43, 44, 50, 51, 59, 60, 135, 58, 17, 6, 255], 8, 0); break;
    case 'v6hops': if (is6 && f.length > 21) f[21] = pickVal(v, f[21], [0, 1, 2, 255, 254, 64], 8, 0); break;
    case 'v6src': if (is6) putAddr(f, 22, v, ADDR6, 16); break;
    case 'v6dst': if (is6) putAddr(f, 38, v, ADDR6, 16); break;
    case 'extNext':
    case 'extLen':
    case 'extFrag': {
      if (!is6) break;
      const e = extHeaders(f);
      if (e.offs.length === 0) break;
      const sel = (v.m === 'pick' ? v.i : v.m === 'raw' ? v.v >>> 8 : Math.abs(v.d)) % e.offs.length;
      const p = e.offs[sel];
      if (fld === 'extNext') f[p] = pickVal(v, f[p], [0, 43, 44, 50, 51, 59, 60, 135, 58, 17, 6], 8, 0);
      else if (fld === 'extLen') { if (p + 1 < f.length) f[p + 1] = pickVal(v, f[p + 1], [0, 1, 2, 3, 255, 254, 100], 8, 0); }
      else put16(f, p + 2, pickVal(v, g16(f, p + 2), [0, 1, 8, 9, 0xfff8, 0xfff9, 0x0320], 16, 0));
      break;
    }
    case 'l4type':
    case 'l4code': {
      let m = -1;
      if (is4) m = l4v4;
      else if (is6) m = extHeaders(f).l4;
      if (m < 0 || m + 1 >= f.length) break;
      if (fld === 'l4type') f[m] = pickVal(v, f[m], [0, 3, 4, 5, 8, 11, 12, 1, 2, 128, 129, 133, 134, 135, 136, 137, 255], 8, 0);
      else f[m + 1] = pickVal(v, f[m + 1], [0, 1, 4, 255], 8, 0);
      break;
    }
    case 'ndTarget': if (is6) putAddr(f, extHeaders(f).l4 + 8, v, ADDR6, 16); break;
    case 'ndOptType':
    case 'ndOptLen': {
      if (!is6) break;
      const o = extHeaders(f).l4 + 24 + (fld === 'ndOptLen' ? 1 : 0);
      if (o < f.length) f[o] = pickVal(v, f[o], fld === 'ndOptLen' ? [0, 1, 2, 255, 3] : [1, 2, 0, 3, 5, 255], 8, 0);
      break;
    }
    case 'arpHw': if (isArp) put16(f, 14, pickVal(v, g16(f, 14), [1, 0, 6, 0xffff], 16, 0)); break;
    case 'arpProto': if (isArp) put16(f, 16, pickVal(v, g16(f, 16), [0x0800, 0x86dd, 0], 16, 0)); break;
    case 'arpLens': if (isArp) put16(f, 18, pickVal(v, g16(f, 18), [0x0604, 0x0606, 0x0610, 0x0004, 0x0600], 16, 0)); break;
    case 'arpOp': if (isArp) put16(f, 20, pickVal(v, g16(f, 20), [1, 2, 0, 3, 4, 0xffff], 16, 0)); break;
    case 'arpSpa': if (isArp) putAddr(f, 28, v, ADDR4, 4); break;
    case 'arpTpa': if (isArp) putAddr(f, 38, v, ADDR4, 4); break;
    case 'arpSha': if (isArp && f.length >= 28) f.set(MACS[(v.m === 'pick' ? v.i : 0) % MACS.length], 22); break;
    case 'udpDport':
    case 'udpLen':
    case 'vxFlags':
    case 'vxVni':
    case 'innerDst':
    case 'innerSrc':
    case 'innerType':
    case 'innerTtl':
    case 'innerDstIp': applyVxField(f, fld, v); break;
  }
}

/** Mutations of a UDP datagram's VXLAN header and inner frame (frames parseVx reads). */
function applyVxField(f: Uint8Array, fld: Field, v: Val): void {
  const vx = parseVx(f, 0, f.length);
  if (!vx) return;
  const x = vx.udp + 8;
  const i = vx.inner;
  const macIdx = (v.m === 'pick' ? v.i : v.m === 'raw' ? v.v : Math.abs(v.d)) % INNER_MACS.length;
  switch (fld) {
    case 'udpDport': put16(f, vx.udp + 2, pickVal(v, vx.dport, [VX_PORT, 4789, 0, VX_PORT + 1, 53], 16, 0)); break;
    case 'udpLen': put16(f, vx.udp + 4, pickVal(v, vx.ulen, [0, 7, 8, 15, 16, 29, 30, vx.avail - 1, vx.avail, vx.avail + 1, 0xffff], 16, vx.avail)); break;
    case 'vxFlags': if (x < f.length) f[x] = pickVal(v, f[x], [0x08, 0x00, 0x88, 0xff, 0xf7, 0x0c], 8, 0); break;
    case 'vxVni':
      if (x + 7 <= f.length) {
        const n = pickVal(v, (f[x + 4] << 16) | (f[x + 5] << 8) | f[x + 6], [VX_VNI, 0, 3, 0xffffff, 0x020000, 0x000200], 24, 0);
        f[x + 4] = n >>> 16;
        f[x + 5] = (n >>> 8) & 255;
        f[x + 6] = n & 255;
      }
      break;
    case 'innerDst': if (i + 6 <= f.length) f.set(INNER_MACS[macIdx], i); break;
    case 'innerSrc': if (i + 12 <= f.length) f.set(INNER_MACS[macIdx], i + 6); break;
    case 'innerType': if (i + 14 <= f.length) put16(f, i + 12, pickVal(v, g16(f, i + 12), [0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, 0x0000], 16, 0)); break;
    case 'innerTtl': {
      const t = i + 14 <= f.length ? g16(f, i + 12) : 0;
      const o = t === 0x0800 ? i + 22 : t === 0x86dd ? i + 21 : -1;
      if (o >= 0 && o < f.length) f[o] = pickVal(v, f[o], [0, 1, 2, 64, 255], 8, 0);
      break;
    }
    case 'innerDstIp': {
      const t = i + 14 <= f.length ? g16(f, i + 12) : 0;
      if (t === 0x0800) putAddr(f, i + 30, v, ADDR4, 4);
      else if (t === 0x86dd) putAddr(f, i + 38, v, ADDR6, 16);
      break;
    }
    default: break;
  }
}

/** Makes a VXLAN datagram's lengths and checksums right again (inner IPv4 header, UDP). */
function fixVx(f: Uint8Array, fixLen: boolean, fixL4: boolean, fixIp: boolean): void {
  const vx = parseVx(f, 0, f.length);
  if (!vx) return;
  if (fixLen) {
    put16(f, vx.udp + 4, vx.avail);
    vx.ulen = vx.avail;
    vx.innerLen = vx.ulen - 16;
  }
  if (vx.ulen < 8 || vx.ulen > vx.avail) return;
  const i = vx.inner;
  if (vx.innerLen >= 34 && g16(f, i + 12) === 0x0800) {
    const ihl = (f[i + 14] & 15) * 4;
    if (fixLen) put16(f, i + 16, vx.innerLen - 14);
    if (fixIp && ihl >= 20 && 14 + ihl <= vx.innerLen) {
      put16(f, i + 24, 0);
      put16(f, i + 24, csum(f, i + 14, ihl));
    }
  } else if (vx.innerLen >= 54 && g16(f, i + 12) === 0x86dd && fixLen) {
    put16(f, i + 18, vx.innerLen - 54);
  }
  if (fixL4 && (vx.family === 6 || g16(f, vx.udp + 6) !== 0)) {
    put16(f, vx.udp + 6, 0);
    let ps = 17 + vx.ulen;
    for (const a of [vx.src, vx.dst]) for (let k = 0; k < a.length; k += 2) ps += (a[k] << 8) | a[k + 1];
    const c0 = csum(f, vx.udp, vx.ulen, ps);
    put16(f, vx.udp + 6, c0 === 0 ? 0xffff : c0);
  }
}

function buildMutated(m: Mutated, bases: Base[] = BASES): Step {
  const base = bases[m.base % bases.length];
  let f: Uint8Array = base.frame.slice();
  for (const op of m.muts) {
    switch (op.k) {
      case 'flip': if (f.length) f[op.pos % f.length] ^= op.mask; break;
      case 'set': if (f.length) f[op.pos % f.length] = op.v; break;
      case 'truncate': f = f.slice(0, op.at % (f.length + 1)); break;
      case 'extend': f = concat(f, op.junk); break;
      case 'field': applyField(f, op.f, op.v); break;
    }
  }
  fixUp(f, m.fixLen, m.fixL4, m.fixIp, m.altZero);
  return { frame: f, port: m.port ?? base.port, tick: m.tick };
}

/** Optionally make lengths and checksums right again so the mutated frame reaches deeper code. */
function fixUp(f: Uint8Array, fixLen: boolean, fixL4: boolean, fixIp: boolean, altZero: boolean): void {
  if (f.length < 14) return;
  const type = g16(f, 12);
  if (type === 0x0800 && f.length >= 34) {
    const ihl = (f[14] & 15) * 4;
    if (fixLen) put16(f, 16, f.length - 14);
    fixVx(f, fixLen, fixL4, fixIp);
    const total = Math.min(g16(f, 16), f.length - 14);
    if (fixL4 && f[23] === 1 && ihl >= 20 && 14 + ihl + 4 <= 14 + total) {
      put16(f, 14 + ihl + 2, 0);
      put16(f, 14 + ihl + 2, csum(f, 14 + ihl, total - ihl));
    }
    if (fixIp && ihl >= 20 && 14 + ihl <= f.length) {
      put16(f, 24, 0);
      let c = csum(f, 14, ihl);
      if (altZero && c === 0) c = 0xffff; // the other one's-complement zero also verifies
      put16(f, 24, c);
    }
  } else if (type === 0x86dd && f.length >= 54) {
    if (fixLen) put16(f, 18, f.length - 54);
    fixVx(f, fixLen, fixL4, fixIp);
    const end = Math.min(54 + g16(f, 18), f.length);
    const e = extHeaders(f);
    if (fixL4 && e.proto === 58 && e.l4 + 4 <= end) {
      put16(f, e.l4 + 2, 0);
      const c = csum(f, e.l4, end - e.l4, pseudo6SumOf(f, end - e.l4));
      put16(f, e.l4 + 2, altZero && c === 0 ? 0xffff : c);
    }
  }
}

function pseudo6SumOf(f: Uint8Array, len: number): number {
  return pseudo6Sum(f, 14, len);
}

// ---------------------------------------------------------------------------------------
// The properties.

/** Deterministic pseudo-random bytes (xorshift32): long random frames without 1600 shrinkable elements each. */
function prng(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed | 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

/** Random bytes, 0..max long: short ones element by element (shrinkable), long ones from a seed. */
function randomBytes(max: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 80 }) },
    { weight: 4, arbitrary: fc.record({ len: fc.integer({ min: 0, max }), seed: fc.integer() }).map(({ len, seed }) => prng(len, seed)) },
  );
}

test('a. random byte strings on random ports', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const stepArb = fc.record({ frame: randomBytes(1600), port: portArb, tick: tickArb });
  assertProperty(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 3 }), (steps) => { runSteps(steps); }), 10000);
  t.diagnostic(`${h.frames - f0} frames`);
});

test('a. random payloads behind a plausible Ethernet header', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  const stepArb = fc.record({
    dst: fc.oneof(fc.constantFrom(...MACS), fc.uint8Array({ minLength: 6, maxLength: 6 })),
    src: fc.oneof(fc.constantFrom(EP1_MAC, EP2_MAC, NH_MAC), fc.uint8Array({ minLength: 6, maxLength: 6 })),
    type: fc.oneof(fc.constantFrom(0x0800, 0x86dd, 0x0806, 0x8100), fc.integer({ min: 0, max: 0xffff })),
    first: fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00, 0x01),
    payload: randomBytes(1586),
    port: portArb,
    tick: tickArb,
  }).map((s): Step => {
    const p = s.payload.slice();
    if (p.length && (s.type === 0x0800 || s.type === 0x86dd)) p[0] = s.first;
    return { frame: eth(s.dst, s.src, s.type, p), port: s.port, tick: s.tick };
  });
  assertProperty(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 3 }), (steps) => { runSteps(steps); }), 8000);
  t.diagnostic(`${h.frames - f0} frames`);
});

test('b. mutated valid frames', { timeout: 120000 }, (t) => {
  const f0 = h.frames;
  assertProperty(fc.property(fc.array(mutatedArb, { minLength: 1, maxLength: 4 }), (ms) => { runSteps(ms.map((m) => buildMutated(m))); }), 34000);
  t.diagnostic(`${h.frames - f0} frames`);
});

// ---------------------------------------------------------------------------------------
// c. The valid frames, unmutated: specific outcomes.

function one(name: string, port?: number): { r: StepResult; outcome: string; gen: TxDesc[]; b: Uint8Array } {
  const base = BASES.find((x) => x.name === name);
  assert.ok(base, name);
  h.reset();
  const step = h.inject(base.frame, port ?? base.port);
  const outcome = checkReceive({ step, history: [] });
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  return { r: step, outcome, gen: step.tx.filter((d) => h.isGenerated(d.off)), b: h.dp.arena.bytes };
}

function finishOne(): void {
  h.resetTx();
  assert.equal(h.drainAndScan(), -1, 'arena written outside frames');
}

test('c. ARP request for the gateway: consumed, ARP reply on the same port', () => {
  for (const [name, port, addr] of [['arp-request-gw', EP1, GW4], ['arp-request-uplink', UP, UP_4]] as const) {
    const { r, outcome, gen, b } = one(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.arpReplied], 1);
    assert.equal(gen.length, 1);
    const o = gen[0].off;
    assert.equal(gen[0].port, port);
    assert.equal(g16(b, o + 20), 2);
    assert.ok(equalBytes(b, o + 22, PORT_MACS[port], 0, 6) && equalBytes(b, o + 28, addr, 0, 4));
    finishOne();
  }
});

test('c. ARP reply for the gateway: consumed, neighbour learned', () => {
  const { outcome, r } = one('arp-reply-ep2');
  assert.equal(outcome, 'consumed');
  assert.equal(r.delta[C.neighbourLearned], 1);
  assert.deepEqual(h.neighbour(EP2, 4, EP2_4), EP2_MAC);
  assert.equal(r.tx.length, 0);
  finishOne();
});

test('c. IPv4 echo to the router: consumed, reply with a valid checksum', () => {
  for (const [name, port, addr] of [['echo4-gw', EP1, GW4], ['echo4-uplink-addr', UP, UP_4]] as const) {
    const { r, outcome, b } = one(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.echoReplied], 1);
    assert.equal(r.tx.length, 1);
    const t = r.tx[0];
    assert.equal(t.off, r.rxOff);
    assert.equal(t.port, port);
    assert.equal(t.len, r.input.length);
    assert.equal(b[t.off + 34], 0, 'echo reply type');
    assert.equal(csum(b, t.off + 34, t.len - 34), 0, 'ICMP checksum');
    assert.equal(csum(b, t.off + 14, 20), 0, 'IPv4 header checksum');
    assert.ok(equalBytes(b, t.off + 26, addr, 0, 4), 'reply source');
    assert.ok(equalBytes(b, t.off, r.input, 6, 6), 'reply destination MAC');
    finishOne();
  }
});

test('c. IPv4 to a learned neighbour: forwarded with its MAC and TTL - 1', () => {
  for (const [name, port, m] of [['echo4-ep2-to-ep1', EP1, EP1_MAC], ['udp4-ep2-to-ep1', EP1, EP1_MAC], ['tcp4-ep1-to-out', UP, NH_MAC],
    ['tcp4-out-to-ep1', EP1, EP1_MAC], ['udp4-options', UP, NH_MAC], ['udp4-frag-first', UP, NH_MAC], ['udp4-frag-later', UP, NH_MAC]] as const) {
    const { r, outcome, b } = one(name);
    assert.equal(outcome, 'forwarded', name);
    assert.equal(r.tx.length, 1, name);
    const t = r.tx[0];
    assert.equal(t.port, port, name);
    assert.ok(equalBytes(b, t.off, m, 0, 6), `${name}: dst MAC`);
    assert.equal(b[t.off + 22], r.input[22] - 1, `${name}: TTL`);
    assert.equal(ipv4Check(b, t.off + 14, t.len - 14), IPV4_OK, name);
    finishOne();
  }
});

test('c. IPv4 to an unknown neighbour: parked, one ARP request', () => {
  for (const name of ['echo4-ep1-to-ep2', 'udp4-ep1-to-ep2']) {
    const { r, outcome, gen, b } = one(name);
    assert.equal(outcome, 'pendingQueued', name);
    assert.equal(r.delta[C.neighbourRequests], 1);
    assert.equal(gen.length, 1);
    assert.equal(gen[0].port, EP2);
    assert.equal(g16(b, gen[0].off + 12), 0x0806);
    assert.ok(equalBytes(b, gen[0].off + 38, EP2_4, 0, 4), 'ARP target');
    assert.equal(h.dp.pending.count, 1);
    finishOne();
  }
});

test('c. parked frame is sent once the ARP reply arrives, and dropped when nobody answers', () => {
  h.reset();
  const hist: string[] = [];
  const base = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!;
  let step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'pendingQueued');
  h.resetTx();
  // A second frame for the same neighbour waits without a new solicitation.
  step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'pendingQueued');
  assert.equal(step.delta[C.neighbourRequests], 0);
  h.resetTx();
  step = h.inject(BASES.find((x) => x.name === 'arp-reply-ep2')!.frame, EP2);
  assert.equal(checkReceive({ step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ step, history: hist });
  assert.equal(step.delta[C.pendingSent], 2);
  for (const t of step.tx) assert.ok(equalBytes(h.dp.arena.bytes, t.off, EP2_MAC, 0, 6));
  h.repatternReleased(step.released);
  finishOne();
  // Nobody answers: dropped after PENDING_TIMEOUT_MS.
  h.reset();
  step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'pendingQueued');
  h.resetTx();
  step = h.tick(1500);
  checkTick({ step, history: hist });
  assert.equal(step.released.length, 0);
  h.resetTx();
  step = h.tick(1600);
  checkTick({ step, history: hist });
  assert.equal(step.delta[C.dropPendingTimeout], 1);
  h.repatternReleased(step.released);
  finishOne();
});

test('c. IPv4 TTL 1: dropTtlExceeded and an ICMP time exceeded', () => {
  const { r, outcome, gen, b } = one('udp4-ttl1');
  assert.equal(outcome, 'dropTtlExceeded');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  assert.equal(gen.length, 1);
  const o = gen[0].off;
  assert.equal(gen[0].port, EP1);
  assert.equal(b[o + 34], 11);
  assert.equal(b[o + 35], 0);
  assert.ok(equalBytes(b, o + 26, GW4, 0, 4) && equalBytes(b, o + 30, EP1_4, 0, 4));
  assert.equal(csum(b, o + 34, gen[0].len - 34), 0);
  finishOne();
  // ... but never about an ICMP error.
  const e = one('icmp4-error-ttl1');
  assert.equal(e.outcome, 'dropTtlExceeded');
  assert.equal(e.r.tx.length, 0);
  finishOne();
});

test('c. oversize IPv4 to the 1400-MTU port: DF → dropTooBig + frag needed 1400; no DF → fragmented', () => {
  const { r, outcome, gen, b } = one('udp4-big-df-to-ep2');
  assert.equal(outcome, 'dropTooBig');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  const o = gen[0].off;
  assert.equal(b[o + 34], 3);
  assert.equal(b[o + 35], 4);
  assert.equal(g16(b, o + 40), 1400);
  assert.equal(csum(b, o + 34, gen[0].len - 34), 0);
  assert.equal(gen[0].len, 14 + 576, 'error quotes up to 576 bytes');
  finishOne();
  // 1450 bytes without DF: 20 + 1376 and 20 + 54, parked for ep2 (unknown) behind one ARP request.
  const hist: string[] = [];
  const n = one('udp4-big-nodf-to-ep2');
  assert.equal(n.outcome, 'fragmented');
  assert.equal(n.r.delta[C.fragmentsQueued], 2);
  assert.equal(n.r.delta[C.neighbourRequests], 1);
  assert.equal(n.r.delta[C.pendingQueued] + n.r.delta[C.forwarded], 0);
  const q = h.dp.pending;
  assert.deepEqual(n.r.parked.map((i) => q.len[i]), [14 + 1396, 14 + 74]);
  assert.deepEqual(n.r.parked.map((i) => g16(n.b, q.frameOff(i) + 20)), [0x2000, 172]);
  h.resetTx();
  let step = h.inject(BASES.find((x) => x.name === 'arp-reply-ep2')!.frame, EP2);
  assert.equal(checkReceive({ step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ step, history: hist });
  assert.equal(step.delta[C.pendingSent], 2);
  assert.deepEqual(step.tx.map((t) => [t.port, t.len]), [[EP2, 14 + 1396], [EP2, 14 + 74]]);
  for (const t of step.tx) assert.ok(equalBytes(h.dp.arena.bytes, t.off, EP2_MAC, 0, 6));
  h.repatternReleased(step.released);
  finishOne();
});

/** Runs `names` (BASES) in one sequence, every step checked; returns the last step. */
function sequence(names: string[]): { step: StepResult; outcome: string; b: Uint8Array } {
  h.reset();
  const hist: string[] = [];
  let last: { step: StepResult; outcome: string; b: Uint8Array } | null = null;
  for (const name of names) {
    if (last) h.resetTx();
    const base = BASES.find((x) => x.name === name);
    assert.ok(base, name);
    const step = h.inject(base.frame, base.port);
    hist.push(name);
    last = { step, outcome: checkReceive({ step, history: hist }), b: h.dp.arena.bytes };
  }
  return last!;
}

test('c. fragments to a known neighbour go out at once: every option in the first, the copied ones in the others', () => {
  const { step, outcome, b } = sequence(['arp-reply-ep2', 'udp4-big-opts-nodf-to-ep2']);
  assert.equal(outcome, 'fragmented');
  assert.equal(step.delta[C.fragmentsSent], 2);
  assert.equal(step.parked.length, 0);
  const [f0, f1] = step.tx;
  // 36-byte header (16 bytes of options), 1360 bytes of data; then 28 (the 8 copied) + 48.
  assert.deepEqual([f0.port, f0.len, b[f0.off + 14], f1.port, f1.len, b[f1.off + 14]], [EP2, 14 + 36 + 1360, 0x49, EP2, 14 + 28 + 48, 0x47]);
  assert.ok(equalBytes(b, f0.off + 34, OPTS_MIXED, 0, OPTS_MIXED.length));
  assert.deepEqual([...b.subarray(f1.off + 34, f1.off + 42)], [0x94, 4, 0, 0, 0x88, 4, 0x12, 0x34]);
  for (const t of [f0, f1]) {
    assert.ok(equalBytes(b, t.off, EP2_MAC, 0, 6) && equalBytes(b, t.off + 6, PORT_MACS[EP2], 0, 6));
    assert.equal(b[t.off + 22], 63);
    assert.equal(csum(b, t.off + 14, (b[t.off + 14] & 15) * 4), 0);
  }
  assert.deepEqual([g16(b, f0.off + 20), g16(b, f1.off + 20)], [0x2000, 170]);
  finishOne();
});

test('c. fragmentation: options not copied, EOL, 40 bytes of options, MF and offsets of a fragment, the 13-bit limit, bad options', () => {
  /** [outcome, IHL of each fragment, flags/offset word of each] of a base toward ep2 (parked: ep2 unknown). */
  const shape = (name: string): [string, number[], number[]] => {
    const { r, outcome, b } = one(name);
    const q = h.dp.pending;
    const offs = r.parked.map((i) => q.frameOff(i));
    const res: [string, number[], number[]] = [outcome, offs.map((o) => (b[o + 14] & 15) * 4), offs.map((o) => g16(b, o + 20))];
    finishOne();
    return res;
  };
  assert.deepEqual(shape('udp4-big-notcopied-nodf-to-ep2'), ['fragmented', [32, 20], [0x2000, 171]]);
  assert.deepEqual(shape('udp4-big-eolopts-nodf-to-ep2'), ['fragmented', [28, 24], [0x2000, 171]]);
  assert.deepEqual(shape('udp4-big-maxopts-nodf-to-ep2'), ['fragmented', [60, 36], [0x2000, 167]]);
  assert.deepEqual(shape('udp4-big-mf-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000, 0x2000 | 172]]);
  assert.deepEqual(shape('udp4-big-later-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000 | 185, 185 + 172]]);
  assert.deepEqual(shape('udp4-big-later-mf-nodf-to-ep2'), ['fragmented', [36, 28], [0x2000 | 370, 0x2000 | (370 + 170)]]);
  assert.deepEqual(shape('udp4-big-edge-nodf-to-ep2'), ['fragmented', [20, 20], [0x2000 | (0x1fff - 172), 0x1fff]]);
  assert.deepEqual(shape('udp4-big-overflow-nodf-to-ep2'), ['dropFragmentOffsetOverflow', [], []]);
  assert.deepEqual(shape('udp4-big-badopts-nodf-to-ep2'), ['dropFragmentBadOptions', [], []]);
  assert.deepEqual(shape('udp4-big-badtail-nodf-to-ep2'), ['dropFragmentBadOptions', [], []]);
  // The later fragments of the 40-byte options carry security (11) and router alert (4), one EOL of padding.
  const { r, b } = one('udp4-big-maxopts-nodf-to-ep2');
  const o = h.dp.pending.frameOff(r.parked[1]);
  assert.equal(hex(b.subarray(o + 34, o + 50)), hex(concat(OPTS_MAX.subarray(0, 15), Uint8Array.of(0))));
  assert.equal(b[o + 22], 1, 'TTL 2 - 1');
  assert.equal(g16(b, o + 18), 0xbeef, 'the ID of the packet');
  finishOne();
});

test('c. fragments and exhausted resources: no generated slots → dropFragmentNoSlots and nothing sent; full TX / pending queues → fragmentsLost', () => {
  const hist: string[] = [];
  const big = BASES.find((x) => x.name === 'udp4-big-nodf-to-ep2')!.frame;
  // Two free generated slots: both fragments fit, the ARP request does not.
  h.reset();
  for (let i = 0; i < GEN_SLOTS - 2; i++) h.dp.arena.allocGen();
  let step = h.inject(big, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'fragmented');
  assert.deepEqual([step.delta[C.fragmentsQueued], step.delta[C.neighbourRequests]], [2, 0]);
  finishOne();
  // One free slot: nothing at all.
  h.reset();
  for (let i = 0; i < GEN_SLOTS - 1; i++) h.dp.arena.allocGen();
  step = h.inject(big, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'dropFragmentNoSlots');
  assert.equal(step.tx.length + step.parked.length, 0);
  finishOne();
  // Pending queue with one slot left: one fragment parked, one lost.
  h.reset();
  const small = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!.frame;
  for (let i = 0; i < PENDING_SLOTS - 1; i++) {
    assert.equal(checkReceive({ step: h.inject(small, EP1), history: hist }), 'pendingQueued');
    h.resetTx();
  }
  step = h.inject(big, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'fragmented');
  assert.deepEqual([step.delta[C.fragmentsQueued], step.delta[C.fragmentsLost], step.delta[C.dropPendingFull]], [1, 1, 0]);
  finishOne();
  // TX queue toward ep2 with one descriptor left: one fragment queued, one lost.
  h.reset();
  h.learn(EP2, 4, EP2_4, EP2_MAC);
  for (let i = 0; i < TX_PER_PORT - 1; i++) assert.equal(h.inject(small, EP1).delta[C.forwarded], 1);
  step = h.inject(big, EP1);
  assert.deepEqual(OUTCOME_IDX.filter((k) => step.delta[k] !== 0), [C.fragmented]);
  assert.deepEqual([step.delta[C.fragmentsSent], step.delta[C.fragmentsLost], step.delta[C.dropTxFull]], [1, 1, 0]);
  assert.equal(h.dp.tx.count[EP2], TX_PER_PORT);
  finishOne();
});

test('c. IPv4 fragment to the router, blackhole and unreachable routes', () => {
  assert.equal(one('echo4-frag-to-gw').outcome, 'dropLocalUnhandled');
  finishOne();
  const bh = one('udp4-blackhole');
  assert.equal(bh.outcome, 'dropBlackhole');
  assert.equal(bh.r.tx.length, 0);
  finishOne();
  const un = one('udp4-unreachable');
  assert.equal(un.outcome, 'dropNoRoute');
  assert.equal(un.gen.length, 1);
  assert.equal(un.b[un.gen[0].off + 34], 3);
  assert.equal(un.b[un.gen[0].off + 35], 1);
  finishOne();
});

test('c. IPv6 echo to the gateway and to the port link-local address: consumed, valid reply', () => {
  for (const name of ['echo6-gw', 'echo6-ll']) {
    const { r, outcome, b } = one(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.echoReplied], 1);
    const t = r.tx[0];
    assert.equal(t.off, r.rxOff);
    assert.equal(t.port, EP1);
    assert.equal(b[t.off + 54], 129);
    assert.ok(icmp6Ok(b, t.off + 14, t.off + 54, t.len - 54), `${name}: checksum`);
    finishOne();
  }
});

test('c. NS for the gateway: consumed, NA with the gateway as target', () => {
  for (const [name, port, target, solicited] of [['ns-gw', EP1, GW6, true], ['ns-gw-unicast', EP1, GW6, true], ['ns-dad-gw', EP2, GW6, false],
    ['ns-uplink-ll', UP, PORT_LL[UP], true]] as const) {
    const { r, outcome, gen, b } = one(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.ndpReplied], 1, name);
    assert.equal(gen.length, 1);
    const o = gen[0].off;
    assert.equal(gen[0].port, port);
    assert.equal(b[o + 54], 136);
    assert.ok(equalBytes(b, o + 62, target, 0, 16), `${name}: target`);
    assert.equal((b[o + 58] & 0x40) !== 0, solicited, `${name}: S flag`);
    assert.ok(icmp6Ok(b, o + 14, o + 54, gen[0].len - 54), `${name}: checksum`);
    if (!solicited) assert.ok(equalBytes(b, o + 38, ip('ff02::1'), 0, 16), 'DAD answer goes to all-nodes');
    if (name === 'ns-gw') assert.deepEqual(h.neighbour(EP1, 6, EP1_6), EP1_MAC);
    finishOne();
  }
});

test('c. NA: consumed, neighbour learned', () => {
  const { outcome } = one('na-ep2');
  assert.equal(outcome, 'consumed');
  assert.deepEqual(h.neighbour(EP2, 6, EP2_6), EP2_MAC);
  finishOne();
  assert.equal(one('na-uplink-gw').outcome, 'consumed');
  assert.deepEqual(h.neighbour(UP, 6, NH_6), NH_MAC);
  finishOne();
});

test('c. IPv6 forwarding: learned neighbour → forwarded, unknown → parked + NS', () => {
  for (const [name, port] of [['udp6-ext-to-ep1', EP1], ['udp6-ep2-to-ep1', EP1], ['tcp6-out-to-ep1', EP1], ['udp6-8-ext-to-ep1', EP1]] as const) {
    const { r, outcome, b } = one(name);
    assert.equal(outcome, 'forwarded', name);
    const t = r.tx[0];
    assert.equal(t.port, port);
    assert.ok(equalBytes(b, t.off, EP1_MAC, 0, 6));
    assert.equal(b[t.off + 21], 63);
    finishOne();
  }
  for (const [name, port, nh] of [['udp6-ext-to-out', UP, NH_6], ['echo6-ep1-to-ep2', EP2, EP2_6], ['udp6-frag-later', UP, NH_6]] as const) {
    const { outcome, gen, b } = one(name);
    assert.equal(outcome, 'pendingQueued', name);
    assert.equal(gen.length, 1);
    assert.equal(gen[0].port, port);
    assert.equal(b[gen[0].off + 54], 135);
    assert.ok(equalBytes(b, gen[0].off + 62, nh, 0, 16), `${name}: NS target`);
    finishOne();
  }
});

test('c. IPv6 hop limit 1, too big, blackhole, unreachable', () => {
  const t = one('udp6-hop1');
  assert.equal(t.outcome, 'dropTtlExceeded');
  assert.equal(t.b[t.gen[0].off + 54], 3);
  assert.ok(icmp6Ok(t.b, t.gen[0].off + 14, t.gen[0].off + 54, t.gen[0].len - 54));
  assert.ok(equalBytes(t.b, t.gen[0].off + 22, GW6, 0, 16), 'error from the gateway address');
  finishOne();
  const p = one('udp6-big-to-ep2');
  assert.equal(p.outcome, 'dropTooBig');
  assert.equal(p.b[p.gen[0].off + 54], 2);
  assert.equal(g32(p.b, p.gen[0].off + 58), 1400);
  assert.ok(icmp6Ok(p.b, p.gen[0].off + 14, p.gen[0].off + 54, p.gen[0].len - 54));
  assert.ok(p.gen[0].len - 14 <= 1280, 'PTB fits the IPv6 minimum MTU');
  finishOne();
  assert.equal(one('udp6-blackhole').outcome, 'dropBlackhole');
  finishOne();
  const u = one('udp6-unreachable');
  assert.equal(u.outcome, 'dropNoRoute');
  assert.equal(u.b[u.gen[0].off + 54], 1);
  finishOne();
});

test('c. IPv6 with 9 extension headers: dropIpv6TooManyExtHeaders', () => {
  assert.equal(one('udp6-9-ext-to-ep1').outcome, 'dropIpv6TooManyExtHeaders');
  finishOne();
});

test('c. full pending queue, full TX queue, exhausted generated slots: still one outcome per frame', () => {
  const hist: string[] = [];
  // 129 frames for 129 different unknown neighbours on the uplink's connected /24.
  h.reset();
  const outs: string[] = [];
  for (let i = 0; i <= PENDING_SLOTS; i++) {
    const dst = Uint8Array.of(198, 18, 0, 10 + i); // (.2 and .5 are VTEPs)
    const f = v4(EP1, EP1_MAC, { src: EP1_4, dst, proto: U }, udp(EP1_4, dst, 1, 2, PAY));
    outs.push(checkReceive({ step: h.inject(f, EP1), history: hist }));
    h.resetTx();
  }
  assert.equal(outs.filter((o) => o === 'pendingQueued').length, PENDING_SLOTS);
  assert.equal(outs[PENDING_SLOTS], 'dropPendingFull');
  finishOne();
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
  finishOne();
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
  finishOne();
});

test('c. a router does not forward martian destinations (127/8, 0/8, ::1) or unspecified sources', () => {
  const cases: [string, Uint8Array, number][] = [
    ['v4 dst 127.0.0.1', v4(EP1, EP1_MAC, { src: EP1_4, dst: ip('127.0.0.1'), proto: U }, udp(EP1_4, ip('127.0.0.1'), 1, 2, PAY)), EP1],
    ['v4 dst 0.0.0.5', v4(EP1, EP1_MAC, { src: EP1_4, dst: ip('0.0.0.5'), proto: U }, udp(EP1_4, ip('0.0.0.5'), 1, 2, PAY)), EP1],
    ['v6 dst ::1', v6(UP, NH_MAC, OUT_6, ip('::1'), U, 64, udp(OUT_6, ip('::1'), 1, 2, PAY)), UP],
    ['v6 src ::', v6(UP, NH_MAC, ZERO6, EP1_6, U, 64, udp(ZERO6, EP1_6, 1, 2, PAY)), UP],
  ];
  const bad: string[] = [];
  for (const [name, frame, port] of cases) {
    h.reset();
    const outcome = checkReceive({ step: h.inject(frame, port), history: [] });
    if (outcome === 'forwarded' || outcome === 'pendingQueued') bad.push(`${name}: ${outcome}`);
    finishOne();
  }
  assert.deepEqual(bad, []);
});

test('c. servicePending solicits each waiting neighbour once per round', () => {
  h.reset();
  const hist: string[] = [];
  const f = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!.frame;
  for (let i = 0; i < 10; i++) {
    const step = h.inject(f, EP1);
    assert.equal(checkReceive({ step, history: hist }), 'pendingQueued');
    assert.equal(step.delta[C.neighbourRequests], i === 0 ? 1 : 0, 'parkFrame solicits once');
    h.resetTx();
  }
  const step = h.tick(1500);
  checkTick({ step, history: hist });
  const requests = step.delta[C.neighbourRequests];
  h.resetTx();
  finishOne();
  assert.equal(requests, 1, `${requests} ARP requests for 198.19.1.20 in one re-solicit round`);
});

test('c. every hand-built frame is valid by construction', () => {
  for (const base of BASES) {
    const f = base.frame;
    if (g16(f, 12) === 0x0800) assert.equal(ipv4Check(f, 14, f.length - 14), IPV4_OK, base.name);
    if (g16(f, 12) === 0x86dd) assert.equal(54 + g16(f, 18), f.length, base.name);
  }
});

// ---------------------------------------------------------------------------------------
// d. VXLAN, unmutated: outcomes and exact headers.

const VX_EXPECT: [string, string][] = [
  ['udp4-ep1-to-pod-b', 'forwarded'], ['tcp6-ep1-to-pod-b', 'forwarded'], ['udp4-ep1-to-pod-c', 'pendingQueued'],
  ['echo6-ep1-to-pod-c', 'pendingQueued'], ['udp4-ep2-to-pod-d', 'forwarded'], ['udp4-ep1-to-pod-e', 'pendingQueued'],
  ['udp4-1450-df-to-pod-b', 'forwarded'], ['udp4-1451-df-to-pod-b', 'dropTooBig'], ['udp4-1451-nodf-to-pod-b', 'fragmented'],
  ['udp4-1500-opts-nodf-to-pod-c', 'fragmented'], ['vx4-udp4-big-b-to-ep2', 'fragmented'], ['vx4-udp4-big-df-b-to-ep2', 'dropTooBig'],
  ['vx4-udp4-big-b-to-pod-c', 'fragmented'],
  ['udp6-1431-to-pod-c', 'dropTooBig'], ['udp4-ttl1-to-pod-b', 'dropTtlExceeded'],
  ['vx4-udp4-b-to-ep1', 'forwarded'], ['vx4-udp6-b-to-ep1', 'forwarded'], ['vx4-echo-b-to-gw', 'consumed'], ['vx4-arp-b-gw', 'consumed'],
  ['vx4-ns-b-gw6', 'consumed'], ['vx4-udp4-b-ttl1', 'dropTtlExceeded'], ['vx4-udp4-b-to-ep2', 'pendingQueued'],
  ['vx4-udp4-b-to-pod-d', 'forwarded'], ['vx4-udp4-b-unreachable', 'dropNoRoute'], ['vx4-udp4-b-csum-to-ep1', 'forwarded'],
  ['vx4-udp4-b-to-gw-addr', 'forwarded'], ['vx6-udp4-c-to-ep1', 'forwarded'], ['vx6-echo6-c-to-gw', 'consumed'],
  ['vx4-bad-vni', 'dropVxlanBadVni'], ['vx4-no-i-flag', 'dropVxlanBadFlags'], ['vx4-inner-mac', 'dropVxlanInnerMac'],
  ['vx4-inner-group-src', 'dropVxlanInnerMac'], ['vx4-inner-lldp', 'dropVxlanInnerEthertype'], ['vx4-inner-short', 'dropVxlanMalformed'],
  ['vx4-udp-len', 'dropVxlanMalformed'], ['vx4-bad-csum', 'dropVxlanBadChecksum'], ['vx6-zero-csum', 'dropVxlanBadChecksum'],
  ['vx4-on-endpoint', 'dropLocalUnhandled'], ['vx4-port-4789', 'dropLocalUnhandled'], ['vx4-nested', 'dropLocalUnhandled'],
];

test('d. every tunnel frame of the corpus ends in its outcome (and every malformed one in its drop counter)', () => {
  const names = BASES.filter((x) => x.name.startsWith('vx') || x.name.includes('-pod-')).map((x) => x.name);
  assert.deepEqual([...names].sort(), VX_EXPECT.map(([n]) => n).sort(), 'VX_EXPECT covers the tunnel bases');
  const wrong: string[] = [];
  for (const [name, expected] of VX_EXPECT) {
    const { outcome, r } = one(name);
    if (outcome !== expected) wrong.push(`${name}: ${outcome}, expected ${expected}`);
    // Decapsulated unless the VXLAN checks drop it or it is not for the VXLAN endpoint at all.
    const decap = name.startsWith('vx') && !expected.startsWith('dropVxlan') && name !== 'vx4-on-endpoint' && name !== 'vx4-port-4789' ? 1 : 0;
    if (r.delta[C.vxlanDecapsulated] !== decap) wrong.push(`${name}: vxlanDecapsulated ${r.delta[C.vxlanDecapsulated]}, expected ${decap}`);
    finishOne();
  }
  assert.deepEqual(wrong, []);
});

/** The outer headers of the encapsulated frame at o, field by field. */
function outer4(b: Uint8Array, o: number): { dstMac: string; srcMac: string; ip: string; src: string; dst: string; sport: number; dport: number; udpLen: number; udpCsum: number; vx: string } {
  return {
    dstMac: hex(b.subarray(o, o + 6)), srcMac: hex(b.subarray(o + 6, o + 12)), ip: hex(b.subarray(o + 12, o + 24)),
    src: hex(b.subarray(o + 26, o + 30)), dst: hex(b.subarray(o + 30, o + 34)), sport: g16(b, o + 34), dport: g16(b, o + 36),
    udpLen: g16(b, o + 38), udpCsum: g16(b, o + 40), vx: hex(b.subarray(o + 42, o + 50)),
  };
}

test('d. to a remote pod: IPv4 underlay, outer headers prepended in the headroom, inner MACs and TTL', () => {
  const { r, outcome, b } = one('udp4-ep1-to-pod-b');
  assert.equal(outcome, 'forwarded');
  assert.equal(r.delta[C.vxlanEncapsulated], 1);
  const t = r.tx[0];
  assert.equal(t.port, UP);
  assert.equal(t.off, r.rxOff - 50, 'no copy: the offset moved back by 50');
  assert.equal(t.len, r.input.length + 50);
  const got = outer4(b, t.off);
  const total = t.len - 14;
  assert.deepEqual({ ...got, sport: 0 }, {
    dstMac: hex(VTEP_B_MAC), srcMac: hex(PORT_MACS[UP]),
    ip: hex(Uint8Array.of(0x08, 0x00, 0x45, 0x00, total >> 8, total & 255, 0, 0, 0x40, 0x00, 64, 17)),
    src: hex(UP_4), dst: hex(VTEP_B4), sport: 0, dport: 8472, udpLen: total - 20, udpCsum: 0, vx: '0800000000000200',
  });
  assert.ok(got.sport >= 32768 && got.sport <= 60999);
  assert.equal(csum(b, t.off + 14, 20), 0, 'outer IPv4 header checksum');
  const i = t.off + 50;
  assert.ok(equalBytes(b, i, LINUX_VX_MAC, 0, 6) && equalBytes(b, i + 6, VTEP_MAC, 0, 6), 'inner MACs: the route\'s inner MAC, our VXLAN MAC');
  assert.equal(b[i + 22], 63, 'inner TTL decremented');
  assert.equal(csum(b, i + 14, 20), 0, 'inner IPv4 checksum still valid');
  finishOne();
  // The same flow always takes the same source port; another flow may not.
  const again = one('udp4-ep1-to-pod-b');
  assert.equal(g16(again.b, again.r.tx[0].off + 34), got.sport);
  finishOne();
});

test('d. IPv6 pods over the IPv4 underlay, IPv4 pods over the IPv6 underlay (parked, NS, sent when the NA comes)', () => {
  const six = one('tcp6-ep1-to-pod-b');
  assert.equal(six.outcome, 'forwarded');
  const t6 = six.r.tx[0];
  assert.equal(t6.off, six.r.rxOff - 50);
  assert.equal(g16(six.b, t6.off + 50 + 12), 0x86dd, 'inner IPv6');
  assert.equal(six.b[t6.off + 50 + 21], 63, 'inner hop limit decremented');
  finishOne();
  h.reset();
  const hist: string[] = [];
  const base = BASES.find((x) => x.name === 'udp4-ep1-to-pod-c')!;
  let step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ step, history: hist }), 'pendingQueued');
  const ns = step.tx.filter((d) => h.isGenerated(d.off));
  assert.equal(ns.length, 1);
  assert.equal(ns[0].port, UP);
  assert.ok(equalBytes(h.dp.arena.bytes, ns[0].off + 62, VTEP_C6, 0, 16), 'NS for the remote VTEP');
  const q = h.dp.pending;
  const slot = step.parked[0];
  const po = q.frameOff(slot);
  const b = h.dp.arena.bytes;
  assert.equal(q.len[slot], base.frame.length + 70);
  assert.equal(g16(b, po + 12), 0x86dd);
  assert.ok(equalBytes(b, po + 22, UP_6, 0, 16) && equalBytes(b, po + 38, VTEP_C6, 0, 16), 'outer IPv6 addresses');
  assert.equal(b[po + 20], 17);
  assert.equal(b[po + 21], 64);
  assert.equal(g16(b, po + 54 + 2), 8472);
  assert.ok(equalBytes(b, po + 70, VTEP_MAC, 0, 6), 'no inner MAC on the route: our VXLAN MAC (every Weft node\'s default)');
  h.resetTx();
  step = h.inject(v6(UP, VTEP_C_MAC, VTEP_C6, PORT_LL[UP], 58, 255, icmp6(VTEP_C6, PORT_LL[UP], 136, 0, naBody(VTEP_C6, VTEP_C_MAC))), UP);
  assert.equal(checkReceive({ step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ step, history: hist });
  assert.equal(step.delta[C.pendingSent], 1);
  assert.ok(equalBytes(h.dp.arena.bytes, step.tx[0].off, VTEP_C_MAC, 0, 6), 'sent to the VTEP\'s MAC');
  h.repatternReleased(step.released);
  finishOne();
});

test('d. a VTEP behind the gateway: outer destination the VTEP, Ethernet destination the gateway', () => {
  const { r, outcome, b } = one('udp4-ep2-to-pod-d');
  assert.equal(outcome, 'forwarded');
  const t = r.tx[0];
  assert.ok(equalBytes(b, t.off, NH_MAC, 0, 6));
  assert.ok(equalBytes(b, t.off + 30, VTEP_D4, 0, 4));
  finishOne();
  const e = one('udp4-ep1-to-pod-e');
  assert.equal(e.outcome, 'pendingQueued');
  assert.equal(e.gen.length, 1);
  assert.equal(g16(e.b, e.gen[0].off + 12), 0x0806);
  assert.ok(equalBytes(e.b, e.gen[0].off + 38, VTEP_E4, 0, 4), 'ARP for the on-link VTEP');
  finishOne();
});

test('d. PMTU: 1450 bytes fit a 1500 uplink over IPv4, 1451 get frag needed 1450; IPv6 underlay: packet too big 1430', () => {
  assert.equal(one('udp4-1450-df-to-pod-b').outcome, 'forwarded');
  finishOne();
  const big = one('udp4-1451-df-to-pod-b');
  assert.equal(big.outcome, 'dropTooBig');
  const o = big.gen[0].off;
  assert.equal(big.gen[0].port, EP1);
  assert.equal(big.b[o + 34], 3);
  assert.equal(big.b[o + 35], 4);
  assert.equal(g16(big.b, o + 40), 1450);
  finishOne();
  const nodf = one('udp4-1451-nodf-to-pod-b');
  assert.equal(nodf.outcome, 'fragmented');
  assert.equal(nodf.r.delta[C.fragmentsSent], 2);
  assert.equal(nodf.r.delta[C.vxlanEncapsulated], 2);
  // Inner fragments of 20 + 1424 and 20 + 7 bytes, each in 50 bytes of encapsulation, to VTEP B.
  assert.deepEqual(nodf.r.tx.map((t) => [t.port, t.len]), [[UP, 14 + 1444 + 50], [UP, 14 + 27 + 50]]);
  for (const t of nodf.r.tx) assert.ok(equalBytes(nodf.b, t.off, VTEP_B_MAC, 0, 6) && equalBytes(nodf.b, t.off + 30, VTEP_B4, 0, 4));
  assert.equal(g16(nodf.b, nodf.r.tx[0].off + 34), g16(nodf.b, nodf.r.tx[1].off + 34), 'one outer source port');
  assert.deepEqual(nodf.r.tx.map((t) => g16(nodf.b, t.off + 50 + 20)), [0x2000, 178]);
  finishOne();
  const p6 = one('udp6-1431-to-pod-c');
  assert.equal(p6.outcome, 'dropTooBig');
  assert.equal(p6.b[p6.gen[0].off + 54], 2);
  assert.equal(g32(p6.b, p6.gen[0].off + 58), 1430);
  finishOne();
});

test('d. from a remote node: decapsulated, routed to the endpoint with TTL - 1, in place', () => {
  const { r, outcome, b } = one('vx4-udp4-b-to-ep1');
  assert.equal(outcome, 'forwarded');
  assert.equal(r.delta[C.vxlanDecapsulated], 1);
  const t = r.tx[0];
  assert.equal(t.port, EP1);
  assert.equal(t.off, r.rxOff + 50, 'the inner frame where it was received');
  assert.equal(t.len, r.input.length - 50);
  assert.ok(equalBytes(b, t.off, EP1_MAC, 0, 6) && equalBytes(b, t.off + 6, PORT_MACS[EP1], 0, 6));
  assert.equal(b[t.off + 22], 63);
  finishOne();
  const v6u = one('vx6-udp4-c-to-ep1');
  assert.equal(v6u.outcome, 'forwarded');
  assert.equal(v6u.r.tx[0].off, v6u.r.rxOff + 70);
  finishOne();
});

test('d. answers through the tunnel: echo, ARP and NS for our addresses, ICMP errors, go back encapsulated to the sender', () => {
  const echo = one('vx4-echo-b-to-gw');
  assert.equal(echo.outcome, 'consumed');
  let t = echo.r.tx[0];
  assert.equal(t.port, UP);
  assert.equal(t.off, echo.r.rxOff, 'the reply is encapsulated where the request was');
  const e = outer4(echo.b, t.off);
  assert.deepEqual([e.dstMac, e.src, e.dst, e.dport, e.vx], [hex(VTEP_B_MAC), hex(UP_4), hex(VTEP_B4), 8472, '0800000000000200']);
  assert.equal(echo.b[t.off + 50 + 34], 0, 'inner echo reply');
  assert.ok(equalBytes(echo.b, t.off + 50, LINUX_VX_MAC, 0, 6) && equalBytes(echo.b, t.off + 56, VTEP_MAC, 0, 6));
  finishOne();
  const a = one('vx4-arp-b-gw');
  assert.equal(a.outcome, 'consumed');
  assert.equal(a.r.delta[C.arpReplied], 1);
  t = a.r.tx[0];
  const i = t.off + 50;
  assert.equal(g16(a.b, i + 12), 0x0806);
  assert.equal(g16(a.b, i + 20), 2);
  assert.ok(equalBytes(a.b, i + 22, VTEP_MAC, 0, 6) && equalBytes(a.b, i + 28, GW4, 0, 4), 'our gateway is at our VXLAN MAC');
  assert.ok(equalBytes(a.b, i + 38, LINUX_VX_4, 0, 4));
  assert.equal(h.neighbour(TUNNEL_PORT, 4, LINUX_VX_4), null, 'nothing learned from inside the tunnel');
  finishOne();
  const n = one('vx4-ns-b-gw6');
  assert.equal(n.outcome, 'consumed');
  assert.equal(n.r.delta[C.ndpReplied], 1);
  const ni = n.r.tx[0].off + 50;
  assert.equal(n.b[ni + 54], 136);
  assert.ok(equalBytes(n.b, ni + 62, GW6, 0, 16) && equalBytes(n.b, ni + 80, VTEP_MAC, 0, 6));
  assert.ok(equalBytes(n.b, ni + 38, LINUX_VX_LL, 0, 16), 'NA to the soliciting address');
  finishOne();
  const ttl = one('vx4-udp4-b-ttl1');
  assert.equal(ttl.outcome, 'dropTtlExceeded');
  const ti = ttl.r.tx[0].off + 50;
  assert.equal(ttl.b[ti + 34], 11);
  assert.ok(equalBytes(ttl.b, ti + 26, GW4, 0, 4) && equalBytes(ttl.b, ti + 30, POD_B4, 0, 4), 'from the gateway address to the remote pod');
  finishOne();
  const e6 = one('vx6-echo6-c-to-gw');
  assert.equal(e6.outcome, 'consumed');
  const o6 = e6.r.tx[0].off;
  assert.equal(g16(e6.b, o6 + 12), 0x86dd);
  assert.ok(equalBytes(e6.b, o6 + 22, UP_6, 0, 16) && equalBytes(e6.b, o6 + 38, VTEP_C6, 0, 16));
  assert.notEqual(g16(e6.b, o6 + 60), 0, 'UDP checksum over IPv6');
  finishOne();
});

test('d. frames captured from a Linux vxlan device: ARP/NS for the gateway answered through the tunnel, echo replies delivered', () => {
  const expect: Record<string, string> = {
    'arp-request': 'consumed', 'ns': 'consumed', 'echo-reply': 'forwarded', 'echo6-reply': 'forwarded', 'mld-report': 'dropMulticastIgnored',
  };
  const linux = BASES.filter((x) => x.name.startsWith('linux-'));
  assert.equal(linux.length, 10);
  const wrong: string[] = [];
  for (const base of linux) {
    const kind = base.name.replace(/^linux-v[46]-/, '');
    const { r, outcome, b } = one(base.name);
    if (outcome !== expect[kind]) wrong.push(`${base.name}: ${outcome}, expected ${expect[kind]}`);
    if (r.delta[C.vxlanDecapsulated] !== 1) wrong.push(`${base.name}: not decapsulated`);
    if (outcome === 'forwarded' && (r.tx[0].port !== EP1 || !equalBytes(b, r.tx[0].off, EP1_MAC, 0, 6))) wrong.push(`${base.name}: not delivered to the endpoint`);
    if (outcome === 'consumed' && (r.tx.length !== 1 || r.tx[0].port !== UP || r.delta[C.vxlanEncapsulated] !== 1)) wrong.push(`${base.name}: no answer through the tunnel`);
    finishOne();
  }
  assert.deepEqual(wrong, []);
});

test('d. the shared settings switch VXLAN off and change the VNI for the workers', () => {
  try {
    h.settings.setVxlan(false, VX_VNI, VX_PORT);
    assert.equal(one('udp4-ep1-to-pod-b').outcome, 'dropVxlanDisabled');
    finishOne();
    assert.equal(one('vx4-udp4-b-to-ep1').outcome, 'dropLocalUnhandled');
    finishOne();
    h.settings.setVxlan(true, 3, VX_PORT);
    assert.equal(one('vx4-udp4-b-to-ep1').outcome, 'dropVxlanBadVni');
    finishOne();
    const { r, outcome } = one('vx4-bad-vni');
    assert.equal(outcome, 'forwarded', 'the VNI-3 frame is ours now');
    assert.equal(r.delta[C.vxlanDecapsulated], 1);
    h.resetTx();
    h.settings.setVxlan(true, VX_VNI, 4789);
    const p = one('vx4-port-4789');
    assert.equal(p.outcome, 'forwarded');
    h.resetTx();
  } finally {
    h.settings.setVxlan(true, VX_VNI, VX_PORT);
    finishOne();
  }
});

// ---------------------------------------------------------------------------------------
// e. Fragmentation from a jumbo port: ep1 with MTU 9000 (a harness of its own), so packets
// are cut into many fragments, toward the 1500-byte uplink, the 1400-byte ep2 and the tunnels.

const JUMBO_MTUS = [9000, 1400, 1500];
let jumbo: Harness | null = null;

/** Runs fn with `h` the jumbo harness. */
function withJumbo<T>(fn: () => T): T {
  jumbo ??= new Harness({ mtus: JUMBO_MTUS });
  h = jumbo;
  try {
    return fn();
  } finally {
    h = mainHarness;
  }
}

function jumboFrame(dst: Uint8Array, o: Partial<Parameters<typeof ipv4>[0]>, size: number, l4 = true): Uint8Array {
  const payload = l4 ? udp(EP1_4, dst, 9000, 9001, bytes(size - 8, 17)) : bytes(size, 19);
  return v4(EP1, EP1_MAC, { src: EP1_4, dst, proto: U, ...o }, payload);
}

/** [base, outcome, fragments sent, fragments parked]. */
const JUMBO: [Base, string, number, number][] = [
  [{ name: 'j-udp4-9000-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 8980) }, 'fragmented', 7, 0],
  [{ name: 'j-udp4-1501-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 1481) }, 'fragmented', 2, 0],
  [{ name: 'j-udp4-1500-to-out', port: EP1, frame: jumboFrame(OUT_4, {}, 1480) }, 'forwarded', 0, 0],
  [{ name: 'j-udp4-opts-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_MIXED }, 6000) }, 'fragmented', 5, 0],
  [{ name: 'j-udp4-maxopts-to-ep2', port: EP1, frame: jumboFrame(EP2_4, { options: OPTS_MAX }, 8000) }, 'fragmented', 0, 6],
  [{ name: 'j-udp4-notcopied-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_NOT_COPIED }, 3000) }, 'fragmented', 3, 0],
  [{ name: 'j-udp4-mf-to-out', port: EP1, frame: jumboFrame(OUT_4, { mf: true }, 4000) }, 'fragmented', 3, 0],
  [{ name: 'j-udp4-later-to-out', port: EP1, frame: jumboFrame(OUT_4, { fragOff: 1000 }, 4000, false) }, 'fragmented', 3, 0],
  [{ name: 'j-udp4-later-mf-opts-to-out', port: EP1, frame: jumboFrame(OUT_4, { fragOff: 2000, mf: true, options: OPTS_MIXED }, 4000, false) }, 'fragmented', 3, 0],
  [{ name: 'j-udp4-overflow-to-out', port: EP1, frame: jumboFrame(OUT_4, { fragOff: 7500 }, 8000, false) }, 'dropFragmentOffsetOverflow', 0, 0],
  [{ name: 'j-udp4-badopts-to-out', port: EP1, frame: jumboFrame(OUT_4, { options: OPTS_BAD_TAIL }, 3000) }, 'dropFragmentBadOptions', 0, 0],
  [{ name: 'j-udp4-df-to-out', port: EP1, frame: jumboFrame(OUT_4, { df: true }, 3000) }, 'dropTooBig', 0, 0],
  [{ name: 'j-udp4-ttl1-to-out', port: EP1, frame: jumboFrame(OUT_4, { ttl: 1 }, 3000) }, 'dropTtlExceeded', 0, 0],
  [{ name: 'j-udp4-to-pod-b', port: EP1, frame: jumboFrame(POD_B4, {}, 8980) }, 'fragmented', 7, 0],
  [{ name: 'j-udp4-opts-to-pod-c', port: EP1, frame: jumboFrame(POD_C4, { options: OPTS_MIXED }, 5000) }, 'fragmented', 0, 4],
  [{ name: 'j-udp4-to-pod-d', port: EP1, frame: jumboFrame(POD_D4, {}, 3000) }, 'fragmented', 3, 0],
  [{ name: 'j-echo4-to-ep2', port: EP1, frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: EP2_4, proto: 1 }, icmp4(8, 0, 0x42420001, bytes(5000, 5))) }, 'fragmented', 0, 4],
  [BASES.find((x) => x.name === 'arp-reply-ep2')!, 'consumed', 0, 0],
];
const JUMBO_BASES = JUMBO.map(([base]) => base);
let jumboFrames = 0;

test('e. jumbo ep1: every seed ends in its outcome, with that many fragments sent or parked', () => {
  const wrong: string[] = [];
  withJumbo(() => {
    const f0 = h.frames;
    for (const [base, expected, sent, parked] of JUMBO) {
      h.reset();
      const step = h.inject(base.frame, base.port);
      const outcome = checkReceive({ step, history: [base.name] });
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      const got = [outcome, step.delta[C.fragmentsSent], step.delta[C.fragmentsQueued]];
      if (JSON.stringify(got) !== JSON.stringify([expected, sent, parked])) wrong.push(`${base.name}: ${JSON.stringify(got)}, expected ${JSON.stringify([expected, sent, parked])}`);
      h.resetTx();
      assert.equal(h.drainAndScan(), -1, `${base.name}: arena written outside frames`);
    }
    jumboFrames += h.frames - f0;
  });
  assert.deepEqual(wrong, []);
});

test('e. jumbo ep1: mutated seeds', { timeout: 120000 }, (t) => {
  withJumbo(() => {
    const f0 = h.frames;
    assertProperty(fc.property(fc.array(mutatedArb, { minLength: 1, maxLength: 3 }), (ms) => { runSteps(ms.map((m) => buildMutated(m, JUMBO_BASES))); }), 1500);
    jumboFrames += h.frames - f0;
    t.diagnostic(`${h.frames - f0} frames`);
  });
});

after(() => {
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  const dist = [...outcomes.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`# pipeline property tests: ${h.frames + jumboFrames} frames through receiveFrame (${jumboFrames} from a jumbo port), ${ticks} servicePending ticks, ${secs}s`);
  console.log(`# outcomes: ${dist}`);
  console.log(`# VXLAN: ${h.dp.ctr[C.vxlanDecapsulated]} frames decapsulated, ${h.dp.ctr[C.vxlanEncapsulated]} encapsulated`);
  console.log(`# recorder: ${mainHarness.dp.ctr[C.recorderCaptured]} captures, ${mainHarness.dp.ctr[C.recorderLost]} lost to the full ring`);
  assert.ok(mainHarness.dp.ctr[C.recorderCaptured] > 100 && mainHarness.dp.ctr[C.recorderLost] > 1000, 'the recorder ran on the frames, up to a full ring and on');
});
