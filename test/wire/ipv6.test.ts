// IPv6 header view and extension-header walk against scapy-crafted frames, hostile
// variants of them, and the RFC 5952 text helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Ipv6Walk,
  ipv6Check,
  ipv6QuoteCheck,
  ipv6Walk,
  ipv6PayloadLen,
  writeIpv6Header,
  ipv6IsMulticast,
  ipv6IsLinkLocal,
  ipv6IsUnspecified,
  writeSolicitedNode,
  parseIpv6,
  formatIpv6,
  IPV6_OK,
  IPV6_TRUNCATED,
  IPV6_BAD_VERSION,
  IPV6_BAD_PAYLOAD_LEN,
  IPV6_BAD_EXT_HEADER,
  IPV6_TOO_MANY_EXT_HEADERS,
  IPV6_MAX_EXT_HEADERS,
  IPV6_HLEN,
  IPV6_NEXT,
  IPV6_HOPS,
  IPV6_SRC,
  IPV6_DST,
  NH_AH,
  NH_DEST_OPTS,
  NH_HOP_BY_HOP,
  NH_ROUTING,
  IPV6_RH_SEGMENTS_LEFT,
  IPV6_FRAG_OFFSET_FLAGS,
  IPV6_FRAG_OFFSET_MASK,
  IPV6_FRAG_M,
} from '../../src/wire/ipv6.js';
import { get16, put16 } from '../../src/wire/bytes.js';
import { framesWith, frame, bytesOf, type Frame } from './frames.js';

const V6 = framesWith('ipv6');

function walk(b: Uint8Array, o: number, end: number): { verdict: number; w: Ipv6Walk } {
  const w = new Ipv6Walk();
  return { verdict: ipv6Walk(b, o, end, w), w };
}

const endOf = (f: Frame & { ipv6: { off: number; plen: number } }): number => f.ipv6.off + IPV6_HLEN + f.ipv6.plen;

test('fixture covers extension-header chains, fragments and AH', () => {
  assert.ok(V6.some((f) => f.ipv6.ext.length === 3));
  assert.ok(V6.some((f) => f.ipv6.fragment && !f.ipv6.later_fragment));
  assert.ok(V6.some((f) => f.ipv6.later_fragment));
  assert.ok(V6.some((f) => f.ipv6.ext.some((e) => e.nh === NH_AH)));
});

test('views read exactly what scapy wrote', () => {
  for (const f of V6) {
    const b = bytesOf(f);
    const ip = f.ipv6;
    const o = ip.off;
    const m = f.name;
    assert.equal(b[o] >>> 4, ip.version, m);
    assert.equal(((b[o] & 0x0f) << 4) | (b[o + 1] >>> 4), ip.tc, m);
    assert.equal(((b[o + 1] & 0x0f) << 16) | get16(b, o + 2), ip.fl, m);
    assert.equal(ipv6PayloadLen(b, o), ip.plen, m);
    assert.equal(b[o + IPV6_NEXT], ip.nh, m);
    assert.equal(b[o + IPV6_HOPS], ip.hlim, m);
    assert.equal(formatIpv6(b, o + IPV6_SRC), ip.src, m);
    assert.equal(formatIpv6(b, o + IPV6_DST), ip.dst, m);
    assert.deepEqual(parseIpv6(ip.src), b.slice(o + IPV6_SRC, o + IPV6_SRC + 16), m);
    assert.deepEqual(parseIpv6(ip.dst), b.slice(o + IPV6_DST, o + IPV6_DST + 16), m);
  }
});

test('ipv6Check accepts every good packet', () => {
  for (const f of V6) {
    const b = bytesOf(f);
    assert.equal(ipv6Check(b, f.ipv6.off, b.length - f.ipv6.off), IPV6_OK, f.name);
  }
});

test('ipv6Walk finds the upper layer scapy found, through every chain', () => {
  for (const f of V6) {
    const b = bytesOf(f);
    const { verdict, w } = walk(b, f.ipv6.off, endOf(f));
    assert.equal(verdict, IPV6_OK, f.name);
    assert.equal(w.l4Off, f.ipv6.l4_off, f.name);
    assert.equal(w.proto, f.ipv6.l4_proto, f.name);
    assert.equal(w.extHeaders, f.ipv6.ext.length, f.name);
    assert.equal(w.fragment, f.ipv6.fragment, f.name);
    assert.equal(w.laterFragment, f.ipv6.later_fragment, f.name);
  }
});

