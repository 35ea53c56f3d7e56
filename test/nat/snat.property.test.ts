// Properties of the NAT rewrites over random packets: translating and translating back gives
// the original bytes; every checksum verifies from scratch after each rewrite; bytes outside
// the IP packet are never touched; hostile bytes never make the parser or a rewrite throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NatPacket, natParse, NAT_OK, NAT_ICMP_ERROR, NAT_VERDICT_NAMES } from '../../src/nat/packet.js';
import {
  natRewriteSource,
  natRewriteDestination,
  natRewriteIcmpError,
  addrToWords,
  SIDE_SRC,
  SIDE_DST,
} from '../../src/nat/snat.js';
import { buildPacket, buildIcmpError, inFrame, type L4Kind } from './build.js';
import { badChecksums, scratchMismatches, bytesWords, REWRITES, hex } from './helpers.js';

const RUNS = 3000;
const addr = (family: 4 | 6) => fc.uint8Array({ minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 });
const port = fc.integer({ min: 0, max: 0xffff });

const packetArb = fc.constantFrom<4 | 6>(4, 6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    kind: fc.constantFrom<L4Kind>('tcp', 'udp', 'echo', 'echoReply'),
    src: addr(family),
    dst: addr(family),
    sport: port,
    dport: port,
    payload: fc.uint8Array({ maxLength: 300 }),
    udpZero: fc.boolean(),
    optionWords: fc.integer({ min: 0, max: 10 }),
    destOpts: fc.boolean(),
    newAddr: addr(family),
    newPort: port,
    head: fc.integer({ min: 0, max: 40 }),
    tail: fc.integer({ min: 0, max: 8 }),
  }),
);

function outsideUnchanged(before: Uint8Array, after: Uint8Array, from: number, to: number): boolean {
  for (let i = 0; i < before.length; i++) if ((i < from || i >= to) && before[i] !== after[i]) return false;
  return true;
}

test('translate then translate back returns the original; checksums verify after each rewrite', () => {
  const p = new NatPacket();
  const orig = new Int32Array(4);
  fc.assert(
    fc.property(packetArb, (s) => {
      const pkt = buildPacket(s);
      const frame = inFrame(pkt, s.head, s.tail);
      const before = frame.slice();
      assert.equal(natParse(frame, s.head, frame.length - s.head, p), NAT_OK);
      assert.deepEqual(badChecksums(frame, p, false), []);
      // The side that carries the port (an echo reply carries its identifier as destination).
      const bySource = s.kind !== 'echoReply';
      const rewrite = bySource ? natRewriteSource : natRewriteDestination;
      addrToWords(frame, bySource ? p.srcOff : p.dstOff, s.family, orig, 0);
      const origPort = bySource ? p.sport : p.dport;
      rewrite(frame, p, bytesWords(s.newAddr), 0, s.newPort);
      assert.deepEqual(badChecksums(frame, p, false), [], 'after the rewrite');
      assert.deepEqual(scratchMismatches(frame, p), [], 'equal to checksums computed from scratch');
      assert.ok(outsideUnchanged(before, frame, s.head, s.head + pkt.length), 'bytes outside the packet changed');
      assert.equal(natParse(frame, s.head, frame.length - s.head, p), NAT_OK);
      assert.equal(bySource ? p.sport : p.dport, s.newPort);
      rewrite(frame, p, orig, 0, origPort);
      assert.deepEqual(frame, before);
    }),
    { numRuns: RUNS },
  );
});

const errorArb = fc.constantFrom<4 | 6>(4, 6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    kind: fc.constantFrom<L4Kind>('tcp', 'udp', 'echo'),
    // The translated packet as it left: source = egress IP / port.
    egress: addr(family),
    remote: addr(family),
    router: addr(family),
    endpoint: addr(family),
    sport: port,
    dport: port,
    endpointPort: port,
    newPort: port,
    payload: fc.uint8Array({ maxLength: 200 }),
    udpZero: fc.boolean(),
    optionWords: fc.integer({ min: 0, max: 10 }),
    destOpts: fc.boolean(),
    quoteExtra: fc.integer({ min: 8, max: 400 }),
    type: fc.constantFrom(0, 1, 2),
    head: fc.integer({ min: 0, max: 40 }),
  }),
);

