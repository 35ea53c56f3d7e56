// Internet checksum (RFC 1071) golden values and the RFC 1624 incremental update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sum16, finish, checksum, update16, update32 } from '../../src/wire/checksum.js';
import { get16, put16 } from '../../src/wire/bytes.js';
import { framesWith, bytesOf, hexBytes } from './frames.js';

test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 2ddf0, folds to ddf2, checksum 220d', () => {
  const b = hexBytes('0001f203f4f5f6f7');
  assert.equal(sum16(b, 0, 8, 0), 0x2ddf0);
  assert.equal(finish(0x2ddf0), 0x220d);
  assert.equal(checksum(b, 0, 8), 0x220d);
  // Appending the checksum makes the whole sum to -0, so it verifies as 0.
  const withSum = hexBytes('0001f203f4f5f6f7220d');
  assert.equal(checksum(withSum, 0, 10), 0);
});

test('golden values for edge inputs', () => {
  assert.equal(checksum(new Uint8Array(0), 0, 0), 0xffff, 'empty');
  assert.equal(checksum(new Uint8Array(20), 0, 20), 0xffff, 'all zero');
  assert.equal(checksum(new Uint8Array(20).fill(0xff), 0, 20), 0x0000, 'all ones is -0');
  assert.equal(checksum(hexBytes('01'), 0, 1), 0xfeff, 'odd byte is padded on the right');
  assert.equal(checksum(hexBytes('0001f203f4f5f6'), 0, 7), finish(0x0001 + 0xf203 + 0xf4f5 + 0xf600));
  assert.equal(checksum(hexBytes('ffff0001'), 0, 4), 0xfffe, 'end-around carry');
  assert.equal(finish(0), 0xffff);
  assert.equal(finish(0xffff), 0);
  assert.equal(finish(0x1fffe), 0, '1fffe folds once to ffff');
  assert.equal(finish(0x1ffff), 0xfffe, '1ffff folds twice: 10000, then 0001');
  assert.equal(checksum(hexBytes('ffffffff0001'), 0, 6), 0xfffe, 'a sum needing two folds');
  assert.equal(finish(0xffff0000), 0, 'sums above 2^31 fold correctly');
  assert.equal(sum16(hexBytes('aabb0102'), 0, 4, 0x10), 0xaabb + 0x0102 + 0x10, 'initial is added');
});

test('offset and length select exactly the bytes summed', () => {
  const b = hexBytes('ee ee 0001f203f4f5f6f7 ee');
  assert.equal(checksum(b, 2, 8), 0x220d);
  assert.equal(sum16(b, 3, 3, 0), 0x01f2 + 0x0300);
});

test('checksum of every scapy IPv4 header reproduces scapy and verifies to 0', () => {
  for (const f of framesWith('ipv4')) {
    const b = bytesOf(f);
    const { off, hlen, chksum } = f.ipv4;
    assert.equal(checksum(b, off, hlen), 0, f.name);
    put16(b, off + 10, 0);
    assert.equal(checksum(b, off, hlen), chksum, f.name);
  }
});

test('RFC 1071 §2: byte order independence and odd-length padding', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (data) => {
      const even = data.length & ~1;
      const swapped = new Uint8Array(even);
      for (let i = 0; i < even; i += 2) {
        swapped[i] = data[i + 1];
        swapped[i + 1] = data[i];
      }
      const c = checksum(data, 0, even);
      assert.equal(checksum(swapped, 0, even), ((c & 0xff) << 8) | (c >>> 8));
      const padded = new Uint8Array(data.length + 1);
      padded.set(data);
      assert.equal(checksum(data, 0, data.length), checksum(padded, 0, padded.length));
    }),
  );
});

// ---- RFC 1624 incremental update ----

/** A 20-byte IPv4 header (version 4, IHL 5) with random other fields and a valid checksum. */
const ipv4Header = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((h) => {
  h[0] = 0x45;
  put16(h, 10, 0);
  put16(h, 10, checksum(h, 0, 20));
  return h;
});

function recompute(h: Uint8Array): number {
  const copy = h.slice();
  put16(copy, 10, 0);
  return checksum(copy, 0, copy.length);
}

