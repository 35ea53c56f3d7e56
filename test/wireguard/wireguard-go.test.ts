// Golden bytes from a real peer: messages captured from wireguard-go (fixtures/wireguard/
// wireguard-go.json, see its description). Without any network: wireguard-go's response to
// our golden initiation completes our handshake and its transport messages decrypt to the
// echo replies; wireguard-go's own initiation (random ephemeral and timestamp) is accepted
// by our responder, our response with the pinned ephemeral is byte-identical to the one it
// accepted, and its echo requests decrypt under the derived keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, hex, toHex, type Transcript } from './fixtures.js';
import {
  LocalIdentity,
  Handshake,
  createInitiation,
  consumeInitiation,
  createResponse,
  consumeResponse,
  deriveSessionKeys,
} from '../../src/wireguard/noise.js';
import { CookieChecker, CookieGenerator } from '../../src/wireguard/cookie.js';
import { Keypair, TRANSPORT_REPLAY } from '../../src/wireguard/keypair.js';
import { ipPacketLength } from '../../src/wireguard/tunnel.js';
import { wgCheck } from '../../src/wire/wireguard.js';

interface Captured {
  golden_initiation: string;
  response_to_golden: string;
  transport_after_golden: string[];
  wggo_initiation: string;
  weft_response: string;
  weft_response_index: number;
  wggo_transport: string[];
}

const t = fixture<Transcript[]>('transcript.json')[0];
const c = fixture<Captured>('wireguard-go.json');
const weft = new LocalIdentity(hex(t.initiator_static_private));
const wggoPublic = hex(t.responder_static_public);

function decryptAll(kp: Keypair, messages: string[]): Uint8Array[] {
  return messages.map((m) => {
    const b = hex(m);
    assert.equal(wgCheck(b, 0, b.length), 4);
    const n = kp.open(b, 0, b.length, 1);
    assert.ok(n > 0, `transport message opens (${n})`);
    const inner = b.subarray(16, 16 + n);
    return inner.subarray(0, ipPacketLength(inner));
  });
}

test('the initiation wireguard-go accepted is the golden one', () => {
  assert.equal(c.golden_initiation, t.initiation);
});

test("wireguard-go's response to the golden initiation completes our handshake; its transport decrypts", () => {
  const hs = new Handshake(weft, wggoPublic);
  const init = createInitiation(hs, hex(t.initiator_ephemeral_private), t.initiator_index, t.wall_ms)!;
  new CookieGenerator(wggoPublic).addMacs(init, 0);
  assert.equal(toHex(init), c.golden_initiation);
  const resp = hex(c.response_to_golden);
  assert.equal(wgCheck(resp, 0, resp.length), 2);
  assert.ok(new CookieChecker(weft.keys.publicKey).checkMac1(resp, resp.length), 'mac1 for our key');
  assert.equal(consumeResponse(hs, resp), null);
  const k = deriveSessionKeys(hs)!;
  const kp = Keypair.create(k.sendKey, k.recvKey, k.localIndex, k.remoteIndex, 0, true);
  const packets = decryptAll(kp, c.transport_after_golden);
  assert.deepEqual(packets.map((p) => p[0] >> 4).sort(), [4, 6]);
  const v4 = packets.find((p) => p[0] >> 4 === 4)!;
  assert.deepEqual([...v4.subarray(12, 20)], [198, 18, 61, 1, 198, 18, 61, 2], 'reply from 198.18.61.1 to 198.18.61.2');
  assert.equal(v4[20], 0, 'ICMP echo reply');
  const v6 = packets.find((p) => p[0] >> 4 === 6)!;
  assert.equal(v6[40], 129, 'ICMPv6 echo reply');
});

test("wireguard-go's initiation is accepted by our responder; our response and its transport check out", () => {
  const init = hex(c.wggo_initiation);
  assert.equal(wgCheck(init, 0, init.length), 1);
  assert.ok(new CookieChecker(weft.keys.publicKey).checkMac1(init, init.length));
  const hs = new Handshake(weft, wggoPublic);
  assert.equal(
    consumeInitiation(weft, init, (pub) => (toHex(pub) === t.responder_static_public ? hs : undefined), 0),
    hs,
  );
  assert.equal(
    consumeInitiation(weft, init, () => hs, 1000),
    'staleTimestamp',
    'replayed initiation refused',
  );
  const resp = createResponse(hs, hex(t.responder_ephemeral_private), c.weft_response_index)!;
  new CookieGenerator(wggoPublic).addMacs(resp, 0);
  assert.equal(toHex(resp), c.weft_response, 'the response wireguard-go accepted');
  const k = deriveSessionKeys(hs)!;
  const kp = Keypair.create(k.sendKey, k.recvKey, k.localIndex, k.remoteIndex, 0, false);
  const packets = decryptAll(kp, c.wggo_transport);
  assert.ok(
    packets.some((p) => p[0] >> 4 === 4 && p[20] === 8),
    'an ICMP echo request',
  );
  assert.ok(
    packets.some((p) => p[0] >> 4 === 6 && p[40] === 128),
    'an ICMPv6 echo request',
  );
  const again = hex(c.wggo_transport[0]);
  assert.equal(kp.open(again, 0, again.length, 2), TRANSPORT_REPLAY, 'replayed transport message refused');
  // A different responder key cannot read wireguard-go's initiation.
  const stranger = new LocalIdentity(hex(t.responder_ephemeral_private));
  assert.equal(
    consumeInitiation(stranger, init, () => hs, 0),
    'decryptStatic',
  );
});
