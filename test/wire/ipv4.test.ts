// IPv4 header view against scapy-crafted frames, then hostile variants of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ipv4Check,
  ipv4HeaderCheck,
  ipv4QuoteCheck,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4DontFragment,
  ipv4IsFragment,
  ipv4IsLaterFragment,
  ipv4DecrementTtl,
  writeIpv4Header,
  ipv4IsMulticastOrBroadcast,
  parseIpv4,
  formatIpv4,
  IPV4_OK,
  IPV4_TRUNCATED,
  IPV4_BAD_VERSION,
  IPV4_BAD_HLEN,
  IPV4_BAD_TOTLEN,
  IPV4_BAD_CHECKSUM,
  IPV4_ID,
  IPV4_FRAG,
  IPV4_TTL,
  IPV4_PROTO,
  IPV4_CSUM,
  IPV4_SRC,
  IPV4_DST,
  IPV4_OFFSET_MASK,
  IPV4_MIN_HLEN,
  IPV4_TOTLEN,
} from '../../src/wire/ipv4.js';
import { get16, put16 } from '../../src/wire/bytes.js';
import { checksum } from '../../src/wire/checksum.js';
import { framesWith, frame, bytesOf, dotted } from './frames.js';

const V4 = framesWith('ipv4');

test('fixture covers options, fragments, DF, ICMP error', () => {
  assert.ok(V4.length >= 10);
  assert.ok(V4.some((f) => f.ipv4.ihl === 6) && V4.some((f) => f.ipv4.ihl === 8));
  assert.ok(V4.some((f) => f.ipv4.MF && f.ipv4.frag === 0));
  assert.ok(V4.some((f) => f.ipv4.MF && f.ipv4.frag > 0));
  assert.ok(V4.some((f) => !f.ipv4.MF && f.ipv4.frag > 0));
});

test('views read exactly what scapy wrote', () => {
  for (const f of V4) {
    const b = bytesOf(f);
    const ip = f.ipv4;
    const o = ip.off;
    const m = f.name;
    assert.equal(b[o] >>> 4, ip.version, m);
    assert.equal(ipv4HeaderLen(b, o), ip.hlen, m);
    assert.equal(b[o] & 0x0f, ip.ihl, m);
    assert.equal(b[o + 1], ip.tos, m);
    assert.equal(ipv4TotalLen(b, o), ip.len, m);
    assert.equal(get16(b, o + IPV4_ID), ip.id, m);
    assert.equal(ipv4DontFragment(b, o), ip.DF, m);
    assert.equal(ipv4IsFragment(b, o), ip.MF || ip.frag !== 0, m);
    assert.equal(ipv4IsLaterFragment(b, o), ip.frag !== 0, m);
    assert.equal(get16(b, o + IPV4_FRAG) & IPV4_OFFSET_MASK, ip.frag, m);
    assert.equal(b[o + IPV4_TTL], ip.ttl, m);
    assert.equal(b[o + IPV4_PROTO], ip.proto, m);
    assert.equal(get16(b, o + IPV4_CSUM), ip.chksum, m);
    assert.equal(dotted(b, o + IPV4_SRC), ip.src, m);
    assert.equal(dotted(b, o + IPV4_DST), ip.dst, m);
    assert.equal(formatIpv4(b, o + IPV4_SRC), ip.src, m);
    assert.deepEqual(parseIpv4(ip.dst), b.slice(o + IPV4_DST, o + IPV4_DST + 4), m);
    assert.equal(o + ipv4HeaderLen(b, o), ip.l4_off, m);
  }
});

test('ipv4Check accepts every good header, including Ethernet padding after it', () => {
  for (const f of V4) {
    const b = bytesOf(f);
    assert.equal(ipv4Check(b, f.ipv4.off, b.length - f.ipv4.off), IPV4_OK, f.name);
    assert.equal(checksum(b, f.ipv4.off, f.ipv4.hlen), 0, f.name);
  }
  const padded = frame('ipv4-udp-odd-padded', 'ipv4', 'udp');
  assert.ok(padded.len - padded.ipv4.off > padded.ipv4.len, 'frame is longer than the datagram');
});

