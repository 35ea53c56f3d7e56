// NAT test helpers (not a test file): fixtures, address words, from-scratch checksum checks.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAddress } from '../../src/wire/addr.js';
import { get16 } from '../../src/wire/bytes.js';
import { checksum, sum16, finish, pseudoSum4, pseudoSum6 } from '../../src/wire/checksum.js';
import { type NatPacket, CSUM_TCP, CSUM_UDP, CSUM_ICMP6 } from '../../src/nat/packet.js';

export interface RewriteCase {
  name: string;
  op: 'src' | 'dst' | 'icmp-dst' | 'icmp-src' | 'none';
  family: 4 | 6;
  verdict: string;
  in: string;
  out?: string;
  addr?: string;
  port?: number;
}

export const REWRITES: readonly RewriteCase[] = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/nat/rewrites.json', import.meta.url)), 'utf8'),
) as RewriteCase[];

export function hex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Address text → 4 big-endian words (IPv4 in the first). */
export function addrWords(text: string): Int32Array {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return bytesWords(a.bytes);
}

export function bytesWords(b: Uint8Array): Int32Array {
  const w = new Int32Array(4);
  for (let i = 0; i < b.length; i += 4) w[i >> 2] = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
  return w;
}

/**
 * Checks every checksum natParse's view of the packet covers, from scratch: the IPv4 header,
 * the L4 checksum when the whole segment is present (not a first fragment), and for an ICMP
 * error the outer ICMP checksum and the quoted IPv4 header. Returns the names of bad ones.
 */
export function badChecksums(b: Uint8Array, p: NatPacket, icmpError: boolean): string[] {
  const bad: string[] = [];
  if (p.family === 4 && checksum(b, p.ipOff, (b[p.ipOff]! & 15) << 2) !== 0) bad.push('ipv4');
  if (!p.firstFragment && p.csumOff >= 0) {
    const len = p.end - p.l4Off;
    let s: number;
    if (p.csumKind === CSUM_TCP || p.csumKind === CSUM_UDP || p.csumKind === CSUM_ICMP6) {
      const proto = p.proto;
      s = p.family === 4 ? pseudoSum4(b, p.ipOff, proto, len) : pseudoSum6(b, p.ipOff, proto, len);
    } else s = 0;
    const zeroUdp4 = p.csumKind === CSUM_UDP && p.family === 4 && get16(b, p.csumOff) === 0;
    if (!zeroUdp4 && finish(sum16(b, p.l4Off, len, s)) !== 0) bad.push('l4');
    if (icmpError && p.family === 4) {
      if (checksum(b, p.innerIpOff, (b[p.innerIpOff]! & 15) << 2) !== 0) bad.push('inner ipv4');
    }
  }
  return bad;
}

/**
 * Fields whose stored checksum differs from one computed from scratch (the field zeroed):
 * the IPv4 header and the L4 checksum of a complete segment. UDP's "computed zero is sent as
 * 0xffff" and IPv4's "zero is no checksum" are honoured.
 */
export function scratchMismatches(b: Uint8Array, p: NatPacket): string[] {
  const bad: string[] = [];
  const c = b.slice();
  if (p.family === 4) {
    const hl = (c[p.ipOff]! & 15) << 2;
    c[p.ipOff + 10] = 0;
    c[p.ipOff + 11] = 0;
    if (checksum(c, p.ipOff, hl) !== get16(b, p.ipOff + 10)) bad.push('ipv4');
  }
  if (!p.firstFragment && p.csumOff >= 0) {
    const stored = get16(b, p.csumOff);
    if (p.csumKind === CSUM_UDP && p.family === 4 && stored === 0) return bad;
    c[p.csumOff] = 0;
    c[p.csumOff + 1] = 0;
    const len = p.end - p.l4Off;
    const ph =
      p.csumKind === CSUM_TCP || p.csumKind === CSUM_UDP || p.csumKind === CSUM_ICMP6
        ? p.family === 4
          ? pseudoSum4(c, p.ipOff, p.proto, len)
          : pseudoSum6(c, p.ipOff, p.proto, len)
        : 0;
    let want = finish(sum16(c, p.l4Off, len, ph));
    if (want === 0 && p.csumKind === CSUM_UDP) want = 0xffff;
    if (want !== stored) bad.push(`l4 ${stored.toString(16)} != ${want.toString(16)}`);
  }
  return bad;
}
