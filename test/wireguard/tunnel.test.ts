// The Tunnel facade end to end in memory, with an injected clock and randomness: handshake,
// queued packets, keepalive confirmation, rotation with previous/next keypairs, rekey and
// expiry by time, roaming, cookie replies under load, zeroing, the time scale, and hostile
// input — every refusal a named error, nothing thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tunnel, type TunnelAction, type Endpoint, type TunnelOptions } from '../../src/wireguard/tunnel.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../src/wireguard/x25519.js';
import { scriptedRng } from './fixtures.js';
import {
  REKEY_AFTER_TIME,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
  ZERO_KEYS_AFTER,
  KEEPALIVE_TIMEOUT,
} from '../../src/wireguard/constants.js';

const A_ADDR: Endpoint = { address: '198.18.62.1', port: 40001 };
const B_ADDR: Endpoint = { address: '198.18.62.2', port: 51820 };

function pair(aOpts: Partial<TunnelOptions> = {}, bOpts: Partial<TunnelOptions> = {}): { a: Tunnel; b: Tunnel } {
  const ka = generatePrivateKey(scriptedRng([new Uint8Array(32).fill(0xa1)]));
  const kb = generatePrivateKey(scriptedRng([new Uint8Array(32).fill(0xb2)]));
  let wall = 1_700_000_000_000;
  const clock = (): number => (wall += 1000);
  const a = new Tunnel({
    privateKey: ka,
    peerPublicKey: publicKeyFromPrivate(kb),
    endpoint: B_ADDR,
    rng: scriptedRng(),
    wallClock: clock,
    ...aOpts,
  });
  const b = new Tunnel({
    privateKey: kb,
    peerPublicKey: publicKeyFromPrivate(ka),
    rng: scriptedRng(),
    wallClock: clock,
    ...bOpts,
  });
  return { a, b };
}

function ip4(len = 40, id = 1): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[5] = id;
  p[9] = 17;
  p.set([198, 18, 62, 10, 198, 18, 62, 20], 12);
  return p;
}

const net = (acts: TunnelAction[]): Extract<TunnelAction, { type: 'network' }>[] =>
  acts.filter((x): x is Extract<TunnelAction, { type: 'network' }> => x.type === 'network');
const errs = (acts: TunnelAction[]): string[] =>
  acts.filter((x): x is Extract<TunnelAction, { type: 'error' }> => x.type === 'error').map((x) => x.reason);
const tun = (acts: TunnelAction[]): Uint8Array[] =>
  acts.filter((x): x is Extract<TunnelAction, { type: 'tunnel' }> => x.type === 'tunnel').map((x) => x.packet);

/** Delivers every network action of `acts` to `to` (from `from`) and returns what `to` did. */
function deliver(acts: TunnelAction[], to: Tunnel, from: Endpoint, now: number): TunnelAction[] {
  const out: TunnelAction[] = [];
  for (const n of net(acts)) out.push(...to.decapsulate(Uint8Array.from(n.packet), from, now));
  return out;
}

/** Handshake initiated by a with a queued packet; returns b's received packets. */
function connect(a: Tunnel, b: Tunnel, now: number): Uint8Array[] {
  const first = a.encapsulate(ip4(40, 9), now);
  assert.deepEqual(
    net(first).map((n) => n.kind),
    ['initiation'],
  );
  const resp = deliver(first, b, A_ADDR, now);
  assert.deepEqual(
    net(resp).map((n) => n.kind),
    ['response'],
  );
  const data = deliver(resp, a, B_ADDR, now);
  assert.deepEqual(
    net(data).map((n) => n.kind),
    ['data'],
    'the queued packet goes out at once',
  );
  return tun(deliver(data, b, A_ADDR, now));
}

test('handshake, queued packet delivered, data both ways, padding to 16', () => {
  const { a, b } = pair();
  const got = connect(a, b, 0);
  assert.equal(got.length, 1);
  assert.deepEqual([...got[0]], [...ip4(40, 9)]);
  assert.ok(b.session.current && a.session.current, 'the responder promoted next on the first data');
  const back = b.encapsulate(ip4(33, 2), 10);
  assert.equal(net(back)[0].packet.length, 16 + 48 + 16, '33 bytes pad to 48');
  assert.deepEqual([...tun(deliver(back, a, B_ADDR, 11))[0]], [...ip4(33, 2)]);
  assert.equal(b.endpoint?.address, A_ADDR.address, 'the responder learned the endpoint from the initiation');
  assert.ok(a.txBytes > 0 && a.rxBytes > 0 && b.txBytes > 0 && b.rxBytes > 0);
});

