// ICMP / ICMPv6 echo packets for the WireGuard interop tool: build a request, check a reply,
// answer a request. Plain IP packets (no Ethernet), as they travel inside WireGuard.
import { writeIpv4Header, parseIpv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { writeIpv6Header, parseIpv6 } from '../../src/wire/ipv6.js';
import { checksum, sum16, finish, pseudoSum6 } from '../../src/wire/checksum.js';

const IPPROTO_ICMPV6 = 58;
const PAYLOAD = new TextEncoder().encode('weft-wireguard-interop-payload!!');

function addr(text: string): Uint8Array {
  const a = parseIpv4(text) ?? parseIpv6(text);
  if (a === null) throw new Error(`bad address ${text}`);
  return a;
}

export function echoRequest(src: string, dst: string, id: number, seq: number): Uint8Array {
  const s = addr(src);
  const d = addr(dst);
  const icmpLen = 8 + PAYLOAD.length;
  if (s.length === 4) {
    const p = new Uint8Array(20 + icmpLen);
    writeIpv4Header(p, 0, p.length, seq, true, 64, IPPROTO_ICMP, s, 0, d, 0);
    writeEcho(p, 20, 8, id, seq);
    const c = checksum(p, 20, icmpLen);
    p[22] = c >> 8;
    p[23] = c & 0xff;
    return p;
  }
  const p = new Uint8Array(40 + icmpLen);
  writeIpv6Header(p, 0, icmpLen, IPPROTO_ICMPV6, 64, s, 0, d, 0);
  writeEcho(p, 40, 128, id, seq);
  const c = finish(sum16(p, 40, icmpLen, pseudoSum6(p, 0, IPPROTO_ICMPV6, icmpLen)));
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return p;
}

function writeEcho(p: Uint8Array, o: number, type: number, id: number, seq: number): void {
  p[o] = type;
  p[o + 1] = 0;
  p[o + 2] = 0;
  p[o + 3] = 0;
  p[o + 4] = id >> 8;
  p[o + 5] = id & 0xff;
  p[o + 6] = seq >> 8;
  p[o + 7] = seq & 0xff;
  p.set(PAYLOAD, o + 8);
}

export interface Echo {
  family: 4 | 6;
  type: 'request' | 'reply';
  src: string;
  dst: string;
  id: number;
  seq: number;
  checksumOk: boolean;
  payloadOk: boolean;
}

/** Parses an ICMP/ICMPv6 echo request or reply; null for anything else. */
export function parseEcho(p: Uint8Array): Echo | null {
  const v = p[0] >> 4;
  if (v === 4 && p.length >= 28 && p[9] === IPPROTO_ICMP) {
    const hl = (p[0] & 15) * 4;
    const t = p[hl];
    if (t !== 0 && t !== 8) return null;
    return {
      family: 4,
      type: t === 8 ? 'request' : 'reply',
      src: fmt(p, 12, 4),
      dst: fmt(p, 16, 4),
      id: (p[hl + 4] << 8) | p[hl + 5],
      seq: (p[hl + 6] << 8) | p[hl + 7],
      checksumOk: checksum(p, hl, p.length - hl) === 0 && checksum(p, 0, hl) === 0,
      payloadOk: p.length - hl - 8 === PAYLOAD.length && PAYLOAD.every((x, i) => p[hl + 8 + i] === x),
    };
  }
  if (v === 6 && p.length >= 48 && p[6] === IPPROTO_ICMPV6) {
    const t = p[40];
    if (t !== 128 && t !== 129) return null;
    const len = p.length - 40;
    return {
      family: 6,
      type: t === 128 ? 'request' : 'reply',
      src: fmt(p, 8, 16),
      dst: fmt(p, 24, 16),
      id: (p[44] << 8) | p[45],
      seq: (p[46] << 8) | p[47],
      checksumOk: finish(sum16(p, 40, len, pseudoSum6(p, 0, IPPROTO_ICMPV6, len))) === 0,
      payloadOk: len - 8 === PAYLOAD.length && PAYLOAD.every((x, i) => p[48 + i] === x),
    };
  }
  return null;
}

/** The echo reply to an echo request (addresses swapped, type changed, checksums redone). */
export function echoReply(req: Uint8Array): Uint8Array {
  const p = Uint8Array.from(req);
  if (p[0] >> 4 === 4) {
    const hl = (p[0] & 15) * 4;
    const src = p.slice(12, 16);
    p.copyWithin(12, 16, 20);
    p.set(src, 16);
    p[8] = 64;
    p[10] = p[11] = 0;
    const hc = checksum(p, 0, hl);
    p[10] = hc >> 8;
    p[11] = hc & 0xff;
    p[hl] = 0;
    p[hl + 2] = p[hl + 3] = 0;
    const c = checksum(p, hl, p.length - hl);
    p[hl + 2] = c >> 8;
    p[hl + 3] = c & 0xff;
    return p;
  }
  const src = p.slice(8, 24);
  p.copyWithin(8, 24, 40);
  p.set(src, 24);
  p[7] = 64;
  p[40] = 129;
  p[42] = p[43] = 0;
  const len = p.length - 40;
  const c = finish(sum16(p, 40, len, pseudoSum6(p, 0, IPPROTO_ICMPV6, len)));
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return p;
}

function fmt(p: Uint8Array, o: number, n: number): string {
  if (n === 4) return `${p[o]}.${p[o + 1]}.${p[o + 2]}.${p[o + 3]}`;
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((p[o + i] << 8) | p[o + i + 1]).toString(16));
  return parts.join(':');
}

/** The text form parseEcho reports for an address (uncompressed IPv6). */
export function normalizeAddress(text: string): string {
  const a = addr(text);
  return fmt(a, 0, a.length);
}
