// The Noise_IKpsk2 handshake against test/fixtures/wireguard/transcript.json, which
// gen_transcript.py computes independently (Python hashlib / cryptography, straight from the
// paper): fixed static keys, ephemerals, indices and timestamp must give exactly those bytes,
// in both roles, with and without a preshared key. Then tampering, replay and flood cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, hex, toHex, type Transcript } from './fixtures.js';
import {
  LocalIdentity,
  Handshake,
  HandshakeState,
  createInitiation,
  consumeInitiation,
  createResponse,
  consumeResponse,
  deriveSessionKeys,
  initiatorStaticKey,
} from '../../src/wireguard/noise.js';
import { CookieGenerator, CookieChecker } from '../../src/wireguard/cookie.js';
import { Keypair } from '../../src/wireguard/keypair.js';
import { tai64n } from '../../src/wireguard/tai64n.js';
import { wgCheck } from '../../src/wire/wireguard.js';
import { MSG_INITIATION, MSG_RESPONSE, MSG_TRANSPORT } from '../../src/wireguard/constants.js';

const TRANSCRIPTS = fixture<Transcript[]>('transcript.json');

interface Sides {
  t: Transcript;
  ini: LocalIdentity;
  res: LocalIdentity;
  iHs: Handshake;
  rHs: Handshake;
}

function sides(t: Transcript): Sides {
  const ini = new LocalIdentity(hex(t.initiator_static_private));
  const res = new LocalIdentity(hex(t.responder_static_private));
  const psk = t.preshared_key ? hex(t.preshared_key) : undefined;
  return {
    t,
    ini,
    res,
    iHs: new Handshake(ini, res.keys.publicKey, psk),
    rHs: new Handshake(res, ini.keys.publicKey, psk),
  };
}

function initiation(s: Sides): Uint8Array {
  const msg = createInitiation(s.iHs, hex(s.t.initiator_ephemeral_private), s.t.initiator_index, s.t.wall_ms);
  assert.ok(msg);
  new CookieGenerator(s.res.keys.publicKey).addMacs(msg, 0);
  return msg;
}

test('public keys and TAI64N match the reference', () => {
  for (const t of TRANSCRIPTS) {
    const s = sides(t);
    assert.equal(toHex(s.ini.keys.publicKey), t.initiator_static_public);
    assert.equal(toHex(s.res.keys.publicKey), t.responder_static_public);
    assert.equal(toHex(tai64n(t.wall_ms)), t.tai64n);
  }
});

for (const t of TRANSCRIPTS) {
  test(`golden handshake (${t.name}): initiation, response, transport keys and first messages`, () => {
    const s = sides(t);
    const init = initiation(s);
    assert.equal(toHex(init), t.initiation, 'initiation bytes');
    assert.equal(wgCheck(init, 0, init.length), MSG_INITIATION);
    assert.equal(s.iHs.state, HandshakeState.InitiationCreated);

    assert.ok(new CookieChecker(s.res.keys.publicKey).checkMac1(hex(t.initiation), 148));
    const found = consumeInitiation(
      s.res,
      hex(t.initiation),
      (pub) => (toHex(pub) === t.initiator_static_public ? s.rHs : undefined),
      1000,
    );
    assert.equal(found, s.rHs);
    assert.equal(s.rHs.remoteIndex, t.initiator_index);
    const resp = createResponse(s.rHs, hex(t.responder_ephemeral_private), t.responder_index);
    assert.ok(resp);
    new CookieGenerator(s.ini.keys.publicKey).addMacs(resp, 0);
    assert.equal(toHex(resp), t.response, 'response bytes');
    assert.equal(wgCheck(resp, 0, resp.length), MSG_RESPONSE);

    assert.equal(consumeResponse(s.iHs, hex(t.response)), null);
    const ik = deriveSessionKeys(s.iHs);
    const rk = deriveSessionKeys(s.rHs);
    assert.ok(ik && rk);
    assert.equal(toHex(ik.sendKey), t.initiator_send_key);
    assert.equal(toHex(ik.recvKey), t.initiator_recv_key);
    assert.deepEqual([toHex(rk.sendKey), toHex(rk.recvKey)], [t.initiator_recv_key, t.initiator_send_key]);
    assert.deepEqual([ik.localIndex, ik.remoteIndex, ik.isInitiator], [t.initiator_index, t.responder_index, true]);
    assert.deepEqual([rk.localIndex, rk.remoteIndex, rk.isInitiator], [t.responder_index, t.initiator_index, false]);
    assert.equal(s.iHs.state, HandshakeState.None, 'handshake state cleared after deriving');

    // First transport messages: the initiator's data with counter 0, the responder's keepalive.
    const ikp = Keypair.create(ik.sendKey, ik.recvKey, ik.localIndex, ik.remoteIndex, 0, true);
    const rkp = Keypair.create(rk.sendKey, rk.recvKey, rk.localIndex, rk.remoteIndex, 0, false);
    const plain = hex(t.plaintext);
    const buf = new Uint8Array(16 + 32 + 16);
    buf.set(plain, 16);
    assert.equal(ikp.seal(buf, 16, plain.length, 32, 1), 64);
    assert.equal(toHex(buf), t.transport_initiator_counter0, 'transport bytes');
    const ka = new Uint8Array(32);
    assert.equal(rkp.seal(ka, 16, 0, 0, 1), 32);
    assert.equal(toHex(ka), t.keepalive_responder_counter0, 'keepalive bytes');
    assert.equal(wgCheck(ka, 0, 32), MSG_TRANSPORT);
    const got = hex(t.transport_initiator_counter0);
    assert.equal(rkp.open(got, 0, got.length, 2), 32);
    assert.equal(toHex(got.subarray(16, 16 + plain.length)), t.plaintext);
  });
}