test('the datagram quoted in an ICMP fragmentation-needed error is itself a good header', () => {
  const f = frame('ipv4-icmp-frag-needed', 'ipv4', 'icmp');
  const b = bytesOf(f);
  const q = f.icmp.quote!;
  const qo = f.icmp.quote_off!;
  assert.equal(ipv4Check(b, qo, q.bytes), IPV4_OK);
  assert.equal(ipv4TotalLen(b, qo), q.len);
  assert.equal(b[qo + IPV4_PROTO], q.proto);
  assert.equal(get16(b, qo + IPV4_CSUM), q.chksum);
  assert.equal(dotted(b, qo + IPV4_SRC), q.src);
  assert.equal(dotted(b, qo + IPV4_DST), q.dst);
  assert.equal(ipv4DontFragment(b, qo), true, 'the quoted datagram had DF set');
});

test('ipv4QuoteCheck: the quoted header passes cut to 8 bytes of data, where ipv4Check cannot', () => {
  const f = frame('ipv4-icmp-frag-needed', 'ipv4', 'icmp');
  const qo = f.icmp.quote_off!;
  const b = bytesOf(f).slice(0, qo + IPV4_MIN_HLEN + 8); // RFC 792's minimum quote
  const avail = b.length - qo;
  assert.equal(ipv4Check(b, qo, avail), IPV4_BAD_TOTLEN);
  assert.equal(ipv4HeaderCheck(b, qo, avail), IPV4_BAD_TOTLEN);
  assert.equal(ipv4QuoteCheck(b, qo, avail), IPV4_OK);
  put16(b, qo + IPV4_CSUM, 0); // a quote's checksum is not ours to verify
  assert.equal(ipv4QuoteCheck(b, qo, avail), IPV4_OK);
  put16(b, qo + IPV4_TOTLEN, IPV4_MIN_HLEN - 1); // but its total length must still cover its header
  assert.equal(ipv4QuoteCheck(b, qo, avail), IPV4_BAD_TOTLEN);
});

test('fuzz: ipv4HeaderCheck is ipv4Check without the checksum, ipv4QuoteCheck also without "total length fits"', () => {
  const seeds = V4.map((f) => ({ b: bytesOf(f), o: f.ipv4.off }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      (which, edits, cut) => {
        const { b: seed, o } = seeds[which];
        const b = seed.slice(0, cut % (seed.length + 1));
        for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
        const avail = b.length - o;
        const whole = ipv4Check(b, o, avail);
        const header = ipv4HeaderCheck(b, o, avail);
        const quote = ipv4QuoteCheck(b, o, avail);
        assert.equal(header, whole === IPV4_BAD_CHECKSUM ? IPV4_OK : whole);
        if (whole === IPV4_BAD_CHECKSUM) assert.equal(quote, IPV4_OK);
        else if (whole === IPV4_BAD_TOTLEN) {
          assert.equal(quote, ipv4TotalLen(b, o) < ipv4HeaderLen(b, o) ? IPV4_BAD_TOTLEN : IPV4_OK);
        } else assert.equal(quote, whole);
      },
    ),
    { numRuns: 3000 },
  );
});

test('writeIpv4Header reproduces scapy headers without options byte for byte', () => {
  const plain = V4.filter((f) => f.ipv4.ihl === 5 && f.ipv4.tos === 0 && !f.ipv4.MF && f.ipv4.frag === 0);
  assert.ok(plain.length >= 4);
  for (const f of plain) {
    const b = bytesOf(f);
    const ip = f.ipv4;
    const out = new Uint8Array(ip.off + 20).fill(0xee);
    writeIpv4Header(out, ip.off, ip.len, ip.id, ip.DF, ip.ttl, ip.proto, parseIpv4(ip.src)!, 0, parseIpv4(ip.dst)!, 0);
    assert.deepEqual(out.subarray(ip.off), b.subarray(ip.off, ip.off + 20), f.name);
    assert.equal(out[ip.off - 1], 0xee, 'writes nothing before the header');
  }
});