test('without queued data the initiator confirms with a keepalive; the responder cannot send before that', () => {
  const { a, b } = pair();
  const init = a.forceHandshake(0);
  const resp = deliver(init, b, A_ADDR, 1);
  // The responder has only `next`: its data waits.
  const early = b.encapsulate(ip4(), 2);
  assert.equal(net(early).filter((n) => n.kind === 'data').length, 0);
  const ka = deliver(resp, a, B_ADDR, 3);
  assert.deepEqual(
    net(ka).map((n) => n.kind),
    ['keepalive'],
  );
  assert.equal(net(ka)[0].packet.length, 32);
  const afterKa = deliver(ka, b, A_ADDR, 4);
  assert.deepEqual(
    net(afterKa).map((n) => n.kind),
    ['data'],
    'the queued packet leaves once confirmed',
  );
  assert.equal(tun(deliver(afterKa, a, B_ADDR, 5)).length, 1);
});

test('a transport message replayed 1000 times is refused every time', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const msg = net(a.encapsulate(ip4(), 1))[0].packet;
  assert.equal(tun(b.decapsulate(Uint8Array.from(msg), A_ADDR, 2)).length, 1);
  let replays = 0;
  for (let i = 0; i < 1000; i++) if (errs(b.decapsulate(Uint8Array.from(msg), A_ADDR, 3))[0] === 'replay') replays++;
  assert.equal(replays, 1000);
});

test('hostile input: each malformed datagram gets its named reason', () => {
  const { a, b } = pair();
  const one = (d: Uint8Array, t: Tunnel = b): string[] => errs(t.decapsulate(d, A_ADDR, 0));
  assert.deepEqual(one(new Uint8Array(0)), ['truncated']);
  assert.deepEqual(one(Uint8Array.of(1, 0, 0)), ['truncated']);
  assert.deepEqual(one(Uint8Array.of(9, 0, 0, 0, 1, 2, 3, 4)), ['badType']);
  assert.deepEqual(
    one(Uint8Array.of(1, 0, 1, 0, ...new Array(144).fill(0))),
    ['badType'],
    'reserved bytes must be zero',
  );
  for (const [type, size] of [
    [1, 147],
    [1, 149],
    [2, 91],
    [2, 93],
    [3, 63],
    [3, 65],
    [4, 31],
  ]) {
    const d = new Uint8Array(size);
    d[0] = type;
    assert.deepEqual(one(d), ['wrongSize'], `type ${type} size ${size}`);
  }
  const init = new Uint8Array(148);
  init[0] = 1;
  assert.deepEqual(one(init), ['badMac1']);
  const resp = new Uint8Array(92);
  resp[0] = 2;
  assert.deepEqual(one(resp), ['badMac1']);
  const data = new Uint8Array(64);
  data[0] = 4;
  assert.deepEqual(one(data), ['noSession'], 'transport data before any handshake');
  const cookie = new Uint8Array(64);
  cookie[0] = 3;
  assert.deepEqual(one(cookie), ['unknownReceiverIndex']);
  assert.deepEqual(errs(b.decapsulate(init, { address: 'not-an-ip', port: 1 }, 0)), ['badSourceAddress']);

  connect(a, b, 0);
  const good = net(a.encapsulate(ip4(), 1))[0].packet;
  const wrongIdx = Uint8Array.from(good);
  wrongIdx[4] ^= 0xff;
  assert.deepEqual(one(wrongIdx), ['unknownReceiverIndex']);
  const flipped = Uint8Array.from(good);
  flipped[30] ^= 1;
  assert.deepEqual(one(flipped), ['decryptFailed']);
  const counter = Uint8Array.from(good);
  counter[8] ^= 1;
  assert.deepEqual(one(counter), ['decryptFailed'], 'the counter is part of the nonce');
  assert.equal(
    tun(b.decapsulate(Uint8Array.from(good), A_ADDR, 2)).length,
    1,
    'the genuine one still passes after the forgeries',
  );
  // Authentic but not an IP packet inside.
  const junk = new Uint8Array(20);
  junk[0] = 0x70;
  assert.deepEqual(errs(deliver(a.encapsulate(junk, 3), b, A_ADDR, 3)), ['badInnerPacket']);
});