test('extension-header length encodings: 8-octet units + 1, AH 4-octet units + 2', () => {
  for (const f of V6) {
    const b = bytesOf(f);
    for (const e of f.ipv6.ext) {
      const len = e.nh === NH_AH ? (b[e.off + 1] + 2) * 4 : e.nh === 44 ? 8 : (b[e.off + 1] + 1) * 8;
      assert.equal(len, e.len, `${f.name} header ${e.nh}`);
    }
  }
  const ah = frame('ipv6-ah-udp', 'ipv6', 'udp');
  assert.equal(bytesOf(ah)[ah.ipv6.ext[0].off + 1], 4, 'AH payload length field is 4 for 24 bytes');
});

test('a walk object is fully reset between packets', () => {
  const w = new Ipv6Walk();
  for (const name of ['ipv6-frag-later', 'ipv6-frag-first', 'ipv6-udp-routing-in-transit', 'ipv6-ah-udp']) {
    const f = frame(name, 'ipv6');
    assert.equal(ipv6Walk(bytesOf(f), f.ipv6.off, endOf(f), w), IPV6_OK, name);
  }
  const plain = frame('ipv6-icmpv6-echo', 'ipv6', 'icmpv6');
  assert.equal(ipv6Walk(bytesOf(plain), plain.ipv6.off, endOf(plain), w), IPV6_OK);
  assert.deepEqual(
    { ...w },
    {
      l4Off: plain.ipv6.l4_off,
      proto: 58,
      extHeaders: 0,
      fragment: false,
      laterFragment: false,
      moreFragments: false,
      routingPending: false,
      authHeader: false,
    },
  );
});

test('ipv6Walk reports what translators need: segments left, AH, the M flag', () => {
  for (const f of V6) {
    const { verdict, w } = walk(bytesOf(f), f.ipv6.off, endOf(f));
    assert.equal(verdict, IPV6_OK, f.name);
    // scapy's checksum used another destination than the header's: a route is still pending.
    assert.equal(w.routingPending, f.ipv6.pseudo_dst !== f.ipv6.dst, f.name);
    assert.equal(
      w.authHeader,
      f.ipv6.ext.some((e) => e.nh === NH_AH),
      f.name,
    );
  }
  assert.ok(
    V6.some((f) => f.ipv6.pseudo_dst !== f.ipv6.dst),
    'fixture has a routing header in transit',
  );
  assert.ok(
    V6.some((f) => f.ipv6.ext.some((e) => e.nh === NH_ROUTING) && f.ipv6.pseudo_dst === f.ipv6.dst),
    'fixture has a routing header with no segments left',
  );
  const first = frame('ipv6-frag-first', 'ipv6', 'udp');
  assert.equal(walk(bytesOf(first), first.ipv6.off, endOf(first)).w.moreFragments, true);
});

test('ipv6Walk: fragment offset and M flag, all four ways', () => {
  const f = frame('ipv6-frag-first', 'ipv6', 'udp');
  const at = f.ipv6.ext[0].off + IPV6_FRAG_OFFSET_FLAGS;
  for (const [offset, m] of [
    [0, 1],
    [0, 0],
    [9, 1],
    [9, 0],
  ]) {
    const b = bytesOf(f);
    put16(b, at, (get16(b, at) & ~(IPV6_FRAG_OFFSET_MASK | IPV6_FRAG_M)) | (offset << 3) | m);
    const { verdict, w } = walk(b, f.ipv6.off, endOf(f));
    const name = `offset ${offset} M ${m}`;
    assert.equal(verdict, IPV6_OK, name);
    assert.equal(w.fragment, true, name);
    assert.equal(w.laterFragment, offset !== 0, name);
    assert.equal(w.moreFragments, m === 1, name);
    assert.equal(w.l4Off, f.ipv6.l4_off, name);
  }
});

