// UDP (RFC 768) and TCP (RFC 9293) views, and their checksums through the IPv4/IPv6 pseudo headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { udpLengthValid, UDP_SRC_PORT, UDP_DST_PORT, UDP_LEN, UDP_CSUM, UDP_HLEN } from '../../src/wire/udp.js';
import {
  tcpHeaderLen,
  tcpHeaderValid,
  TCP_SRC_PORT,
  TCP_DST_PORT,
  TCP_SEQ,
  TCP_ACK,
  TCP_FLAGS,
  TCP_CSUM,
  TCP_SYN,
  TCP_ACK_FLAG,
  TCP_MIN_HLEN,
} from '../../src/wire/tcp.js';
import { pseudoSum4, pseudoSum6, sum16, finish, update16, update32 } from '../../src/wire/checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP, IPV4_CSUM, IPV4_SRC } from '../../src/wire/ipv4.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import { get16, get32, put16 } from '../../src/wire/bytes.js';
import { checksum } from '../../src/wire/checksum.js';
import { framesWith, frame, bytesOf, l4Length, type Frame } from './frames.js';

/** Full L4 checksum of the segment at l4Off (len bytes) through the frame's pseudo header. */
function l4Checksum(f: Frame, b: Uint8Array, l4Off: number, proto: number, len: number): number {
  let ph: number;
  if (f.ipv4) {
    ph = pseudoSum4(b, f.ipv4.off, proto, len);
  } else if (f.ipv6) {
    // RFC 8200 §8.1: with a routing header in transit, the pseudo header holds the final destination.
    const ip = b.slice(f.ipv6.off, f.ipv6.off + 40);
    ip.set(parseIpv6(f.ipv6.pseudo_dst)!, 24);
    ph = pseudoSum6(ip, 0, proto, len);
  } else {
    throw new Error(`${f.name} has no IP layer`);
  }
  return finish(sum16(b, l4Off, len, ph));
}

const UDPS = framesWith('udp');
const TCPS = framesWith('tcp');

test('UDP fields read what scapy wrote; the length fits what the IP header carries', () => {
  assert.ok(UDPS.length >= 8);
  for (const f of UDPS) {
    const b = bytesOf(f);
    const u = f.udp;
    assert.equal(get16(b, u.off + UDP_SRC_PORT), u.sport, f.name);
    assert.equal(get16(b, u.off + UDP_DST_PORT), u.dport, f.name);
    assert.equal(get16(b, u.off + UDP_LEN), u.len, f.name);
    assert.equal(get16(b, u.off + UDP_CSUM), u.chksum, f.name);
    // A first fragment carries only part of the datagram the UDP length describes.
    assert.equal(udpLengthValid(b, u.off, l4Length(f)), f.l4_complete, f.name);
  }
});

test('UDP checksums reproduce through pseudoSum4 / pseudoSum6 (odd lengths, padding, ext headers, AH)', () => {
  const complete = UDPS.filter((f) => f.l4_complete);
  assert.ok(complete.length >= 6);
  for (const f of complete) {
    const b = bytesOf(f);
    const u = f.udp;
    assert.equal(l4Checksum(f, b, u.off, IPPROTO_UDP, u.len), 0, f.name);
    put16(b, u.off + UDP_CSUM, 0);
    assert.equal(l4Checksum(f, b, u.off, IPPROTO_UDP, u.len), u.chksum, f.name);
  }
});

test('in transit through a routing header the IPv6 destination is not the pseudo-header destination', () => {
  const f = frame('ipv6-udp-routing-in-transit', 'ipv6', 'udp');
  const b = bytesOf(f);
  const u = f.udp;
  assert.notEqual(f.ipv6.dst, f.ipv6.pseudo_dst);
  const withHeaderDst = finish(sum16(b, u.off, u.len, pseudoSum6(b, f.ipv6.off, IPPROTO_UDP, u.len)));
  assert.notEqual(withHeaderDst, 0);
  assert.equal(l4Checksum(f, b, u.off, IPPROTO_UDP, u.len), 0);
});

test('TCP fields read what scapy wrote', () => {
  assert.ok(TCPS.length >= 2);
  for (const f of TCPS) {
    const b = bytesOf(f);
    const t = f.tcp;
    assert.equal(get16(b, t.off + TCP_SRC_PORT), t.sport, f.name);
    assert.equal(get16(b, t.off + TCP_DST_PORT), t.dport, f.name);
    assert.equal(get32(b, t.off + TCP_SEQ), t.seq, f.name);
    assert.equal(get32(b, t.off + TCP_ACK), t.ack, f.name);
    assert.equal(tcpHeaderLen(b, t.off), t.hlen, f.name);
    assert.equal(b[t.off + TCP_FLAGS], t.flags, f.name);
    assert.equal(get16(b, t.off + 14), t.window, f.name);
    assert.equal(get16(b, t.off + TCP_CSUM), t.chksum, f.name);
    assert.equal(tcpHeaderValid(b, t.off, l4Length(f)), true, f.name);
  }
  const syn = frame('ipv4-tcp-options', 'ipv4', 'tcp');
  assert.equal(tcpHeaderLen(bytesOf(syn), syn.tcp.off), 32, 'data offset 8');
  assert.equal(bytesOf(syn)[syn.tcp.off + TCP_FLAGS], TCP_SYN);
  const data = frame('ipv4-tcp-data', 'ipv4', 'tcp');
  assert.equal(bytesOf(data)[data.tcp.off + TCP_FLAGS] & TCP_ACK_FLAG, TCP_ACK_FLAG);
  assert.equal(data.tcp.seq, 0xfffffff0, 'sequence numbers above 2^31 read unsigned');
});

