// ICMPv4 (RFC 792, RFC 1191) against scapy-crafted echo and fragmentation-needed messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  icmpIsError,
  ICMP_CSUM,
  ICMP_HLEN,
  ICMP_DEST_UNREACH,
  ICMP_CODE_FRAG_NEEDED,
  ICMP_ECHO_REQUEST,
  ICMP_MAX_ERROR_LEN,
} from '../../src/wire/icmp.js';
import { checksum } from '../../src/wire/checksum.js';
import { get16, put16 } from '../../src/wire/bytes.js';
import { framesWith, frame, bytesOf, l4Length } from './frames.js';

test('type, code, identifier, sequence and checksum read what scapy wrote', () => {
  const all = framesWith('icmp');
  assert.ok(all.length >= 3);
  for (const f of all) {
    const b = bytesOf(f);
    const ic = f.icmp;
    const len = l4Length(f);
    assert.equal(b[ic.off], ic.type, f.name);
    assert.equal(b[ic.off + 1], ic.code, f.name);
    assert.equal(get16(b, ic.off + ICMP_CSUM), ic.chksum, f.name);
    if (ic.id !== undefined) {
      assert.equal(get16(b, ic.off + 4), ic.id, f.name);
      assert.equal(get16(b, ic.off + 6), ic.seq, f.name);
    }
    // The ICMP checksum covers the whole message (no pseudo header) and verifies to 0.
    assert.equal(checksum(b, ic.off, len), 0, f.name);
    put16(b, ic.off + ICMP_CSUM, 0);
    assert.equal(checksum(b, ic.off, len), ic.chksum, f.name);
  }
  assert.equal(frame('ipv4-icmp-echo', 'ipv4', 'icmp').icmp.type, ICMP_ECHO_REQUEST);
});

test('fragmentation needed carries the next-hop MTU in the low 16 bits of word 2 (RFC 1191 §4)', () => {
  const f = frame('ipv4-icmp-frag-needed', 'ipv4', 'icmp');
  const b = bytesOf(f);
  const ic = f.icmp;
  assert.equal(b[ic.off], ICMP_DEST_UNREACH);
  assert.equal(b[ic.off + 1], ICMP_CODE_FRAG_NEEDED);
  assert.equal(get16(b, ic.off + 4), 0, 'unused');
  assert.equal(get16(b, ic.off + 6), ic.nexthopmtu);
  assert.equal(get16(b, ic.off + 6), 1400);
  assert.equal(ic.quote_off, ic.off + ICMP_HLEN, 'the offending datagram follows the 8-byte header');
  assert.ok(f.ipv4.len <= ICMP_MAX_ERROR_LEN);
  assert.ok(ic.quote!.bytes >= 20 + 8, 'at least the header plus 8 bytes are quoted (RFC 792)');
});

test('icmpIsError: 3, 4, 5, 11, 12 are errors; queries are not', () => {
  for (let t = 0; t < 256; t++) assert.equal(icmpIsError(t), [3, 4, 5, 11, 12].includes(t), `type ${t}`);
});