test('the responder finds the initiator by its static key alone', () => {
  const t = TRANSCRIPTS[0];
  const res = new LocalIdentity(hex(t.responder_static_private));
  assert.equal(toHex(initiatorStaticKey(res, hex(t.initiation))!), t.initiator_static_public);
  const bad = hex(t.initiation);
  bad[50] ^= 1;
  assert.equal(initiatorStaticKey(res, bad), null);
});

test('initiation: tampering, unknown peer, replayed timestamp, flood: a named error each, no state change', () => {
  const t = TRANSCRIPTS[0];
  const s = sides(t);
  const find = (pub: Uint8Array): Handshake | undefined =>
    toHex(pub) === t.initiator_static_public ? s.rHs : undefined;
  const tamper = (at: number): Uint8Array => {
    const m = hex(t.initiation);
    m[at] ^= 0x80;
    return m;
  };
  assert.equal(consumeInitiation(s.res, tamper(60), find, 0), 'decryptStatic');
  assert.equal(consumeInitiation(s.res, tamper(100), find, 0), 'decryptTimestamp');
  assert.equal(consumeInitiation(s.res, tamper(10), find, 0), 'decryptStatic', 'another ephemeral gives other keys');
  assert.equal(
    consumeInitiation(s.res, hex(t.initiation), () => undefined, 0),
    'unknownPeer',
  );
  const zeroEph = hex(t.initiation);
  zeroEph.fill(0, 8, 40);
  assert.equal(consumeInitiation(s.res, zeroEph, find, 0), 'badDh', 'low-order ephemeral');
  assert.equal(s.rHs.state, HandshakeState.None);

  assert.equal(consumeInitiation(s.res, hex(t.initiation), find, 1000), s.rHs);
  assert.equal(consumeInitiation(s.res, hex(t.initiation), find, 5000), 'staleTimestamp', 'the same initiation again');

  // A newer one from the same initiator, but within 20 ms of the last: flood.
  const s2 = sides(t);
  const find2 = (pub: Uint8Array): Handshake | undefined =>
    toHex(pub) === t.initiator_static_public ? s2.rHs : undefined;
  const m1 = createInitiation(s2.iHs, hex(t.initiator_ephemeral_private), 1, t.wall_ms)!;
  const m2 = createInitiation(s2.iHs, hex(t.initiator_ephemeral_private), 2, t.wall_ms + 1000)!;
  assert.equal(consumeInitiation(s2.res, m1, find2, 100), s2.rHs);
  assert.equal(consumeInitiation(s2.res, m2, find2, 110), 'initiationFlood');
  assert.equal(consumeInitiation(s2.res, m2, find2, 121), s2.rHs);
});

test('response: only to our pending initiation, tampering refused without disturbing it', () => {
  const t = TRANSCRIPTS[1];
  const s = sides(t);
  assert.equal(consumeResponse(s.iHs, hex(t.response)), 'unexpectedResponse', 'nothing pending');
  initiation(s);
  const wrongIdx = hex(t.response);
  wrongIdx[8] ^= 1;
  assert.equal(consumeResponse(s.iHs, wrongIdx), 'unexpectedResponse');
  const bad = hex(t.response);
  bad[50] ^= 1;
  assert.equal(consumeResponse(s.iHs, bad), 'decryptEmpty');
  const badEph = hex(t.response);
  badEph[20] ^= 1;
  assert.equal(consumeResponse(s.iHs, badEph), 'decryptEmpty');
  assert.equal(s.iHs.state, HandshakeState.InitiationCreated);
  assert.equal(consumeResponse(s.iHs, hex(t.response)), null, 'the genuine response still completes it');
  // A PSK mismatch fails at the response's empty payload.
  const other = sides(t);
  const noPsk = new Handshake(other.ini, other.res.keys.publicKey);
  createInitiation(noPsk, hex(t.initiator_ephemeral_private), t.initiator_index, t.wall_ms);
  assert.equal(consumeResponse(noPsk, hex(t.response)), 'decryptEmpty');
  assert.equal(
    createResponse(new Handshake(other.res, other.ini.keys.publicKey), hex(t.responder_ephemeral_private), 1),
    null,
    'no initiation consumed',
  );
});
