// ARP view (RFC 826) against scapy-crafted requests and replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpValid,
  arpOp,
  writeArp,
  ARP_LEN,
  ARP_SHA,
  ARP_SPA,
  ARP_THA,
  ARP_TPA,
  ARP_REQUEST,
  ARP_REPLY,
} from '../../src/wire/arp.js';
import { formatMac, parseMac } from '../../src/wire/ethernet.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';
import { get16 } from '../../src/wire/bytes.js';
import { framesWith, frame, bytesOf, dotted } from './frames.js';

const ARPS = framesWith('arp');

test('views read exactly what scapy wrote', () => {
  assert.equal(ARPS.length, 2);
  for (const f of ARPS) {
    const b = bytesOf(f);
    const a = f.arp;
    const o = a.off;
    assert.equal(arpValid(b, o, b.length - o), true, f.name);
    assert.equal(get16(b, o), a.hwtype);
    assert.equal(get16(b, o + 2), a.ptype);
    assert.equal(b[o + 4], a.hwlen);
    assert.equal(b[o + 5], a.plen);
    assert.equal(arpOp(b, o), a.op, f.name);
    assert.equal(formatMac(b, o + ARP_SHA), a.hwsrc, f.name);
    assert.equal(dotted(b, o + ARP_SPA), a.psrc, f.name);
    assert.equal(formatMac(b, o + ARP_THA), a.hwdst, f.name);
    assert.equal(dotted(b, o + ARP_TPA), a.pdst, f.name);
  }
  assert.equal(arpOp(bytesOf(frame('arp-request', 'arp')), 14), ARP_REQUEST);
  assert.equal(arpOp(bytesOf(frame('arp-reply-padded', 'arp')), 14), ARP_REPLY);
});

test('writeArp reproduces the scapy ARP bodies byte for byte', () => {
  for (const f of ARPS) {
    const b = bytesOf(f);
    const a = f.arp;
    const out = new Uint8Array(ARP_LEN + 4).fill(0xee);
    writeArp(out, 2, a.op, parseMac(a.hwsrc), 0, parseIpv4(a.psrc)!, 0, parseMac(a.hwdst), 0, parseIpv4(a.pdst)!, 0);
    assert.deepEqual(out.subarray(2, 2 + ARP_LEN), b.subarray(a.off, a.off + ARP_LEN), f.name);
    assert.deepEqual([out[0], out[1], out[ARP_LEN + 2], out[ARP_LEN + 3]], [0xee, 0xee, 0xee, 0xee]);
  }
});

test('arpValid: truncated at every length, never throws; padding after the body is fine', () => {
  for (const f of ARPS) {
    const full = bytesOf(f);
    for (let cut = 0; cut <= full.length; cut++) {
      const avail = cut - f.arp.off;
      assert.equal(arpValid(full.slice(0, cut), f.arp.off, avail), avail >= ARP_LEN, `${f.name} cut at ${cut}`);
    }
  }
  assert.equal(frame('arp-reply-padded', 'arp').len, 60);
});

test('arpValid rejects anything but Ethernet/IPv4 (htype 1, ptype 0800, hlen 6, plen 4)', () => {
  const f = frame('arp-request', 'arp');
  const o = f.arp.off;
  const variants: [number, number][] = [
    [o + 1, 6], // htype 6 (IEEE 802)
    [o, 1], // htype 0x0101
    [o + 2, 0x86], // ptype 0x8600
    [o + 3, 0xdd], // ptype 0x08dd
    [o + 4, 8], // hlen 8
    [o + 5, 16], // plen 16
  ];
  for (const [at, v] of variants) {
    const b = bytesOf(f);
    b[at] = v;
    assert.equal(arpValid(b, o, b.length - o), false, `byte ${at - o} = ${v}`);
  }
});
