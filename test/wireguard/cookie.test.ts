// MAC1 / MAC2 / cookie replies: the golden cookie reply and the initiation retried with mac2
// from the independent transcript, then round trips between checker and generator, expiry
// of the responder's secret and of the initiator's cookie, and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, hex, toHex, scriptedRng, type Transcript } from './fixtures.js';
import { CookieChecker, CookieGenerator, MacVerdict, sourceAddressBytes } from '../../src/wireguard/cookie.js';
import { COOKIE_REFRESH_TIME } from '../../src/wireguard/constants.js';
import { wgCheck } from '../../src/wire/wireguard.js';

const t = fixture<Transcript[]>('transcript.json')[0];
const SOURCE = sourceAddressBytes(Uint8Array.of(198, 18, 60, 1), 51821);
const OTHER = sourceAddressBytes(Uint8Array.of(198, 18, 60, 1), 51822);

function checker(): CookieChecker {
  return new CookieChecker(hex(t.responder_static_public), scriptedRng([hex(t.cookie_secret), hex(t.cookie_nonce)]));
}

test('golden cookie reply and mac2', () => {
  const c = checker();
  const init = hex(t.initiation);
  assert.equal(c.check(init, 148, SOURCE, 0), MacVerdict.Mac1Only, 'valid mac1, no cookie yet');
  const reply = c.createReply(init, 148, SOURCE, 0);
  assert.equal(toHex(reply), t.cookie_reply);
  assert.equal(wgCheck(reply, 0, reply.length), 3);

  const g = new CookieGenerator(hex(t.responder_static_public));
  const again = hex(t.initiation);
  g.addMacs(again, 0); // the initiator sent this; the reply answers its mac1
  assert.equal(toHex(again), t.initiation);
  assert.ok(g.consumeReply(reply, 10));
  assert.ok(g.hasCookie(10));
  const retry = hex(t.initiation);
  retry.fill(0, 116);
  g.addMacs(retry, 20);
  assert.equal(toHex(retry), t.initiation_with_mac2);
  assert.equal(c.check(retry, 148, SOURCE, 30), MacVerdict.Mac2Valid);
  assert.equal(
    c.check(retry, 148, OTHER, 30),
    MacVerdict.Mac1Only,
    'the cookie is bound to the source address and port',
  );
});

test('mac1 is checked over exactly the bytes before it', () => {
  const c = checker();
  for (const at of [0, 8, 60, 115, 116, 131]) {
    const m = hex(t.initiation);
    m[at] ^= 1;
    assert.equal(c.check(m, 148, SOURCE, 0), MacVerdict.BadMac1, `byte ${at}`);
  }
  const m = hex(t.initiation);
  m[140] ^= 1; // inside mac2: mac1 still valid
  assert.equal(c.check(m, 148, SOURCE, 0), MacVerdict.Mac1Only);
  assert.ok(!c.checkMac1(m, 20), 'short lengths are refused');
  assert.ok(!c.checkMac1(m, 200), 'lengths beyond the buffer are refused');
});

test("the responder's secret expires after COOKIE_REFRESH_TIME, then a new one is drawn", () => {
  const c = new CookieChecker(hex(t.responder_static_public), scriptedRng());
  const g = new CookieGenerator(hex(t.responder_static_public));
  const init = hex(t.initiation);
  g.addMacs(init, 0);
  assert.ok(g.consumeReply(c.createReply(init, 148, SOURCE, 0), 0));
  g.addMacs(init, 1);
  assert.equal(c.check(init, 148, SOURCE, COOKIE_REFRESH_TIME - 1), MacVerdict.Mac2Valid);
  assert.equal(c.check(init, 148, SOURCE, COOKIE_REFRESH_TIME), MacVerdict.Mac1Only, 'secret too old');
  // A reply after the rotation carries a cookie of the new secret.
  g.addMacs(init, COOKIE_REFRESH_TIME);
  assert.ok(g.consumeReply(c.createReply(init, 148, SOURCE, COOKIE_REFRESH_TIME), COOKIE_REFRESH_TIME));
  g.addMacs(init, COOKIE_REFRESH_TIME + 1);
  assert.equal(c.check(init, 148, SOURCE, COOKIE_REFRESH_TIME + 2), MacVerdict.Mac2Valid);
});

test("the initiator's cookie expires: mac2 goes back to zeros", () => {
  const c = checker();
  const g = new CookieGenerator(hex(t.responder_static_public));
  const init = hex(t.initiation);
  g.addMacs(init, 0);
  assert.ok(g.consumeReply(c.createReply(init, 148, SOURCE, 0), 1000));
  g.addMacs(init, 1000 + COOKIE_REFRESH_TIME - 1);
  assert.ok(init.subarray(132).some((x) => x !== 0));
  g.addMacs(init, 1000 + COOKIE_REFRESH_TIME);
  assert.ok(init.subarray(132).every((x) => x === 0));
  assert.ok(!g.hasCookie(1000 + COOKIE_REFRESH_TIME));
});

test('cookie replies are refused unless they answer our last message, once', () => {
  const c = checker();
  const g = new CookieGenerator(hex(t.responder_static_public));
  const reply = c.createReply(hex(t.initiation), 148, SOURCE, 0);
  assert.ok(!g.consumeReply(reply, 0), 'nothing sent yet');
  const other = hex(t.initiation);
  other[20] ^= 1;
  g.addMacs(other, 0); // a different message, so a different mac1
  assert.ok(!g.consumeReply(reply, 0), 'answers another mac1');
  g.addMacs(hex(t.initiation), 0);
  const bad = Uint8Array.from(reply);
  bad[40] ^= 1;
  assert.ok(!g.consumeReply(bad, 0), 'tampered');
  assert.ok(!g.consumeReply(reply.subarray(0, 63), 0), 'wrong size');
  assert.ok(g.consumeReply(reply, 0));
  assert.ok(!g.consumeReply(reply, 0), 'the same reply twice');
  // A reply sealed for another responder's key does not open.
  const g2 = new CookieGenerator(hex(t.initiator_static_public));
  g2.addMacs(hex(t.initiation), 0);
  assert.ok(!g2.consumeReply(reply, 0));
});
