// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861) against scapy-crafted messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ndFindLinkLayerOption,
  icmpv6IsError,
  ICMPV6_CSUM,
  ICMPV6_HLEN,
  ND_TARGET,
  ND_OPTIONS,
  ND_OPT_SOURCE_LLADDR,
  ND_OPT_TARGET_LLADDR,
  NA_FLAG_ROUTER,
  NA_FLAG_SOLICITED,
  NA_FLAG_OVERRIDE,
  ND_NEIGHBOR_SOLICIT,
  ND_NEIGHBOR_ADVERT,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_MAX_ERROR_LEN,
} from '../../src/wire/icmpv6.js';
import { pseudoSum6, sum16, finish } from '../../src/wire/checksum.js';
import { formatMac } from '../../src/wire/ethernet.js';
import { formatIpv6, ipv6Check, IPV6_OK } from '../../src/wire/ipv6.js';
import { get16, get32, put16 } from '../../src/wire/bytes.js';
import { framesWith, frame, bytesOf, l4Length } from './frames.js';

const ALL = framesWith('icmpv6', 'ipv6');
const ND = ALL.filter((f) => f.icmpv6.options !== undefined);

test('type, code and checksum; the checksum reproduces through the IPv6 pseudo header', () => {
  assert.ok(ALL.length >= 5);
  for (const f of ALL) {
    const b = bytesOf(f);
    const m = f.icmpv6;
    const len = l4Length(f);
    assert.equal(b[m.off], m.type, f.name);
    assert.equal(b[m.off + 1], m.code, f.name);
    assert.equal(get16(b, m.off + ICMPV6_CSUM), m.chksum, f.name);
    assert.equal(finish(sum16(b, m.off, len, pseudoSum6(b, f.ipv6.off, 58, len))), 0, f.name);
    put16(b, m.off + ICMPV6_CSUM, 0);
    assert.equal(finish(sum16(b, m.off, len, pseudoSum6(b, f.ipv6.off, 58, len))), m.chksum, f.name);
  }
});

test('echo identifier and sequence', () => {
  const f = frame('ipv6-icmpv6-echo', 'ipv6', 'icmpv6');
  const b = bytesOf(f);
  assert.equal(get16(b, f.icmpv6.off + 4), f.icmpv6.id);
  assert.equal(get16(b, f.icmpv6.off + 6), f.icmpv6.seq);
});

test('NS / NA: target, NA flags, and the link-layer options', () => {
  assert.equal(ND.length, 3);
  for (const f of ND) {
    const b = bytesOf(f);
    const m = f.icmpv6;
    const end = f.ipv6.off + 40 + f.ipv6.plen;
    assert.ok(m.type === ND_NEIGHBOR_SOLICIT || m.type === ND_NEIGHBOR_ADVERT);
    assert.equal(formatIpv6(b, m.off + ND_TARGET), m.target, f.name);
    assert.equal(m.options_off, m.off + ND_OPTIONS);
    for (const type of [ND_OPT_SOURCE_LLADDR, ND_OPT_TARGET_LLADDR]) {
      const opt = m.options!.find((o) => o.type === type);
      const at = ndFindLinkLayerOption(b, m.off + ND_OPTIONS, end, type);
      assert.equal(at, opt ? opt.off + 2 : -1, `${f.name} option ${type}`);
      if (opt) assert.equal(formatMac(b, at), opt.lladdr, f.name);
    }
  }
  const na = frame('ipv6-nd-na', 'ipv6', 'icmpv6');
  const flags = bytesOf(na)[na.icmpv6.off + 4];
  assert.equal((flags & NA_FLAG_ROUTER) !== 0, na.icmpv6.R);
  assert.equal((flags & NA_FLAG_SOLICITED) !== 0, na.icmpv6.S);
  assert.equal((flags & NA_FLAG_OVERRIDE) !== 0, na.icmpv6.O);
  assert.equal(na.icmpv6.options![0].type, 5, 'the target link-layer option follows an MTU option');
});

test('Packet Too Big: MTU and the quoted packet, within the 1280-byte limit', () => {
  const f = frame('ipv6-icmpv6-ptb', 'ipv6', 'icmpv6');
  const b = bytesOf(f);
  const m = f.icmpv6;
  assert.equal(b[m.off], ICMPV6_PACKET_TOO_BIG);
  assert.equal(get32(b, m.off + 4), m.mtu);
  assert.equal(get32(b, m.off + 4), 1280);
  assert.equal(m.quote_off, m.off + ICMPV6_HLEN);
  assert.equal(b[m.quote_off!] >>> 4, 6, 'the quote starts with an IPv6 header');
  assert.equal(40 + f.ipv6.plen, ICMPV6_MAX_ERROR_LEN, 'scapy filled the error up to the minimum MTU');
  assert.equal(ipv6Check(b, f.ipv6.off, b.length - f.ipv6.off), IPV6_OK);
});