test('random and mutated datagrams never throw and always end in an error', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const samples = [net(a.encapsulate(ip4(), 1))[0].packet, net(a.forceHandshake(REKEY_TIMEOUT * 2))[0].packet];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 5000; i++) {
    let d: Uint8Array;
    if (i % 2 === 0) {
      d = new Uint8Array(rnd(200));
      for (let j = 0; j < d.length; j++) d[j] = rnd(256);
      if (d.length > 4 && rnd(2) === 0) d.set([1 + rnd(4), 0, 0, 0]);
    } else {
      d = Uint8Array.from(samples[rnd(2)]);
      d[rnd(d.length)] ^= 1 + rnd(255);
    }
    const out = b.decapsulate(d, A_ADDR, 10);
    assert.equal(out.length, 1, `datagram ${i}`);
    assert.equal(out[0].type, 'error');
  }
});

test('rotation: a new handshake moves current to previous, which still decrypts in-flight packets', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const inflight = net(a.encapsulate(ip4(40, 3), 100))[0].packet;
  const oldIndexB = b.session.current!.localIndex;
  const init = a.forceHandshake(REKEY_TIMEOUT + 100);
  const resp = deliver(init, b, A_ADDR, REKEY_TIMEOUT + 101);
  assert.ok(b.session.next !== null);
  const ka = deliver(resp, a, B_ADDR, REKEY_TIMEOUT + 102);
  assert.equal(a.session.previous?.remoteIndex, oldIndexB);
  deliver(ka, b, A_ADDR, REKEY_TIMEOUT + 103);
  assert.equal(b.session.previous?.localIndex, oldIndexB, 'old current became previous');
  assert.equal(
    tun(b.decapsulate(Uint8Array.from(inflight), A_ADDR, REKEY_TIMEOUT + 104)).length,
    1,
    'in-flight packet under the old keys',
  );
  assert.notEqual(b.session.current!.localIndex, oldIndexB);
});

test('the initiator rekeys after REKEY_AFTER_TIME when sending; keys expire at REJECT_AFTER_TIME', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const early = net(a.encapsulate(ip4(), 2))[0].packet;
  assert.deepEqual(
    net(a.encapsulate(ip4(), REKEY_AFTER_TIME - 1)).map((n) => n.kind),
    ['data'],
  );
  assert.deepEqual(
    net(a.encapsulate(ip4(), REKEY_AFTER_TIME)).map((n) => n.kind),
    ['data', 'initiation'],
  );
  // The responder never rekeys on age alone.
  assert.deepEqual(
    net(b.encapsulate(ip4(), REKEY_AFTER_TIME + 1)).map((n) => n.kind),
    ['data'],
  );
  // At REJECT_AFTER_TIME nothing is sent under the old keys: queued, new initiation.
  const late = a.encapsulate(ip4(), REJECT_AFTER_TIME);
  assert.deepEqual(
    net(late).map((n) => n.kind),
    ['initiation'],
  );
  assert.ok(late.some((x) => x.type === 'event' && x.event === 'queued'));
  // Nor received: a packet sealed early and delivered late.
  assert.deepEqual(errs(b.decapsulate(early, A_ADDR, REJECT_AFTER_TIME)), ['expired']);
});

test('roaming: the endpoint follows authenticated packets only', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const moved: Endpoint = { address: '2001:db8:62::7', port: 40002 };
  const msg = net(a.encapsulate(ip4(), 10))[0].packet;
  const forged = Uint8Array.from(msg);
  forged[40] ^= 1;
  b.decapsulate(forged, { address: '198.18.63.66', port: 6666 }, 11);
  assert.deepEqual(b.endpoint, A_ADDR, 'a forged packet moves nothing');
  assert.equal(tun(b.decapsulate(msg, moved, 12)).length, 1);
  assert.deepEqual(b.endpoint, moved);
  assert.deepEqual(net(b.encapsulate(ip4(), 13))[0].endpoint, moved, 'replies go to the new address');
});

