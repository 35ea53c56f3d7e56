// Builds IPv4 / IPv6 packets with correct checksums for the NAT property tests (not a test file).
import { put16 } from '../../src/wire/bytes.js';
import { checksum, sum16, finish, pseudoSum4, pseudoSum6 } from '../../src/wire/checksum.js';

export type L4Kind = 'tcp' | 'udp' | 'echo' | 'echoReply';

export interface PacketSpec {
  family: 4 | 6;
  kind: L4Kind;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  payload: Uint8Array;
  /** IPv4: send UDP without a checksum (0). */
  udpZero?: boolean;
  /** IPv4 option words (NOPs), 0..10. */
  optionWords?: number;
  /** IPv6: a destination-options header before the L4 header. */
  destOpts?: boolean;
  ttl?: number;
}

const PROTO: Record<L4Kind, [number, number]> = { tcp: [6, 6], udp: [17, 17], echo: [1, 58], echoReply: [1, 58] };

/** The L4 segment with a zero checksum; returns it and the checksum offset within it. */
function l4(s: PacketSpec): { seg: Uint8Array; csumAt: number } {
  const hl = s.kind === 'tcp' ? 20 : 8;
  const seg = new Uint8Array(hl + s.payload.length);
  seg.set(s.payload, hl);
  if (s.kind === 'tcp') {
    put16(seg, 0, s.sport);
    put16(seg, 2, s.dport);
    seg[4] = 0x01;
    seg[7] = 0x2a;
    seg[12] = 5 << 4;
    seg[13] = 0x18;
    put16(seg, 14, 502);
    return { seg, csumAt: 16 };
  }
  if (s.kind === 'udp') {
    put16(seg, 0, s.sport);
    put16(seg, 2, s.dport);
    put16(seg, 4, seg.length);
    return { seg, csumAt: 6 };
  }
  const request = s.kind === 'echo';
  seg[0] = s.family === 4 ? (request ? 8 : 0) : request ? 128 : 129;
  put16(seg, 4, request ? s.sport : s.dport);
  put16(seg, 6, 7);
  return { seg, csumAt: 2 };
}

export function buildPacket(s: PacketSpec): Uint8Array {
  const { seg, csumAt } = l4(s);
  const proto = PROTO[s.kind][s.family === 4 ? 0 : 1];
  if (s.family === 4) {
    const hl = 20 + 4 * (s.optionWords ?? 0);
    const b = new Uint8Array(hl + seg.length);
    b[0] = 0x40 | (hl >> 2);
    put16(b, 2, b.length);
    put16(b, 4, 0x1234);
    b[8] = s.ttl ?? 64;
    b[9] = proto;
    b.set(s.src, 12);
    b.set(s.dst, 16);
    b.fill(1, 20, hl); // NOP options
    put16(b, 10, checksum(b, 0, hl));
    b.set(seg, hl);
    if (s.kind === 'udp' && s.udpZero) return b;
    const ph = proto === 1 ? 0 : pseudoSum4(b, 0, proto, seg.length);
    let c = finish(sum16(b, hl, seg.length, ph));
    if (c === 0 && s.kind === 'udp') c = 0xffff;
    put16(b, hl + csumAt, c);
    return b;
  }
  const ext = s.destOpts ? 8 : 0;
  const b = new Uint8Array(40 + ext + seg.length);
  b[0] = 0x60;
  put16(b, 4, ext + seg.length);
  b[6] = s.destOpts ? 60 : proto;
  b[7] = s.ttl ?? 64;
  b.set(s.src, 8);
  b.set(s.dst, 24);
  if (s.destOpts) {
    b[40] = proto;
    b[41] = 0;
    b[42] = 1;
    b[43] = 4;
  } // PadN of 4 bytes
  b.set(seg, 40 + ext);
  const ph = pseudoSum6(b, 0, proto, seg.length);
  let c = finish(sum16(b, 40 + ext, seg.length, ph));
  if (c === 0 && s.kind === 'udp') c = 0xffff;
  put16(b, 40 + ext + csumAt, c);
  return b;
}

/** An ICMP(v6) error from src to dst quoting the first quoteLen bytes of inner. */
export function buildIcmpError(
  family: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  code: number,
  inner: Uint8Array,
  quoteLen: number,
): Uint8Array {
  const q = inner.subarray(0, Math.min(quoteLen, inner.length));
  const msg = new Uint8Array(8 + q.length);
  msg[0] = type;
  msg[1] = code;
  msg.set(q, 8);
  if (family === 4) {
    if (type === 3 && code === 4) put16(msg, 6, 1400);
    const b = new Uint8Array(20 + msg.length);
    b[0] = 0x45;
    put16(b, 2, b.length);
    b[8] = 64;
    b[9] = 1;
    b.set(src, 12);
    b.set(dst, 16);
    put16(b, 10, checksum(b, 0, 20));
    put16(msg, 2, checksum(msg, 0, msg.length));
    b.set(msg, 20);
    return b;
  }
  if (type === 2) put16(msg, 6, 1280);
  const b = new Uint8Array(40 + msg.length);
  b[0] = 0x60;
  put16(b, 4, msg.length);
  b[6] = 58;
  b[7] = 64;
  b.set(src, 8);
  b.set(dst, 24);
  b.set(msg, 40);
  put16(b, 42, finish(sum16(b, 40, msg.length, pseudoSum6(b, 0, 58, msg.length))));
  return b;
}

/** The packet inside a frame: `head` bytes before it, `tail` bytes of padding after. */
export function inFrame(pkt: Uint8Array, head: number, tail: number): Uint8Array {
  const f = new Uint8Array(head + pkt.length + tail);
  f.fill(0xee);
  f.set(pkt, head);
  return f;
}