test('ipv6Walk: segments left in any routing header of the chain; none read past a later fragment', () => {
  const f = frame('ipv6-udp-ext-chain', 'ipv6', 'udp');
  const rh = f.ipv6.ext.find((e) => e.nh === NH_ROUTING)!;
  const b = bytesOf(f);
  assert.equal(b[rh.off + IPV6_RH_SEGMENTS_LEFT], 0);
  assert.equal(walk(b, f.ipv6.off, endOf(f)).w.routingPending, false);
  b[rh.off + IPV6_RH_SEGMENTS_LEFT] = 1;
  assert.equal(walk(b, f.ipv6.off, endOf(f)).w.routingPending, true);

  const later = frame('ipv6-frag-later', 'ipv6');
  const l = bytesOf(later);
  l[later.ipv6.ext[0].off] = NH_ROUTING; // fragment data that looks like a routing header in transit
  l.fill(1, later.ipv6.l4_off);
  const { verdict, w } = walk(l, later.ipv6.off, endOf(later));
  assert.equal(verdict, IPV6_OK);
  assert.equal(w.routingPending, false);
  assert.equal(w.proto, NH_ROUTING);
});

test('ipv6QuoteCheck: a quoted packet cut short of its payload length passes, and walks within the quote', () => {
  const f = frame('ipv6-icmpv6-ptb', 'ipv6', 'icmpv6');
  const b = bytesOf(f);
  const qo = f.icmpv6.quote_off!;
  const quoteEnd = qo + f.icmpv6.quote_bytes!;
  assert.equal(quoteEnd, b.length);
  assert.ok(IPV6_HLEN + ipv6PayloadLen(b, qo) > quoteEnd - qo, 'the quote is cut short');
  assert.equal(ipv6Check(b, qo, quoteEnd - qo), IPV6_BAD_PAYLOAD_LEN);
  assert.equal(ipv6QuoteCheck(b, qo, quoteEnd - qo), IPV6_OK);
  const { verdict, w } = walk(b, qo, quoteEnd);
  assert.equal(verdict, IPV6_OK);
  assert.equal(w.l4Off, qo + IPV6_HLEN);
  for (let avail = 0; avail < IPV6_HLEN; avail++) {
    assert.equal(ipv6QuoteCheck(b.slice(0, qo + avail), qo, avail), IPV6_TRUNCATED, `${avail} bytes`);
  }
  b[qo] = 0x45;
  assert.equal(ipv6QuoteCheck(b, qo, quoteEnd - qo), IPV6_BAD_VERSION);
});

test('ipv6QuoteCheck is ipv6Check without the payload length', () => {
  for (const f of V6) {
    const full = bytesOf(f);
    const o = f.ipv6.off;
    for (let cut = o; cut <= full.length; cut++) {
      const b = full.slice(0, cut);
      const whole = ipv6Check(b, o, cut - o);
      const want = whole === IPV6_BAD_PAYLOAD_LEN ? IPV6_OK : whole;
      assert.equal(ipv6QuoteCheck(b, o, cut - o), want, `${f.name} cut ${cut}`);
    }
  }
});

test('writeIpv6Header reproduces scapy headers byte for byte', () => {
  for (const f of V6.filter((x) => x.ipv6.tc === 0 && x.ipv6.fl === 0)) {
    const b = bytesOf(f);
    const ip = f.ipv6;
    const out = new Uint8Array(ip.off + 40);
    writeIpv6Header(out, ip.off, ip.plen, ip.nh, ip.hlim, parseIpv6(ip.src)!, 0, parseIpv6(ip.dst)!, 0);
    assert.deepEqual(out.subarray(ip.off), b.subarray(ip.off, ip.off + 40), f.name);
  }
});

test('address classes and the solicited-node group of the NS target', () => {
  const ns = frame('ipv6-nd-ns', 'ipv6', 'icmpv6');
  const b = bytesOf(ns);
  const o = ns.ipv6.off;
  assert.equal(ipv6IsMulticast(b, o + IPV6_DST), true);
  assert.equal(ipv6IsMulticast(b, o + IPV6_SRC), false);
  const group = new Uint8Array(16).fill(0xee);
  writeSolicitedNode(group, 0, parseIpv6(ns.icmpv6.target!)!, 0);
  assert.deepEqual(group, b.slice(o + IPV6_DST, o + IPV6_DST + 16));

  const dad = frame('ipv6-nd-ns-dad', 'ipv6', 'icmpv6');
  const d = bytesOf(dad);
  assert.equal(ipv6IsUnspecified(d, dad.ipv6.off + IPV6_SRC), true);
  assert.equal(ipv6IsUnspecified(d, dad.ipv6.off + IPV6_DST), false);
  assert.equal(ipv6IsLinkLocal(d, dad.icmpv6.off + 8), true, 'the DAD target is fe80::/10');
  assert.equal(ipv6IsLinkLocal(b, o + IPV6_SRC), false);
  assert.equal(ipv6IsLinkLocal(parseIpv6('febf::1')!, 0), true);
  assert.equal(ipv6IsLinkLocal(parseIpv6('fec0::1')!, 0), false);
});

