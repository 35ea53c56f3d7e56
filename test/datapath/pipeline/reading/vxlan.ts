// Reading VXLAN datagrams independently of src/wire: the parse the oracle and the mutators
// share, and the outer headers field by field for the examples.
import { csum, hex } from '../../harness.js';
import { g16, extHeaders } from './frame.js';

/** A UDP datagram in an Ethernet frame at o: IPv4 (not a fragment) or IPv6 after its extension headers. */
export interface Vx {
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

export function parseVx(b: Uint8Array, o: number, len: number): Vx | null {
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
    family,
    ip,
    udp: u,
    ulen,
    avail: end - u,
    src: b.slice(a, a + n),
    dst: b.slice(a + n, a + 2 * n),
    sport: g16(b, u),
    dport: g16(b, u + 2),
    inner: u + 16,
    innerLen: ulen - 16,
  };
}

/** The UDP checksum verifies; zero is "none" over IPv4 and invalid over IPv6. */
export function udpSumOk(b: Uint8Array, vx: Vx): boolean {
  const c0 = g16(b, vx.udp + 6);
  if (c0 === 0) return vx.family === 4;
  let s = 17 + vx.ulen;
  for (const a of [vx.src, vx.dst]) for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1];
  return csum(b, vx.udp, vx.ulen, s) === 0;
}

/** The outer headers of an encapsulated frame over IPv4, as hex strings and numbers. */
export interface Outer4 {
  dstMac: string;
  srcMac: string;
  ip: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  udpLen: number;
  udpCsum: number;
  vx: string;
}

/** The outer headers of the encapsulated frame at o, field by field. */
export function outer4(b: Uint8Array, o: number): Outer4 {
  return {
    dstMac: hex(b.subarray(o, o + 6)),
    srcMac: hex(b.subarray(o + 6, o + 12)),
    ip: hex(b.subarray(o + 12, o + 24)),
    src: hex(b.subarray(o + 26, o + 30)),
    dst: hex(b.subarray(o + 30, o + 34)),
    sport: g16(b, o + 34),
    dport: g16(b, o + 36),
    udpLen: g16(b, o + 38),
    udpCsum: g16(b, o + 40),
    vx: hex(b.subarray(o + 42, o + 50)),
  };
}