test("RFC 1624 §4 example: HC=dd2f, m=5555, m'=3285 gives 0000 (eqn 3), not ffff (eqn 2)", () => {
  assert.equal(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
});

test('RFC 1624 §4 in a real header: the +0/-0 case matches a full recomputation', () => {
  // Build a header whose words other than the checksum sum to -0 (0xffff) once the
  // identification field is 0x3285, so its full-recompute checksum is 0x0000.
  const h = hexBytes('4500 0014 3285 0000 4011 0000 c612 0001 c613 0000');
  const rest = finish(sum16(h, 0, 20, 0)); // ~(sum so far)
  put16(h, 18, rest === 0 ? 0xffff : rest); // now the words sum to 0xffff
  assert.equal(recompute(h), 0x0000);
  put16(h, 10, 0x0000);
  assert.equal(checksum(h, 0, 20), 0, 'a 0x0000 checksum verifies');

  // Change the identification 3285 -> 5555: the checksum becomes dd2f (the RFC's HC).
  put16(h, 4, 0x5555);
  assert.equal(update16(0x0000, 0x3285, 0x5555), recompute(h));
  assert.equal(recompute(h), 0xdd2f);
  put16(h, 10, 0xdd2f);

  // And back: eqn 3 yields 0x0000, exactly what the full recomputation yields.
  put16(h, 4, 0x3285);
  assert.equal(update16(0xdd2f, 0x5555, 0x3285), recompute(h));
  assert.equal(recompute(h), 0x0000);
});

test('RFC 1624 eqn 3 is exact except for all-zero data (no IPv4 header can be all zero)', () => {
  // Documented limit of eqn 3: if the data becomes all zero the full sum is +0 (checksum
  // 0xffff) while the incremental form yields 0x0000. Both verify; version 4 rules it out.
  assert.equal(update16(~0x1234 & 0xffff, 0x1234, 0x0000), 0x0000);
  assert.equal(checksum(new Uint8Array(2), 0, 2), 0xffff);
});

test('update16 on any 16-bit word of a random IPv4 header equals a full recompute', () => {
  fc.assert(
    fc.property(
      ipv4Header,
      fc.integer({ min: 0, max: 9 }).filter((i) => i !== 5),
      fc.integer({ min: 0, max: 0xffff }),
      (h, word, value) => {
        if (word === 0) value = 0x4500 | (value & 0xff); // keep version/IHL, change TOS
        const old = get16(h, word * 2);
        const csum = get16(h, 10);
        put16(h, word * 2, value);
        const inc = update16(csum, old, value);
        assert.equal(inc, recompute(h));
        put16(h, 10, inc);
        assert.equal(checksum(h, 0, 20), 0);
      },
    ),
    { numRuns: 2000 },
  );
});

test('update16 on headers biased towards the 0x0000 / 0xffff checksum boundary', () => {
  // Pick the changed word so that the new checksum is forced to 0x0000.
  fc.assert(
    fc.property(
      ipv4Header,
      fc.integer({ min: 1, max: 9 }).filter((i) => i !== 5),
      (h, word) => {
        const old = get16(h, word * 2);
        const csum = get16(h, 10);
        put16(h, word * 2, 0);
        const rest = ~recompute(h) & 0xffff; // folded sum of the other words
        const value = (0xffff - rest) & 0xffff || 0xffff; // makes the total sum 0xffff
        put16(h, word * 2, value);
        assert.equal(recompute(h), 0x0000);
        assert.equal(update16(csum, old, value), 0x0000);
      },
    ),
  );
});

test('update32 for an IPv4 address rewrite equals a full recompute', () => {
  fc.assert(
    fc.property(ipv4Header, fc.constantFrom(12, 16), fc.integer({ min: 0, max: 0xffffffff }), (h, at, addr) => {
      const oldHi = get16(h, at);
      const oldLo = get16(h, at + 2);
      const newHi = addr >>> 16;
      const newLo = addr & 0xffff;
      put16(h, at, newHi);
      put16(h, at + 2, newLo);
      const inc = update32(get16(h, 10), oldHi, oldLo, newHi, newLo);
      assert.equal(inc, recompute(h));
    }),
    { numRuns: 2000 },
  );
});

test('update16 is a no-op when the word does not change, and reversible', () => {
  fc.assert(
    fc.property(ipv4Header, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (h, a, b) => {
      const c = get16(h, 10);
      assert.equal(update16(c, a, a), c);
      assert.equal(update16(update16(c, a, b), b, a), c);
    }),
  );
});
