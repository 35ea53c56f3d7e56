// Keypairs and message layouts: exact sizes per type, in-place seal/open with headroom,
// padding, send counter limits near REJECT_AFTER_MESSAGES, the shared state seen from a
// second Keypair built from the descriptor (as a worker would), zeroing; TAI64N ordering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keypair,
  TRANSPORT_COUNTER_EXHAUSTED,
  TRANSPORT_NO_ROOM,
  TRANSPORT_REPLAY,
  TRANSPORT_ZEROED,
  TRANSPORT_EXPIRED,
  TRANSPORT_DECRYPT_FAILED,
} from '../../src/wireguard/keypair.js';
import { Session } from '../../src/wireguard/session.js';
import {
  wgCheck,
  wgPaddedLength,
  WG_BAD_SIZE,
  WG_BAD_TYPE,
  WG_TRUNCATED,
  wgCounterHi,
  wgCounterLo,
} from '../../src/wire/wireguard.js';
import { tai64n, tai64nAfter } from '../../src/wireguard/tai64n.js';
import {
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  MSG_INITIATION_SIZE,
  MSG_RESPONSE_SIZE,
  MSG_COOKIE_REPLY_SIZE,
} from '../../src/wireguard/constants.js';

const K1 = new Uint8Array(32).fill(1);
const K2 = new Uint8Array(32).fill(2);

function pair(): [Keypair, Keypair] {
  return [
    Keypair.create(Uint8Array.from(K1), Uint8Array.from(K2), 10, 20, 0, true),
    Keypair.create(Uint8Array.from(K2), Uint8Array.from(K1), 20, 10, 0, false),
  ];
}

function seal(kp: Keypair, plain: Uint8Array): Uint8Array {
  const padded = wgPaddedLength(plain.length);
  const buf = new Uint8Array(16 + padded + 16);
  buf.set(plain, 16);
  const n = kp.seal(buf, 16, plain.length, padded, 1);
  assert.equal(n, buf.length);
  return buf;
}

test('message sizes are exact; reserved bytes must be zero', () => {
  for (const [type, size] of [
    [1, MSG_INITIATION_SIZE],
    [2, MSG_RESPONSE_SIZE],
    [3, MSG_COOKIE_REPLY_SIZE],
  ]) {
    const b = new Uint8Array(size + 1);
    b[0] = type;
    assert.equal(wgCheck(b, 0, size), type);
    assert.equal(wgCheck(b, 0, size - 1), WG_BAD_SIZE);
    assert.equal(wgCheck(b, 0, size + 1), WG_BAD_SIZE);
    b[3] = 1;
    assert.equal(wgCheck(b, 0, size), WG_BAD_TYPE);
  }
  const d = new Uint8Array(40);
  d[0] = 4;
  assert.equal(wgCheck(d, 0, 32), 4);
  assert.equal(wgCheck(d, 0, 31), WG_BAD_SIZE);
  assert.equal(wgCheck(d, 0, 3), WG_TRUNCATED);
  assert.equal(wgCheck(d, 30, 20), WG_TRUNCATED, 'beyond the buffer');
  assert.deepEqual(
    [0, 1, 15, 16, 17, 1420].map((n) => wgPaddedLength(n)),
    [0, 16, 16, 16, 32, 1424],
  );
  assert.equal(wgPaddedLength(1419, 1420), 1420, 'never padded past the MTU');
});

test('seal / open in place, counters in order, header fields', () => {
  const [a, b] = pair();
  for (let i = 0; i < 3; i++) {
    const m = seal(a, Uint8Array.of(0x45, i));
    assert.equal(m[0], 4);
    assert.equal(m[4], 20, "the receiver index is the peer's");
    assert.equal(wgCounterLo(m, 0), i);
    assert.equal(b.open(m, 0, m.length, 1), 16);
    assert.deepEqual([...m.subarray(16, 18)], [0x45, i]);
    assert.ok(
      m.subarray(18, 32).every((x) => x === 0),
      'zero padding',
    );
  }
  assert.equal(a.sendCount(), 3n);
  const buf = new Uint8Array(40);
  assert.equal(a.seal(buf, 8, 4, 16, 1), TRANSPORT_NO_ROOM, 'needs 16 bytes of headroom');
  assert.equal(a.seal(buf, 16, 4, 16, 1), TRANSPORT_NO_ROOM, 'needs room for the tag');
});