test('icmpv6IsError: types below 128 are errors', () => {
  for (const t of [1, 2, 3, 4, 127]) assert.equal(icmpv6IsError(t), true, `type ${t}`);
  for (const t of [128, 129, 133, 134, 135, 136, 137, 255]) assert.equal(icmpv6IsError(t), false, `type ${t}`);
});

// ---- hostile ND options ----

const na = frame('ipv6-nd-na', 'ipv6', 'icmpv6');
const naOpts = na.icmpv6.options_off!; // MTU option (8 bytes), then target LL option (8 bytes)
const naEnd = na.ipv6.off + 40 + na.ipv6.plen;

test('ndFindLinkLayerOption: options cut at every length', () => {
  const b = bytesOf(na);
  const mtuEnd = naOpts + 8;
  for (let end = naOpts; end <= naEnd; end++) {
    const expected = end === naOpts || end === mtuEnd ? -1 : end === naEnd ? naEnd - 6 : -2;
    assert.equal(ndFindLinkLayerOption(b.slice(0, end), naOpts, end, ND_OPT_TARGET_LLADDR), expected, `end ${end}`);
  }
});

test('ndFindLinkLayerOption: zero length, overrun, trailing byte', () => {
  const zeroFirst = bytesOf(na);
  zeroFirst[naOpts + 1] = 0;
  assert.equal(ndFindLinkLayerOption(zeroFirst, naOpts, naEnd, ND_OPT_TARGET_LLADDR), -2, 'zero-length option');

  const zeroAfter = bytesOf(na);
  zeroAfter[naOpts + 8 + 1] = 0;
  assert.equal(ndFindLinkLayerOption(zeroAfter, naOpts, naEnd, ND_OPT_SOURCE_LLADDR), -2);

  const overrun = bytesOf(na);
  overrun[naOpts + 8 + 1] = 2; // target LL option claims 16 bytes, 8 are left
  assert.equal(ndFindLinkLayerOption(overrun, naOpts, naEnd, ND_OPT_TARGET_LLADDR), -2);

  const huge = bytesOf(na);
  huge[naOpts + 1] = 0xff;
  assert.equal(ndFindLinkLayerOption(huge, naOpts, naEnd, ND_OPT_TARGET_LLADDR), -2);

  // A malformed option after the one we want still condemns the whole message (RFC 4861 §7.1.2).
  const ns = frame('ipv6-nd-ns', 'ipv6', 'icmpv6');
  const nsEnd = ns.ipv6.off + 40 + ns.ipv6.plen;
  const longer = new Uint8Array(nsEnd + 8);
  longer.set(bytesOf(ns));
  longer.set([ND_OPT_TARGET_LLADDR, 0], nsEnd); // zero length after a good source LL option
  assert.equal(
    ndFindLinkLayerOption(longer, ns.icmpv6.options_off!, nsEnd, ND_OPT_SOURCE_LLADDR),
    ns.icmpv6.options![0].off + 2,
  );
  assert.equal(ndFindLinkLayerOption(longer, ns.icmpv6.options_off!, nsEnd + 8, ND_OPT_SOURCE_LLADDR), -2);
  assert.equal(
    ndFindLinkLayerOption(longer, ns.icmpv6.options_off!, nsEnd + 1, ND_OPT_SOURCE_LLADDR),
    -2,
    'one trailing byte',
  );
});

test('ndFindLinkLayerOption: the first of duplicate options wins', () => {
  const b = new Uint8Array(naEnd + 8);
  b.set(bytesOf(na));
  b.set([ND_OPT_TARGET_LLADDR, 1, 2, 0, 0, 0, 0, 0x99], naEnd); // a second target LL option
  assert.equal(ndFindLinkLayerOption(b, naOpts, naEnd + 8, ND_OPT_TARGET_LLADDR), naOpts + 8 + 2);
});

test('fuzz: ndFindLinkLayerOption never throws, and a hit lies inside the options', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 2 }), (opts, type) => {
      const b = new Uint8Array(8 + opts.length);
      b.set(opts, 8);
      const r = ndFindLinkLayerOption(b, 8, b.length, type);
      assert.ok(r === -1 || r === -2 || (r >= 10 && r + 6 <= b.length && b[r - 2] === type && b[r - 1] > 0), String(r));
    }),
    { numRuns: 3000 },
  );
});