test('ICMP errors: translate (either side) and back returns the original; outer and inner checksums verify', () => {
  const p = new NatPacket();
  const types4: Array<[number, number]> = [
    [3, 3],
    [3, 4],
    [11, 0],
  ];
  const types6: Array<[number, number]> = [
    [1, 4],
    [2, 0],
    [3, 0],
  ];
  fc.assert(
    fc.property(errorArb, fc.boolean(), (s, fromOutside) => {
      // fromOutside: an error from a router about what the egress IP sent (SIDE_DST); otherwise
      // an error the endpoint sends about a reply it got (SIDE_SRC): inner dst is the endpoint.
      const inner = buildPacket(
        fromOutside
          ? {
              family: s.family,
              kind: s.kind,
              src: s.egress,
              dst: s.remote,
              sport: s.sport,
              dport: s.dport,
              payload: s.payload,
              udpZero: s.udpZero,
              optionWords: s.optionWords,
              destOpts: s.destOpts,
            }
          : {
              family: s.family,
              kind: s.kind === 'echo' ? 'echoReply' : s.kind,
              src: s.remote,
              dst: s.endpoint,
              sport: s.dport,
              dport: s.endpointPort,
              payload: s.payload,
              udpZero: s.udpZero,
              optionWords: s.optionWords,
              destOpts: s.destOpts,
            },
      );
      const innerHdr = s.family === 4 ? 20 + 4 * s.optionWords : 40 + (s.destOpts ? 8 : 0);
      const [type, code] = (s.family === 4 ? types4 : types6)[s.type]!;
      const pkt = fromOutside
        ? buildIcmpError(s.family, s.router, s.egress, type, code, inner, innerHdr + s.quoteExtra)
        : buildIcmpError(s.family, s.endpoint, s.remote, type, code, inner, innerHdr + s.quoteExtra);
      const frame = inFrame(pkt, s.head, 4);
      const before = frame.slice();
      const v = natParse(frame, s.head, frame.length - s.head, p);
      assert.equal(NAT_VERDICT_NAMES[v], 'icmpError');
      assert.deepEqual(badChecksums(frame, p, true), []);
      const side = fromOutside ? SIDE_DST : SIDE_SRC;
      const orig = new Int32Array(4);
      addrToWords(frame, fromOutside ? p.dstOff : p.srcOff, s.family, orig, 0);
      const origPort = fromOutside ? p.innerSport : p.innerDport;
      const to = fromOutside ? s.endpoint : s.egress;
      natRewriteIcmpError(frame, p, side, bytesWords(to), 0, s.newPort);
      assert.deepEqual(badChecksums(frame, p, true), [], 'after the rewrite');
      assert.ok(outsideUnchanged(before, frame, s.head, s.head + pkt.length));
      assert.equal(natParse(frame, s.head, frame.length - s.head, p), NAT_ICMP_ERROR);
      assert.equal(fromOutside ? p.innerSport : p.innerDport, s.newPort);
      natRewriteIcmpError(frame, p, side, orig, 0, origPort);
      assert.deepEqual(frame, before);
    }),
    { numRuns: RUNS },
  );
});

test('hostile bytes: the parser never throws or reads past the frame; rewrites stay inside the packet', () => {
  const p = new NatPacket();
  const w = Int32Array.of(0x0a0b0c0d, 1, 2, 3);
  const mutated = fc
    .tuple(packetArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
    .map(([s, edits, cut]) => {
      const f = inFrame(buildPacket(s), s.head, s.tail);
      for (const [i, v] of edits) f[i % f.length] = v;
      return { frame: f.subarray(0, f.length - (cut % Math.min(f.length, 60))), head: s.head };
    });
  const fixtures = fc
    .tuple(
      fc.constantFrom(...REWRITES),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
    )
    .map(([c, edits, cut]) => {
      const f = hex(c.in);
      for (const [i, v] of edits) f[14 + (i % (f.length - 14))] = v;
      return { frame: f.subarray(0, f.length - (cut % 40)), head: 14 };
    });
  const random = fc.record({ frame: fc.uint8Array({ maxLength: 200 }), head: fc.integer({ min: 0, max: 20 }) });
  const seen = new Set<string>();
  fc.assert(
    fc.property(fc.oneof(mutated, fixtures, random), ({ frame, head }) => {
      // A copy the exact length of the frame: an out-of-bounds read gives undefined, which
      // the verdict checks below would turn into a wrong answer, not a silent pass.
      const b = Uint8Array.from(frame);
      const before = b.slice();
      const v = natParse(b, head, b.length - head, p);
      seen.add(NAT_VERDICT_NAMES[v]!);
      if (v === NAT_OK) {
        assert.ok(p.end <= b.length && p.l4Off <= p.end);
        natRewriteSource(b, p, w, 0, 4242);
        natRewriteDestination(b, p, w, 0, 4343);
        assert.ok(outsideUnchanged(before, b, p.ipOff, p.end));
      } else if (v === NAT_ICMP_ERROR) {
        natRewriteIcmpError(b, p, SIDE_DST, w, 0, 4242);
        natRewriteIcmpError(b, p, SIDE_SRC, w, 0, 4343);
        assert.ok(outsideUnchanged(before, b, p.ipOff, p.end));
      }
    }),
    { numRuns: 20000 },
  );
  console.log(`verdicts seen: ${[...seen].sort().join(', ')}`);
  for (const v of ['ok', 'icmpError', 'icmpInnerBad', 'truncated', 'badIp', 'unsupportedProto'])
    assert.ok(seen.has(v), v);
});