// ---- hostile variants ----

test('ipv6Check: truncated at every length, never throws', () => {
  for (const f of V6) {
    const full = bytesOf(f);
    const o = f.ipv6.off;
    for (let cut = 0; cut <= full.length; cut++) {
      const avail = cut - o;
      const expected =
        avail < IPV6_HLEN ? IPV6_TRUNCATED : avail < IPV6_HLEN + f.ipv6.plen ? IPV6_BAD_PAYLOAD_LEN : IPV6_OK;
      assert.equal(ipv6Check(full.slice(0, cut), o, avail), expected, `${f.name} cut at ${cut}`);
    }
  }
});

test('ipv6Check: wrong version and payload length too big', () => {
  for (const f of V6) {
    const o = f.ipv6.off;
    for (let v = 0; v < 16; v++) {
      if (v === 6) continue;
      const b = bytesOf(f);
      b[o] = (v << 4) | (b[o] & 0x0f);
      assert.equal(ipv6Check(b, o, b.length - o), IPV6_BAD_VERSION, `${f.name} v${v}`);
    }
    for (const plen of [f.ipv6.plen + 1, 0xffff]) {
      const b = bytesOf(f);
      put16(b, o + 4, plen);
      assert.equal(ipv6Check(b, o, b.length - o), IPV6_BAD_PAYLOAD_LEN, `${f.name} plen ${plen}`);
    }
  }
});

test('ipv6Walk: an extension-header chain overrunning the packet', () => {
  for (const f of V6.filter((x) => x.ipv6.ext.length > 0)) {
    const full = bytesOf(f);
    const o = f.ipv6.off;
    for (let end = o + IPV6_HLEN; end <= endOf(f); end++) {
      // Truncate for real: a shorter buffer whose payload length agrees, so ipv6Check passes.
      const b = full.slice(0, end);
      put16(b, o + 4, end - o - IPV6_HLEN);
      assert.equal(ipv6Check(b, o, b.length - o), IPV6_OK);
      const { verdict } = walk(b, o, end);
      assert.equal(verdict, end < f.ipv6.l4_off ? IPV6_BAD_EXT_HEADER : IPV6_OK, `${f.name} end ${end}`);
    }
    // Inflate each header's length byte so that it runs past the end.
    for (const e of f.ipv6.ext.filter((x) => x.nh !== 44)) {
      const b = bytesOf(f);
      b[e.off + 1] = 0xff;
      assert.equal(walk(b, o, endOf(f)).verdict, IPV6_BAD_EXT_HEADER, `${f.name} inflated ${e.nh}`);
    }
  }
});

test('ipv6Walk: hop-by-hop anywhere but first is rejected', () => {
  const f = frame('ipv6-udp-ext-chain', 'ipv6', 'udp');
  const [hbh, dst] = f.ipv6.ext;
  assert.equal(hbh.nh, NH_HOP_BY_HOP);
  assert.equal(dst.nh, NH_DEST_OPTS);
  const o = f.ipv6.off;

  const second = bytesOf(f);
  second[hbh.off] = NH_HOP_BY_HOP; // HBH -> HBH
  assert.equal(walk(second, o, endOf(f)).verdict, IPV6_BAD_EXT_HEADER);

  const third = bytesOf(f);
  third[dst.off] = NH_HOP_BY_HOP; // HBH -> DST -> HBH (the routing header's bytes)
  assert.equal(walk(third, o, endOf(f)).verdict, IPV6_BAD_EXT_HEADER);

  const afterDst = bytesOf(f);
  afterDst[o + IPV6_NEXT] = NH_DEST_OPTS; // DST first, then HBH: read the HBH bytes as DST, then
  afterDst[hbh.off] = NH_HOP_BY_HOP; // they point at the DST header's bytes as HBH
  assert.equal(walk(afterDst, o, endOf(f)).verdict, IPV6_BAD_EXT_HEADER);
});