test('ipv4DecrementTtl keeps the header valid and equal to a full recompute', () => {
  for (const f of V4) {
    const b = bytesOf(f);
    const o = f.ipv4.off;
    ipv4DecrementTtl(b, o);
    assert.equal(b[o + IPV4_TTL], f.ipv4.ttl - 1, f.name);
    assert.equal(ipv4Check(b, o, b.length - o), IPV4_OK, f.name);
    const csum = get16(b, o + IPV4_CSUM);
    put16(b, o + IPV4_CSUM, 0);
    assert.equal(checksum(b, o, f.ipv4.hlen), csum, f.name);
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 1, max: 255 }), (h, ttl) => {
      h[0] = 0x45;
      put16(h, IPV4_CSUM, 0);
      h[IPV4_TTL] = ttl;
      put16(h, IPV4_CSUM, checksum(h, 0, 20));
      ipv4DecrementTtl(h, 0);
      assert.equal(h[IPV4_TTL], ttl - 1);
      assert.equal(checksum(h, 0, 20), 0);
    }),
  );
});

test('ipv4IsMulticastOrBroadcast', () => {
  const yes = ['224.0.0.1', '239.255.255.255', '255.255.255.255'];
  const no = ['198.18.0.1', '223.255.255.255', '240.0.0.1', '255.255.255.254', '0.0.0.0'];
  for (const a of yes) assert.equal(ipv4IsMulticastOrBroadcast(parseIpv4(a)!, 0), true, a);
  for (const a of no) assert.equal(ipv4IsMulticastOrBroadcast(parseIpv4(a)!, 0), false, a);
});

// ---- hostile variants ----

test('truncated at every length: TRUNCATED / BAD_HLEN / BAD_TOTLEN / OK, never throws', () => {
  for (const f of V4) {
    const full = bytesOf(f);
    const o = f.ipv4.off;
    for (let cut = 0; cut <= full.length; cut++) {
      const b = full.slice(0, cut); // a real short buffer, not just a smaller avail
      const avail = cut - o;
      const expected =
        avail < IPV4_MIN_HLEN
          ? IPV4_TRUNCATED
          : avail < f.ipv4.hlen
            ? IPV4_BAD_HLEN
            : avail < f.ipv4.len
              ? IPV4_BAD_TOTLEN
              : IPV4_OK;
      assert.equal(ipv4Check(b, o, avail), expected, `${f.name} cut at ${cut}`);
    }
  }
});

test('wrong version', () => {
  for (const f of V4) {
    for (let v = 0; v < 16; v++) {
      if (v === 4) continue;
      const b = bytesOf(f);
      b[f.ipv4.off] = (v << 4) | f.ipv4.ihl;
      assert.equal(ipv4Check(b, f.ipv4.off, b.length - f.ipv4.off), IPV4_BAD_VERSION, `${f.name} v${v}`);
    }
  }
});

test('IHL below 5 or beyond the data', () => {
  for (const f of V4) {
    const o = f.ipv4.off;
    for (let ihl = 0; ihl < 5; ihl++) {
      const b = bytesOf(f);
      b[o] = 0x40 | ihl;
      assert.equal(ipv4Check(b, o, b.length - o), IPV4_BAD_HLEN, `${f.name} ihl ${ihl}`);
    }
    const b = bytesOf(f);
    b[o] = 0x4f; // 60 bytes of header
    assert.equal(ipv4Check(b, o, 59), IPV4_BAD_HLEN, f.name);
  }
});

