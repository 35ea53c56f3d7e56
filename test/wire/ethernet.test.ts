// Ethernet II header view and MAC text helpers against scapy-crafted frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ethType,
  isBroadcast,
  isGroup,
  writeEthernet,
  writeIpv6MulticastMac,
  parseMac,
  formatMac,
  ETH_HLEN,
  ETH_DST,
  ETH_SRC,
  ETHERTYPE_IPV4,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV6,
} from '../../src/wire/ethernet.js';
import { FRAMES, framesWith, frame, bytesOf } from './frames.js';

test('ethType and MAC addresses read exactly what scapy wrote', () => {
  for (const f of FRAMES) {
    const b = bytesOf(f);
    assert.equal(ethType(b, 0), f.eth.type, f.name);
    assert.equal(formatMac(b, ETH_DST), f.eth.dst, f.name);
    assert.equal(formatMac(b, ETH_SRC), f.eth.src, f.name);
    assert.equal(isBroadcast(b, ETH_DST), f.eth.dst === 'ff:ff:ff:ff:ff:ff', f.name);
    assert.equal(isGroup(b, ETH_DST), (parseInt(f.eth.dst.slice(0, 2), 16) & 1) === 1, f.name);
    assert.equal(isGroup(b, ETH_SRC), false, f.name);
  }
  const types = new Set(FRAMES.map((f) => f.eth.type));
  assert.deepEqual([...types].sort(), [ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6].sort());
});

test('broadcast and multicast destinations', () => {
  assert.equal(isBroadcast(bytesOf(frame('arp-request', 'arp')), ETH_DST), true);
  const ns = bytesOf(frame('ipv6-nd-ns', 'ipv6', 'icmpv6'));
  assert.equal(isBroadcast(ns, ETH_DST), false, '33:33:ff:00:00:0b is multicast, not broadcast');
  assert.equal(isGroup(ns, ETH_DST), true);
  assert.equal(isBroadcast(parseMac('ff:ff:ff:ff:ff:fe'), 0), false);
  assert.equal(isGroup(parseMac('01:00:5e:00:00:01'), 0), true);
  assert.equal(isGroup(parseMac('fe:ff:ff:ff:ff:ff'), 0), false);
});

test('writeEthernet reproduces every scapy Ethernet header', () => {
  for (const f of FRAMES) {
    const b = bytesOf(f);
    const out = new Uint8Array(ETH_HLEN + 2).fill(0xee);
    writeEthernet(out, 1, parseMac(f.eth.dst), 0, parseMac(f.eth.src), 0, f.eth.type);
    assert.deepEqual(out.subarray(1, 1 + ETH_HLEN), b.subarray(0, ETH_HLEN), f.name);
    assert.equal(out[0], 0xee);
    assert.equal(out[ETH_HLEN + 1], 0xee);
  }
});

test('writeIpv6MulticastMac maps the IPv6 destination group to the Ethernet destination (RFC 2464 §7)', () => {
  const multicast = framesWith('ipv6').filter((f) => f.ipv6.dst.startsWith('ff'));
  assert.ok(multicast.length >= 2);
  for (const f of multicast) {
    const b = bytesOf(f);
    const mac = new Uint8Array(6);
    writeIpv6MulticastMac(mac, 0, b, f.ipv6.off + 24);
    assert.equal(formatMac(mac), f.eth.dst, f.name);
  }
});

test('parseMac / formatMac', () => {
  assert.deepEqual(parseMac('02:00:00:00:00:0a'), Uint8Array.of(2, 0, 0, 0, 0, 10));
  assert.deepEqual(parseMac('02:00:00:00:00:0A'), Uint8Array.of(2, 0, 0, 0, 0, 10));
  assert.equal(formatMac(parseMac('02:00:00:00:00:0A')), '02:00:00:00:00:0a', 'lowercase output');
  assert.equal(formatMac(Uint8Array.of(9, 9, 2, 0, 0, 0, 0, 5), 2), '02:00:00:00:00:05');
  const bad = [
    '',
    '02:00:00:00:00',
    '02:00:00:00:00:00:00',
    '02-00-00-00-00-01',
    '2:0:0:0:0:1',
    '02:00:00:00:00:0g',
    ' 02:00:00:00:00:01',
    '02:00:00:00:00:01 ',
    '02:00:00:00:00:01\n',
    '0200.0000.0001',
    '020000000001',
  ];
  for (const t of bad) assert.throws(() => parseMac(t), /invalid MAC/, JSON.stringify(t));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (m) => {
      assert.deepEqual(parseMac(formatMac(m)), m);
      assert.match(formatMac(m), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    }),
  );
});