test('TCP checksums reproduce through pseudoSum4', () => {
  for (const f of TCPS) {
    const b = bytesOf(f);
    const len = l4Length(f);
    assert.equal(l4Checksum(f, b, f.tcp.off, IPPROTO_TCP, len), 0, f.name);
    put16(b, f.tcp.off + TCP_CSUM, 0);
    assert.equal(l4Checksum(f, b, f.tcp.off, IPPROTO_TCP, len), f.tcp.chksum, f.name);
  }
});

test('NAT-style rewrite: update32 / update16 patch the IPv4 and TCP/UDP checksums exactly', () => {
  const rewritten = [...framesWith('tcp', 'ipv4'), ...framesWith('udp', 'ipv4').filter((f) => f.l4_complete)];
  fc.assert(
    fc.property(
      fc.constantFrom(...rewritten),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffff }),
      (f, addr, port) => {
        const b = bytesOf(f);
        const ipOff = f.ipv4.off;
        const l4 = (f.tcp ?? f.udp)!;
        const csumAt = l4.off + (f.tcp ? TCP_CSUM : UDP_CSUM);
        const [oldHi, oldLo, oldPort] = [get16(b, ipOff + IPV4_SRC), get16(b, ipOff + IPV4_SRC + 2), get16(b, l4.off)];
        const [newHi, newLo] = [addr >>> 16, addr & 0xffff];
        put16(b, ipOff + IPV4_SRC, newHi);
        put16(b, ipOff + IPV4_SRC + 2, newLo);
        put16(b, l4.off, port);
        put16(b, ipOff + IPV4_CSUM, update32(get16(b, ipOff + IPV4_CSUM), oldHi, oldLo, newHi, newLo));
        let l4sum = update32(get16(b, csumAt), oldHi, oldLo, newHi, newLo);
        l4sum = update16(l4sum, oldPort, port);
        put16(b, csumAt, l4sum);
        assert.equal(checksum(b, ipOff, f.ipv4.hlen), 0);
        const len = l4Length(f);
        const proto = f.tcp ? IPPROTO_TCP : IPPROTO_UDP;
        assert.equal(l4Checksum(f, b, l4.off, proto, len), 0);
      },
    ),
    { numRuns: 2000 },
  );
});

// ---- hostile variants ----

test('udpLengthValid: truncated at every length, UDP length below 8 or beyond the data', () => {
  const f = frame('ipv4-udp', 'ipv4', 'udp');
  const b = bytesOf(f);
  const u = f.udp;
  for (let avail = 0; avail <= u.len; avail++)
    assert.equal(udpLengthValid(b.slice(0, u.off + avail), u.off, avail), avail === u.len, `avail ${avail}`);
  for (const len of [0, 1, UDP_HLEN - 1, u.len + 1, 0xffff]) {
    const c = bytesOf(f);
    put16(c, u.off + UDP_LEN, len);
    assert.equal(udpLengthValid(c, u.off, u.len), false, `len ${len}`);
  }
  const empty = bytesOf(f);
  put16(empty, u.off + UDP_LEN, UDP_HLEN);
  assert.equal(udpLengthValid(empty, u.off, u.len), true, 'a datagram may be shorter than its IP payload');
});

test('tcpHeaderValid: truncated at every length, data offset below 5 or beyond the segment', () => {
  const f = frame('ipv4-tcp-options', 'ipv4', 'tcp');
  const b = bytesOf(f);
  const t = f.tcp;
  for (let avail = 0; avail <= t.hlen + 4; avail++) {
    assert.equal(tcpHeaderValid(b.slice(0, t.off + avail), t.off, avail), avail >= t.hlen, `avail ${avail}`);
  }
  for (let dataofs = 0; dataofs < 16; dataofs++) {
    const c = bytesOf(f);
    c[t.off + 12] = (dataofs << 4) | (c[t.off + 12] & 0x0f);
    const hlen = dataofs * 4;
    assert.equal(
      tcpHeaderValid(c, t.off, l4Length(f)),
      hlen >= TCP_MIN_HLEN && hlen <= l4Length(f),
      `dataofs ${dataofs}`,
    );
  }
});
