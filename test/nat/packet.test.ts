// natParse on the views' checks and the pipeline's ipv6Walk: the verdicts that follow from
// them (IPv4 header bounds, quoted headers, AH walked then refused, atomic fragments, chain length).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatPacket, natParse, NAT_VERDICT_NAMES } from '../../src/nat/packet.js';
import { put16 } from '../../src/wire/bytes.js';
import { IPV4_CSUM, IPV4_TOTLEN } from '../../src/wire/ipv4.js';
import {
  IPV6_HLEN,
  IPV6_NEXT,
  IPV6_PAYLOAD_LEN,
  IPV6_MAX_EXT_HEADERS,
  NH_AH,
  NH_DEST_OPTS,
  NH_FRAGMENT,
  NH_ROUTING,
} from '../../src/wire/ipv6.js';
import { UDP_LEN } from '../../src/wire/udp.js';
import { buildPacket, buildIcmpError, type L4Kind } from './build.js';
import { ip } from './flows.js';

const p = new NatPacket();
const verdict = (b: Uint8Array): string => NAT_VERDICT_NAMES[natParse(b, 0, b.length, p)]!;

function packet(family: 4 | 6, kind: L4Kind = 'udp', payload = 16): Uint8Array {
  const [src, dst] =
    family === 4 ? [ip('198.19.1.10'), ip('198.18.200.10')] : [ip('2001:db8:19:1::a'), ip('2001:db8:18:200::10')];
  return buildPacket({ family, kind, src, dst, sport: 40000, dport: 53, payload: new Uint8Array(payload) });
}

const PADN = [1, 4, 0, 0, 0, 0];
const AH_LEN = 24; // payload length 4: (4 + 2) * 4 bytes, a 12-byte ICV

/** One extension header: AH, or 8 bytes of next header, length 0 and six bytes of body. */
function header(type: number, next: number, body: number[]): number[] {
  if (type === NH_AH) return [next, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, ...new Array<number>(12).fill(0)];
  return [next, 0, ...body];
}

/** The IPv6 packet with extension headers of the given types spliced in before its upper layer. */
function withChain(b: Uint8Array, types: number[], body: (type: number) => number[] = () => PADN): Uint8Array {
  const hdrs: number[] = [];
  for (let i = 0; i < types.length; i++) {
    hdrs.push(...header(types[i]!, i + 1 < types.length ? types[i + 1]! : b[IPV6_NEXT]!, body(types[i]!)));
  }
  const out = new Uint8Array(b.length + hdrs.length);
  out.set(b.subarray(0, IPV6_HLEN));
  out.set(hdrs, IPV6_HLEN);
  out.set(b.subarray(IPV6_HLEN), IPV6_HLEN + hdrs.length);
  if (types.length > 0) out[IPV6_NEXT] = types[0]!;
  put16(out, IPV6_PAYLOAD_LEN, out.length - IPV6_HLEN);
  return out;
}

test("IPv4: a header that fails ipv4HeaderCheck is badIp; its checksum is the pipeline's to verify", () => {
  const good = packet(4);
  assert.equal(verdict(good), 'ok');
  const csum = good.slice();
  csum[IPV4_CSUM] ^= 0x80;
  assert.equal(verdict(csum), 'ok');
  const total = good.slice();
  put16(total, IPV4_TOTLEN, 19);
  assert.equal(verdict(total), 'badIp');
  assert.equal(verdict(good.subarray(0, 19)), 'truncated');
});

test('ICMPv4 errors: the quoted header passes ipv4QuoteCheck (its checksum is not ours to verify)', () => {
  const inner = packet(4, 'udp', 40);
  const quote = (mutate: (q: Uint8Array) => void): Uint8Array => {
    const q = inner.slice();
    mutate(q);
    return buildIcmpError(4, ip('198.18.0.254'), ip('198.19.1.10'), 3, 3, q, 28);
  };
  assert.equal(verdict(quote(() => {})), 'icmpError');
  assert.equal(
    verdict(
      quote((q) => {
        q[IPV4_CSUM] ^= 0x80;
      }),
    ),
    'icmpError',
  );
  assert.equal(verdict(quote((q) => put16(q, IPV4_TOTLEN, 19))), 'icmpInnerBad');
  assert.equal(
    verdict(
      quote((q) => {
        q[0] = 0x4f;
      }),
    ),
    'icmpInnerBad',
    'a header longer than the quote',
  );
});