test('total length below the header length or beyond the data', () => {
  for (const f of V4) {
    const o = f.ipv4.off;
    const avail = f.len - o;
    for (const total of [0, 1, f.ipv4.hlen - 1, avail + 1, 0xffff]) {
      const b = bytesOf(f);
      put16(b, o + 2, total);
      assert.equal(ipv4Check(b, o, avail), IPV4_BAD_TOTLEN, `${f.name} total ${total}`);
    }
  }
});

test('every single-bit corruption of a header is rejected; checksum-covered fields give BAD_CHECKSUM', () => {
  for (const f of V4) {
    const o = f.ipv4.off;
    for (let i = 0; i < f.ipv4.hlen; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = bytesOf(f);
        b[o + i] ^= 1 << bit;
        const verdict = ipv4Check(b, o, b.length - o);
        assert.notEqual(verdict, IPV4_OK, `${f.name} byte ${i} bit ${bit}`);
        // Byte 0 (version/IHL) and bytes 2-3 (total length) may trip an earlier check.
        if (i !== 0 && i !== 2 && i !== 3) assert.equal(verdict, IPV4_BAD_CHECKSUM, `${f.name} byte ${i} bit ${bit}`);
      }
    }
  }
});

test('corrupted header checksum field', () => {
  const f = frame('ipv4-udp', 'ipv4', 'udp');
  const b = bytesOf(f);
  put16(b, f.ipv4.off + IPV4_CSUM, (f.ipv4.chksum + 1) & 0xffff);
  assert.equal(ipv4Check(b, f.ipv4.off, b.length - f.ipv4.off), IPV4_BAD_CHECKSUM);
  assert.equal(ipv4HeaderCheck(b, f.ipv4.off, b.length - f.ipv4.off), IPV4_OK, 'the structure is sound');
  put16(b, f.ipv4.off + IPV4_CSUM, 0);
  assert.equal(ipv4Check(b, f.ipv4.off, b.length - f.ipv4.off), IPV4_BAD_CHECKSUM);
});

test('fuzz: ipv4Check never throws and OK implies a sane header', () => {
  const seeds = V4.map((f) => ({ b: bytesOf(f), o: f.ipv4.off }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      (which, edits, cut) => {
        const { b: seed, o } = seeds[which];
        const b = seed.slice(0, cut % (seed.length + 1));
        for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
        const avail = b.length - o;
        const v = ipv4Check(b, o, avail);
        assert.ok(v >= IPV4_OK && v <= IPV4_BAD_CHECKSUM);
        if (v === IPV4_OK) {
          const hlen = ipv4HeaderLen(b, o);
          assert.ok(hlen >= 20 && hlen <= ipv4TotalLen(b, o) && ipv4TotalLen(b, o) <= avail);
          assert.equal(checksum(b, o, hlen), 0);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

// ---- text helpers ----

test('parseIpv4 / formatIpv4', () => {
  assert.deepEqual(parseIpv4('198.18.0.1'), Uint8Array.of(198, 18, 0, 1));
  assert.deepEqual(parseIpv4('0.0.0.0'), Uint8Array.of(0, 0, 0, 0));
  assert.deepEqual(parseIpv4('255.255.255.255'), Uint8Array.of(255, 255, 255, 255));
  assert.equal(formatIpv4(Uint8Array.of(9, 198, 19, 255, 2), 1), '198.19.255.2');
  const bad = [
    '1.2.3',
    '256.1.1.1',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.04',
    '00.0.0.0',
    '1.2.3.4.5',
    '',
    '1..2.3',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4\n',
    '1.2.3.-4',
    '1.2.3.1000',
    '0x1.2.3.4',
    '1.2.3.4/32',
    '\u0661.2.3.4',
  ];
  for (const t of bad) assert.equal(parseIpv4(t), null, JSON.stringify(t));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (a) => {
      assert.deepEqual(parseIpv4(formatIpv4(a)), a);
    }),
  );
});
