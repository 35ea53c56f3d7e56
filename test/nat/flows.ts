// Builds parsed packets for the conntrack tests (not a test file).
import { NatPacket, natParse, NAT_OK, NAT_ICMP_ERROR } from '../../src/nat/packet.js';
import { parseAddress } from '../../src/wire/addr.js';
import { put16 } from '../../src/wire/bytes.js';
import { checksum } from '../../src/wire/checksum.js';
import { buildPacket, buildIcmpError, type L4Kind } from './build.js';

export function ip(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.bytes;
}

/** A parsed packet: its bytes (IP at offset 0) and the NatPacket natParse filled. */
export interface Parsed {
  b: Uint8Array;
  p: NatPacket;
}

export function pkt(kind: L4Kind, src: string, sport: number, dst: string, dport: number, tcpFlags = 0x10): Parsed {
  const s = ip(src);
  const b = buildPacket({
    family: s.length === 4 ? 4 : 6,
    kind,
    src: s,
    dst: ip(dst),
    sport,
    dport,
    payload: new Uint8Array(4),
  });
  if (kind === 'tcp') {
    const l4 = s.length === 4 ? 20 : 40;
    b[l4 + 13] = tcpFlags; // the checksum does not matter to conntrack
  }
  const p = new NatPacket();
  if (natParse(b, 0, b.length, p) !== NAT_OK) throw new Error('test packet did not parse');
  return { b, p };
}

/** An ICMP error (destination unreachable) from `from` to `to` quoting the packet `inner`. */
export function icmpError(from: string, to: string, inner: Parsed): Parsed {
  const f = ip(from);
  const b = buildIcmpError(
    f.length === 4 ? 4 : 6,
    f,
    ip(to),
    f.length === 4 ? 3 : 1,
    f.length === 4 ? 3 : 4,
    inner.b,
    64,
  );
  if (f.length === 4) {
    put16(b, 10, 0);
    put16(b, 10, checksum(b, 0, 20));
  }
  const p = new NatPacket();
  if (natParse(b, 0, b.length, p) !== NAT_ICMP_ERROR) throw new Error('test ICMP error did not parse');
  return { b, p };
}