test('IPv6: AH is walked past like the pipeline does, and the packet refused', () => {
  const b = packet(6);
  assert.equal(verdict(withChain(b, [NH_AH])), 'unsupportedProto');
  assert.equal(verdict(withChain(b, [NH_DEST_OPTS, NH_AH])), 'unsupportedProto');
  // Past the AH the chain must still be sound.
  const broken = withChain(b, [NH_AH, NH_DEST_OPTS]);
  broken[IPV6_HLEN + AH_LEN + 1] = 200; // the destination options now run past the packet
  assert.equal(verdict(broken), 'badExtHeader');
  // An error quoting a packet behind an AH: no flow of ours (we never translate those).
  const err = buildIcmpError(6, ip('2001:db8:18::fe'), ip('2001:db8:19:1::a'), 1, 4, withChain(b, [NH_AH]), 100);
  assert.equal(verdict(err), 'icmpInnerBad');
});

test('IPv6: routing headers refuse only with segments left; quoted, the same', () => {
  const b = packet(6);
  const segmentsLeft =
    (n: number) =>
    (t: number): number[] =>
      t === NH_ROUTING ? [0, n, 0, 0, 0, 0] : PADN;
  assert.equal(verdict(withChain(b, [NH_ROUTING], segmentsLeft(0))), 'ok');
  assert.equal(verdict(withChain(b, [NH_ROUTING], segmentsLeft(1))), 'routingHeader');
  assert.equal(verdict(withChain(b, [NH_DEST_OPTS, NH_ROUTING], segmentsLeft(2))), 'routingHeader');
  assert.equal(verdict(withChain(b, [NH_AH, NH_ROUTING], segmentsLeft(1))), 'routingHeader', 'was unsupportedProto');
  const overrun = withChain(b, [NH_ROUTING, NH_DEST_OPTS], segmentsLeft(1));
  overrun[IPV6_HLEN + 8 + 1] = 200;
  assert.equal(verdict(overrun), 'badExtHeader', 'the whole chain is walked first (was routingHeader)');
  const quoted = withChain(b, [NH_ROUTING], segmentsLeft(1));
  const err = buildIcmpError(6, ip('2001:db8:18::fe'), ip('2001:db8:19:1::a'), 1, 4, quoted, 100);
  assert.equal(verdict(err), 'icmpInnerBad');
});

test(`IPv6: at most IPV6_MAX_EXT_HEADERS (${IPV6_MAX_EXT_HEADERS}) extension headers, as the pipeline allows`, () => {
  const b = packet(6);
  assert.equal(verdict(withChain(b, new Array<number>(IPV6_MAX_EXT_HEADERS).fill(NH_DEST_OPTS))), 'ok');
  assert.equal(verdict(withChain(b, new Array<number>(IPV6_MAX_EXT_HEADERS + 1).fill(NH_DEST_OPTS))), 'badExtHeader');
  // A later fragment counts too (was laterFragment when it was the ninth).
  const later = (t: number): number[] => (t === NH_FRAGMENT ? [0, 24, 0, 0, 0, 7] : PADN);
  const chain = new Array<number>(IPV6_MAX_EXT_HEADERS - 1).fill(NH_DEST_OPTS);
  assert.equal(verdict(withChain(b, [...chain, NH_FRAGMENT], later)), 'laterFragment');
  assert.equal(verdict(withChain(b, [...chain, NH_DEST_OPTS, NH_FRAGMENT], later)), 'badExtHeader');
});

test('IPv6 fragments: an atomic fragment is a whole datagram, a first fragment only its start', () => {
  const b = packet(6, 'udp', 40);
  const frag = (offset: number, m: number): Uint8Array =>
    withChain(b, [NH_FRAGMENT], () => [offset >> 5, ((offset << 3) & 0xff) | m, 0, 0, 0, 7]);
  assert.equal(verdict(frag(0, 0)), 'ok');
  assert.equal(p.firstFragment, false);
  assert.equal(verdict(frag(0, 1)), 'ok');
  assert.equal(p.firstFragment, true);
  assert.equal(verdict(frag(3, 1)), 'laterFragment');
  assert.equal(verdict(frag(3, 0)), 'laterFragment');
  // A UDP length beyond the packet: wrong for a whole datagram, expected of a first fragment.
  for (const [m, want] of [
    [0, 'badL4'],
    [1, 'ok'],
  ] as const) {
    const f = frag(0, m);
    put16(f, IPV6_HLEN + 8 + UDP_LEN, 200);
    assert.equal(verdict(f), want, `M ${m}`);
  }
});