/** The ICMPv6 echo frame with n 8-byte destination-options headers spliced in front of ICMPv6. */
function withDestOpts(n: number): { b: Uint8Array; o: number; end: number; l4Off: number } {
  const f = frame('ipv6-icmpv6-echo', 'ipv6', 'icmpv6');
  const src = bytesOf(f);
  const o = f.ipv6.off;
  const l4 = src.subarray(f.ipv6.l4_off);
  const b = new Uint8Array(o + IPV6_HLEN + 8 * n + l4.length);
  b.set(src.subarray(0, o + IPV6_HLEN));
  b[o + IPV6_NEXT] = n > 0 ? NH_DEST_OPTS : 58;
  for (let i = 0; i < n; i++) {
    const p = o + IPV6_HLEN + 8 * i;
    b.set([i === n - 1 ? 58 : NH_DEST_OPTS, 0, 1, 4, 0, 0, 0, 0], p); // next, len 0, PadN(4)
  }
  b.set(l4, o + IPV6_HLEN + 8 * n);
  put16(b, o + 4, b.length - o - IPV6_HLEN);
  return { b, o, end: b.length, l4Off: o + IPV6_HLEN + 8 * n };
}

test(`ipv6Walk: up to IPV6_MAX_EXT_HEADERS (${IPV6_MAX_EXT_HEADERS}) headers pass, more are rejected`, () => {
  for (let n = 0; n <= IPV6_MAX_EXT_HEADERS + 3; n++) {
    const { b, o, end, l4Off } = withDestOpts(n);
    assert.equal(ipv6Check(b, o, end - o), IPV6_OK);
    const { verdict, w } = walk(b, o, end);
    if (n <= IPV6_MAX_EXT_HEADERS) {
      assert.equal(verdict, IPV6_OK, `${n} headers`);
      assert.equal(w.extHeaders, n);
      assert.equal(w.l4Off, l4Off);
      assert.equal(w.proto, 58);
    } else {
      assert.equal(verdict, IPV6_TOO_MANY_EXT_HEADERS, `${n} headers`);
    }
  }
  const { b, o } = withDestOpts(200);
  assert.equal(walk(b, o, b.length).verdict, IPV6_TOO_MANY_EXT_HEADERS);
});

test('ipv6Walk: nothing after a later fragment is parsed, a first fragment is walked through', () => {
  const later = frame('ipv6-frag-later', 'ipv6');
  const b = bytesOf(later);
  // Claim a destination-options header follows, with fragment data that would overrun as one.
  b[later.ipv6.ext[0].off] = NH_DEST_OPTS;
  b.fill(0xff, later.ipv6.l4_off);
  const { verdict, w } = walk(b, later.ipv6.off, endOf(later));
  assert.equal(verdict, IPV6_OK);
  assert.equal(w.l4Off, later.ipv6.l4_off);
  assert.equal(w.proto, NH_DEST_OPTS);
  assert.equal(w.extHeaders, 1);
  assert.equal(w.laterFragment, true);

  const first = frame('ipv6-frag-first', 'ipv6', 'udp');
  const f = bytesOf(first);
  f[first.ipv6.ext[0].off] = NH_HOP_BY_HOP; // the fragment header now points at a misplaced HBH
  assert.equal(walk(f, first.ipv6.off, endOf(first)).verdict, IPV6_BAD_EXT_HEADER);
});

