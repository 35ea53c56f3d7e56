// The timer state machine with an injected clock: retransmissions with jitter until
// REKEY_ATTEMPT_TIME, keepalive after KEEPALIVE_TIMEOUT of receiving without sending, a new
// handshake when sent data goes unanswered, persistent keepalive, zeroing keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerTimers, TimerAction, MAX_HANDSHAKE_ATTEMPTS } from '../../src/wireguard/timers.js';
import {
  KEEPALIVE_TIMEOUT,
  REKEY_TIMEOUT,
  REKEY_ATTEMPT_TIME,
  ZERO_KEYS_AFTER,
  REJECT_AFTER_TIME,
} from '../../src/wireguard/constants.js';

test('retransmits every REKEY_TIMEOUT + jitter, gives up at REKEY_ATTEMPT_TIME', () => {
  const jitters = [0, 333, 100];
  let j = 0;
  const tm = new PeerTimers({ jitter: () => jitters[j++ % jitters.length] });
  tm.handshakeInitiated(0);
  assert.equal(tm.retransmitAt, REKEY_TIMEOUT);
  assert.deepEqual(tm.tick(REKEY_TIMEOUT - 1), []);
  let now = 0;
  let sent = 1;
  for (;;) {
    now = tm.retransmitAt;
    const a = tm.tick(now);
    if (a.includes(TimerAction.GiveUp)) break;
    assert.deepEqual(a, [TimerAction.RetransmitInitiation]);
    tm.handshakeInitiated(now); // the tunnel sends it and reports back
    sent++;
  }
  assert.equal(sent, MAX_HANDSHAKE_ATTEMPTS, 'initiations sent in all');
  assert.ok(now >= REKEY_ATTEMPT_TIME && now <= REKEY_ATTEMPT_TIME + MAX_HANDSHAKE_ATTEMPTS * 333, String(now));
  assert.equal(tm.retransmitAt, Infinity);
  assert.equal(tm.zeroKeysAt, now + ZERO_KEYS_AFTER, 'keys erased 3 × REJECT_AFTER_TIME after giving up');
  assert.equal(ZERO_KEYS_AFTER, 3 * REJECT_AFTER_TIME);
});

test('jitter stays within 0..333 ms even if the source misbehaves', () => {
  for (const v of [-50, 0, 333, 10000]) {
    const tm = new PeerTimers({ jitter: () => v });
    tm.handshakeInitiated(1000);
    assert.ok(tm.retransmitAt >= 1000 + REKEY_TIMEOUT && tm.retransmitAt <= 1000 + REKEY_TIMEOUT + 333);
  }
});

test('a completed handshake stops retransmission and resets the attempts', () => {
  const tm = new PeerTimers({ jitter: () => 0 });
  tm.handshakeInitiated(0);
  tm.tick(REKEY_TIMEOUT);
  assert.equal(tm.handshakeAttempts, 1);
  tm.handshakeComplete(REKEY_TIMEOUT + 10);
  assert.equal(tm.handshakeAttempts, 0);
  assert.deepEqual(tm.tick(1e9), []);
});

test('new initiations at most once per REKEY_TIMEOUT', () => {
  const tm = new PeerTimers();
  assert.ok(tm.mayInitiate(0));
  tm.handshakeInitiated(0);
  assert.ok(!tm.mayInitiate(REKEY_TIMEOUT - 1));
  assert.ok(tm.mayInitiate(REKEY_TIMEOUT));
});

test('keepalive after KEEPALIVE_TIMEOUT of receiving data without sending any', () => {
  const tm = new PeerTimers();
  tm.dataReceived(1000);
  assert.deepEqual(tm.tick(1000 + KEEPALIVE_TIMEOUT - 1), []);
  assert.deepEqual(tm.tick(1000 + KEEPALIVE_TIMEOUT), [TimerAction.SendKeepalive]);
  // Sending something in between cancels it.
  tm.dataReceived(20000);
  tm.authenticatedPacketSent();
  assert.deepEqual(tm.tick(20000 + KEEPALIVE_TIMEOUT), []);
  // More data while a keepalive is pending: one more keepalive after the first.
  tm.dataReceived(40000);
  tm.dataReceived(45000);
  assert.deepEqual(tm.tick(40000 + KEEPALIVE_TIMEOUT), [TimerAction.SendKeepalive]);
  assert.deepEqual(tm.tick(40000 + 2 * KEEPALIVE_TIMEOUT), [TimerAction.SendKeepalive]);
  assert.deepEqual(tm.tick(40000 + 4 * KEEPALIVE_TIMEOUT), []);
});

test('data sent and nothing heard back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: new handshake', () => {
  const tm = new PeerTimers({ jitter: () => 0 });
  tm.dataSent(0);
  tm.dataSent(3000); // does not push the deadline
  assert.deepEqual(tm.tick(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 1), []);
  assert.deepEqual(tm.tick(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT), [TimerAction.SendInitiation]);
  tm.dataSent(100000);
  tm.authenticatedPacketReceived(); // the peer answered
  assert.deepEqual(tm.tick(1e9), []);
});

test('persistent keepalive after the interval without traffic either way', () => {
  const tm = new PeerTimers({ persistentKeepalive: 25 });
  tm.authenticatedPacketTraversal(0);
  tm.authenticatedPacketTraversal(10000);
  assert.deepEqual(tm.tick(34999), []);
  assert.deepEqual(tm.tick(35000), [TimerAction.SendKeepalive]);
  const off = new PeerTimers();
  off.authenticatedPacketTraversal(0);
  assert.deepEqual(off.tick(1e9), []);
});

test('keys are zeroed 3 × REJECT_AFTER_TIME after the last session was derived', () => {
  const tm = new PeerTimers();
  tm.sessionDerived(0);
  tm.sessionDerived(60000);
  assert.deepEqual(tm.tick(60000 + ZERO_KEYS_AFTER - 1), []);
  assert.deepEqual(tm.tick(60000 + ZERO_KEYS_AFTER), [TimerAction.ZeroKeys]);
  assert.equal(tm.nextDeadline(), Infinity);
});