test('send counter near REJECT_AFTER_MESSAGES, across the 32-bit carry', () => {
  const [a, b] = pair();
  a.setSendCount((1n << 32n) - 1n);
  const m1 = seal(a, new Uint8Array(0));
  const m2 = seal(a, new Uint8Array(0));
  assert.deepEqual([wgCounterHi(m1, 0), wgCounterLo(m1, 0)], [0, 0xffffffff]);
  assert.deepEqual([wgCounterHi(m2, 0), wgCounterLo(m2, 0)], [1, 0]);
  assert.equal(b.open(m2, 0, m2.length, 1), 0);
  assert.equal(b.open(m1, 0, m1.length, 1), 0, 'out of order across the carry');
  a.setSendCount(REJECT_AFTER_MESSAGES - 1n);
  const last = seal(a, new Uint8Array(0));
  assert.equal(b.open(last, 0, last.length, 1), 0, 'the last counter allowed');
  assert.equal(a.seal(new Uint8Array(64), 16, 0, 0, 1), TRANSPORT_COUNTER_EXHAUSTED);
  assert.equal(a.sendCount(), REJECT_AFTER_MESSAGES, 'stays at the limit');
});

test('another Keypair from the descriptor shares the counter and the replay window', () => {
  const [a, b] = pair();
  const a2 = new Keypair(a.descriptor());
  const b2 = new Keypair(b.descriptor());
  const m1 = seal(a, Uint8Array.of(1));
  const m2 = seal(a2, Uint8Array.of(2));
  assert.equal(wgCounterLo(m2, 0), 1, "a2 continues a's counter");
  const copy = Uint8Array.from(m1);
  assert.equal(b.open(m1, 0, m1.length, 1), 16);
  assert.equal(b2.open(copy, 0, copy.length, 1), TRANSPORT_REPLAY, 'b2 sees what b accepted');
  assert.equal(b2.open(m2, 0, m2.length, 1), 16);
});

test('expiry, tampering, zeroing', () => {
  const [a, b] = pair();
  const m = seal(a, Uint8Array.of(7));
  assert.equal(b.open(Uint8Array.from(m), 0, m.length, REJECT_AFTER_TIME), TRANSPORT_EXPIRED);
  assert.equal(a.seal(new Uint8Array(64), 16, 0, 0, REJECT_AFTER_TIME), TRANSPORT_EXPIRED);
  const bad = Uint8Array.from(m);
  bad[m.length - 1] ^= 1;
  assert.equal(b.open(bad, 0, bad.length, 1), TRANSPORT_DECRYPT_FAILED);
  assert.equal(b.open(m, 0, m.length, 1), 16, 'a failed forgery does not burn the counter');
  const d = b.descriptor();
  b.zero();
  assert.ok(b.zeroed);
  assert.ok(d.sendKey.every((x) => x === 0) && d.recvKey.every((x) => x === 0), 'raw keys erased');
  assert.equal(b.open(Uint8Array.from(m), 0, m.length, 1), TRANSPORT_ZEROED);
});

test('session slots: responder keys wait in next until the initiator uses them', () => {
  const s = new Session();
  const keys = (li: number, init: boolean) => ({
    sendKey: new Uint8Array(32).fill(li),
    recvKey: new Uint8Array(32),
    localIndex: li,
    remoteIndex: 0,
    isInitiator: init,
  });
  const cur = (): Keypair | null => s.current;
  const n1 = s.install(keys(1, false), 0);
  assert.equal(s.next, n1);
  assert.equal(s.current, null);
  assert.ok(s.received(n1));
  assert.equal(s.current, n1);
  const c2 = s.install(keys(2, true), 10);
  assert.deepEqual([cur()?.localIndex, s.previous?.localIndex], [2, 1]);
  const n3 = s.install(keys(3, false), 20);
  assert.equal(s.byIndex(3), n3);
  const c4 = s.install(keys(4, true), 30);
  assert.deepEqual(
    [cur()?.localIndex, s.previous?.localIndex, s.next],
    [4, 3, null],
    'an unconfirmed next is kept for receiving',
  );
  assert.ok(c2.zeroed, 'the replaced current is erased');
  assert.ok(!s.received(c4));
  assert.deepEqual(s.indices().sort(), [3, 4]);
  s.zeroAll();
  assert.ok(c4.zeroed && n3.zeroed && cur() === null);
});

test('TAI64N: format, ordering, whitening of the sub-second part', () => {
  const t = tai64n(0);
  assert.equal(Buffer.from(t).toString('hex'), '400000000000000a00000000');
  assert.ok(tai64nAfter(tai64n(2000), tai64n(1000)));
  assert.ok(!tai64nAfter(tai64n(1000), tai64n(1000)));
  assert.ok(!tai64nAfter(tai64n(1000), tai64n(2000)));
  assert.ok(!tai64nAfter(tai64n(1001), tai64n(1000)), 'within 2^24 ns: the same timestamp');
  assert.ok(tai64nAfter(tai64n(1020), tai64n(1000)), '≥ 16.8 ms later: newer');
  assert.ok(tai64nAfter(tai64n(1_700_000_001_000), tai64n(1_700_000_000_999)));
});