test('fuzz: ipv6Walk never throws or reads past end, and OK results are in bounds', () => {
  const seeds = V6.map((f) => ({ b: bytesOf(f), o: f.ipv6.off, end: endOf(f) }));
  const nexts = [0, 43, 44, 51, 60, 135, 6, 17, 58, 59];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...nexts), fc.integer({ min: 0, max: 255 }))), {
        maxLength: 6,
      }),
      fc.nat(),
      (which, edits, cut) => {
        const { b: seed, o, end: fullEnd } = seeds[which];
        const end = o + IPV6_HLEN + (cut % (fullEnd - o - IPV6_HLEN + 1));
        const b = seed.slice(0, end); // nothing beyond end exists to be read
        for (const [at, v] of edits) b[o + 6 + (at % (end - o - 6))] = v;
        const { verdict, w } = walk(b, o, end);
        assert.ok([IPV6_OK, IPV6_BAD_EXT_HEADER, IPV6_TOO_MANY_EXT_HEADERS].includes(verdict));
        if (verdict === IPV6_OK) {
          assert.ok(w.l4Off >= o + IPV6_HLEN && w.l4Off <= end);
          assert.ok(w.extHeaders <= IPV6_MAX_EXT_HEADERS);
          assert.ok(Number.isInteger(w.proto) && w.proto >= 0 && w.proto <= 255);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

// ---- text helpers (RFC 4291 §2.2 input, RFC 5952 output) ----

const words = (...w: number[]): Uint8Array => {
  const b = new Uint8Array(16);
  for (let i = 0; i < w.length; i++) put16(b, 2 * i, w[i]!);
  return b;
};

test('formatIpv6 follows RFC 5952 §4', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // §4.1 leading zeros
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 first of equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single 0 is not compressed
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // §4.2.1 shorten as much as possible
    ['2001:DB8::ABCD:EF', '2001:db8::abcd:ef'], // §4.3 lowercase
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
    ['1:0:0:2:0:0:0:0', '1:0:0:2::'],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['fe80::200:ff:fe00:1', 'fe80::200:ff:fe00:1'],
  ];
  for (const [text, canonical] of cases) {
    const b = parseIpv6(text);
    assert.ok(b, text);
    assert.equal(formatIpv6(b), canonical, text);
  }
  assert.equal(formatIpv6(Uint8Array.of(0xee, ...words(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), 1), '2001:db8::1', 'offset');
});

test('IPv4-embedded text (RFC 4291 §2.2 form 3)', () => {
  assert.deepEqual(parseIpv6('::ffff:198.18.0.1'), words(0, 0, 0, 0, 0, 0xffff, 0xc612, 0x0001));
  assert.deepEqual(parseIpv6('64:ff9b::198.19.255.2'), words(0x64, 0xff9b, 0, 0, 0, 0, 0xc613, 0xff02));
  assert.deepEqual(parseIpv6('2001:db8:1:2:3:4:198.18.0.1'), words(0x2001, 0xdb8, 1, 2, 3, 4, 0xc612, 1));
  assert.deepEqual(parseIpv6('::0.0.0.0'), new Uint8Array(16));
  // RFC 5952 §5 RECOMMENDS mixed notation for IPv4-mapped addresses but does not require it.
  const mapped = formatIpv6(words(0, 0, 0, 0, 0, 0xffff, 0xc612, 0x0001));
  assert.ok(['::ffff:198.18.0.1', '::ffff:c612:1'].includes(mapped), mapped);
  assert.deepEqual(parseIpv6(mapped), words(0, 0, 0, 0, 0, 0xffff, 0xc612, 0x0001));
});

test('parseIpv6 rejects malformed text', () => {
  const bad = [
    '',
    ':',
    ':::',
    '1::2::3',
    '::1::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1::2:',
    ':1::2',
    '1:',
    ':1',
    '12345::',
    'g::',
    '2001:db8::x',
    ' ::1',
    '::1 ',
    '[::1]',
    '::1%eth0',
    '2001:db8::/32',
    '::1.2.3',
    '::256.1.1.1',
    '::1.2.3.4.5',
    '::1.2.3.4:1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1.2.3.4',
    '::1.2.3.04x',
    '1:2:3:4:5:6:7:8:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0',
  ];
  for (const t of bad) assert.equal(parseIpv6(t), null, JSON.stringify(t));
});

test('parseIpv6 rejects a dotted quad before "::"', () => {
  assert.equal(parseIpv6('1.2.3.4::'), null);
  assert.equal(parseIpv6('1.2.3.4::5'), null);
  assert.equal(parseIpv6('1:2.3.4.5::'), null);
});

test('parseIpv6 rejects leading zeros in an embedded dotted quad, like parseIpv4 does', () => {
  assert.equal(parseIpv6('::01.2.3.4'), null);
  assert.equal(parseIpv6('::ffff:198.018.0.1'), null);
});

/** Eight 16-bit words, biased towards zero so that runs of zeros are common. */
const addrWords = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
  minLength: 8,
  maxLength: 8,
});

test('formatIpv6 agrees with the WHATWG URL serializer, and parse(format(x)) is x', () => {
  fc.assert(
    fc.property(addrWords, fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }), (w, pad) => {
      const b = words(...w);
      const text = formatIpv6(b);
      const full = w.map((x, i) => x.toString(16).padStart(Math.min(4, x.toString(16).length + pad[i]), '0')).join(':');
      assert.equal(`[${text}]`, new URL(`http://[${full}]/`).hostname, full);
      assert.deepEqual(parseIpv6(text), b);
      assert.deepEqual(parseIpv6(full), b);
      assert.deepEqual(parseIpv6(full.toUpperCase()), b);
    }),
    { numRuns: 3000 },
  );
});