test('under load: cookie reply, then the retried initiation with mac2 is answered', () => {
  let load = true;
  const { a, b } = pair({}, { underLoad: () => load });
  const init = a.forceHandshake(0);
  const r1 = deliver(init, b, A_ADDR, 1);
  assert.deepEqual(
    net(r1).map((n) => n.kind),
    ['cookieReply'],
  );
  assert.equal(net(r1)[0].packet.length, 64);
  const c = deliver(r1, a, B_ADDR, 2);
  assert.ok(c.some((x) => x.type === 'event' && x.event === 'cookieReceived'));
  // A forged initiation from elsewhere still gets only a cookie reply (mac2 bound to the source).
  assert.deepEqual(
    net(deliver(init, b, { address: '198.18.63.9', port: 1 }, 3)).map((n) => n.kind),
    ['cookieReply'],
  );
  const retry = a.tick(a.nextDeadline());
  assert.deepEqual(
    net(retry).map((n) => n.kind),
    ['initiation'],
  );
  const r2 = deliver(retry, b, A_ADDR, REKEY_TIMEOUT + 400);
  assert.deepEqual(
    net(r2).map((n) => n.kind),
    ['response'],
    'mac2 valid: processed',
  );
  assert.ok(net(deliver(r2, a, B_ADDR, REKEY_TIMEOUT + 401)).length === 1);
  load = false;
});

test('under load the per-source rate limit applies to initiations with a valid mac2', () => {
  const { a, b } = pair({}, { underLoad: () => true });
  deliver(deliver(a.forceHandshake(0), b, A_ADDR, 0), a, B_ADDR, 0); // get a cookie
  const reasons: string[] = [];
  let t = REKEY_TIMEOUT;
  for (let i = 0; i < 10; i++) {
    t += 21; // past the per-peer flood interval, well inside the rate limit
    const msg = net(a.tick(a.nextDeadline()))[0] ?? net(a.forceHandshake(t + 1e6))[0];
    const out = b.decapsulate(Uint8Array.from(msg.packet), A_ADDR, t);
    reasons.push(net(out)[0]?.kind ?? errs(out)[0]);
  }
  // 20 per second with a burst of 5: over these ~210 ms, 5 + 0.21 × 20 ≈ 9 at most.
  const answered = reasons.filter((r) => r === 'response').length;
  assert.ok(answered >= 5 && answered <= 9, reasons.join(','));
  assert.ok(reasons.includes('rateLimited'), reasons.join(','));
});

test('3 × REJECT_AFTER_TIME after the last handshake every key is zeroed', () => {
  const { a, b } = pair();
  connect(a, b, 0);
  const kp = a.session.current!;
  assert.ok(a.nextDeadline() <= ZERO_KEYS_AFTER);
  let acts: TunnelAction[] = [];
  for (let t = KEEPALIVE_TIMEOUT; t <= ZERO_KEYS_AFTER; t += KEEPALIVE_TIMEOUT) acts = acts.concat(a.tick(t));
  assert.ok(acts.some((x) => x.type === 'event' && x.event === 'keysZeroed'));
  assert.ok(kp.zeroed);
  assert.equal(a.session.current, null);
  assert.deepEqual(
    net(a.encapsulate(ip4(), ZERO_KEYS_AFTER + 1)).map((n) => n.kind),
    ['initiation'],
  );
});

test('time scale (tests only): protocol intervals shrink with it', () => {
  const { a } = pair({ timeScale: 0.01 });
  a.forceHandshake(0);
  const due = a.nextDeadline();
  assert.ok(due >= REKEY_TIMEOUT * 0.01 && due <= (REKEY_TIMEOUT + 333) * 0.01, String(due));
  assert.deepEqual(
    net(a.tick(due)).map((n) => n.kind),
    ['initiation'],
  );
});

test('no endpoint yet: the initiation cannot go out, a named error says so', () => {
  const { b } = pair();
  assert.deepEqual(errs(b.encapsulate(ip4(), 0)), ['noEndpoint']);
  assert.deepEqual(errs(b.encapsulate(new Uint8Array(70000), 0)), ['packetTooLarge']);
});

test('persistent keepalive: an empty message every interval, or a handshake when no session is left', () => {
  const { a, b } = pair({ persistentKeepalive: 25 });
  connect(a, b, 0);
  // (b never answered the data connect() sent, so a also starts a handshake at 15 s: ignore it.)
  assert.ok(net(a.tick(25_000)).some((n) => n.kind === 'keepalive'));
  assert.ok(net(a.tick(50_000)).some((n) => n.kind === 'keepalive'));
  // After REJECT_AFTER_TIME the keys are unusable: the persistent keepalive starts a handshake.
  let kinds: string[] = [];
  for (let t = 75_000; t <= REJECT_AFTER_TIME + 25_000; t += 25_000)
    kinds = kinds.concat(net(a.tick(t)).map((n) => n.kind));
  assert.ok(kinds.includes('initiation'), kinds.join(','));
});
