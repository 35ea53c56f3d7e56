// The handshake pool: initiations identified on piscina threads give exactly what the
// synchronous initiatorStaticKey gives (valid initiations from several peers, garbage, a
// low-order ephemeral); what is in flight stays bounded and the excess is refused; results of
// an older key come back stale; and in a WgDevice, an identified initiation is answered by
// its peer's Tunnel while stale ones (key changed, peer removed) are counted and dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HandshakePool, type Identified } from '../../src/wireguard/handshake-pool.js';
import { LocalIdentity, Handshake, createInitiation, initiatorStaticKey } from '../../src/wireguard/noise.js';
import { CookieGenerator } from '../../src/wireguard/cookie.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../src/wireguard/x25519.js';
import { MSG_INITIATION, MSG_INITIATION_SIZE, MSG_RESPONSE } from '../../src/wireguard/constants.js';
import { WgDevice } from '../../src/wireguard/device.js';
import { systemClock } from '../../src/wireguard/clock.js';
import { WgShared } from '../../src/wireguard/dataplane-tables.js';

const toHex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

/** A valid initiation (with MAC1) from the holder of initiatorKey to responderPublic. */
function initiation(initiatorKey: Uint8Array, responderPublic: Uint8Array, wall = Date.now()): Uint8Array {
  const hs = new Handshake(new LocalIdentity(initiatorKey), responderPublic);
  const msg = createInitiation(hs, generatePrivateKey(), randomBytes(4).readUInt32LE(0), wall)!;
  new CookieGenerator(responderPublic).addMacs(msg, 0);
  return msg;
}

/** Random contents with a valid MAC1: what a flood looks like. */
function garbage(responderPublic: Uint8Array): Uint8Array {
  const msg = new Uint8Array(randomBytes(MSG_INITIATION_SIZE));
  msg.set([MSG_INITIATION, 0, 0, 0], 0);
  new CookieGenerator(responderPublic).addMacs(msg, 0);
  return msg;
}

/** A pool whose results are collected; wait(n) resolves once n initiations came back (identified or stale). */
function collecting(key: Uint8Array, o: ConstructorParameters<typeof HandshakePool>[1]) {
  const results: Identified<number>[] = [];
  let stale = 0;
  let waiter: { n: number; resolve: () => void } | null = null;
  const pool = new HandshakePool<number>(key, o, (r, s) => {
    results.push(...r);
    stale += s;
    if (waiter && results.length + stale >= waiter.n) waiter.resolve();
  });
  const wait = (n: number): Promise<void> =>
    results.length + stale >= n
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`only ${results.length + stale} of ${n} results`)), 10000);
          waiter = {
            n,
            resolve: () => {
              clearTimeout(t);
              resolve();
            },
          };
        });
  return { pool, results, wait, stale: () => stale };
}

test('pool identification equals the synchronous initiatorStaticKey: valid, garbage, low-order ephemeral', async () => {
  const key = generatePrivateKey();
  const local = new LocalIdentity(key);
  const peers = [generatePrivateKey(), generatePrivateKey(), generatePrivateKey()];
  const msgs: Uint8Array[] = [];
  for (let i = 0; i < 30; i++) msgs.push(initiation(peers[i % 3], local.keys.publicKey));
  for (let i = 0; i < 30; i++) msgs.push(garbage(local.keys.publicKey));
  const low = garbage(local.keys.publicKey);
  low.fill(0, 8, 40); // ephemeral = 0: a low-order point, the DH fails
  msgs.push(low);
  // An initiation to someone else: decrypts to nothing under our key.
  msgs.push(initiation(peers[0], publicKeyFromPrivate(generatePrivateKey())));

  const c = collecting(key, { threads: 1, batchSize: 8, maxInFlight: 16 });
  try {
    for (const [i, m] of msgs.entries()) assert.ok(c.pool.submit(m, i));
    c.pool.flush();
    await c.wait(msgs.length);
    assert.equal(c.stale(), 0);
    assert.equal(c.results.length, msgs.length);
    let identified = 0;
    for (const r of c.results) {
      const want = initiatorStaticKey(local, msgs[r.ctx]);
      assert.equal(toHex(r.publicKey), toHex(want), `initiation ${r.ctx}`);
      assert.deepEqual([...r.msg], [...msgs[r.ctx]], 'the message comes back with its result');
      if (want !== null) identified++;
    }
    assert.equal(identified, 30);
    for (const r of c.results.filter((x) => x.ctx < 30))
      assert.equal(toHex(r.publicKey), toHex(publicKeyFromPrivate(peers[r.ctx % 3])));
    const s = c.pool.stats();
    assert.equal(s.identified, 30);
    assert.equal(s.unidentified, 32);
    assert.equal(s.inFlight, 0);
  } finally {
    await c.pool.close();
  }
});

test('pool: bounded in flight, the excess refused, busy while saturated, the gathered batch follows', async () => {
  const key = generatePrivateKey();
  const pub = publicKeyFromPrivate(key);
  const c = collecting(key, { threads: 1, batchSize: 4, maxInFlight: 1 });
  try {
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (c.pool.submit(garbage(pub), i)) accepted++;
    // One batch of 4 in flight, one of 4 gathered; the rest refused.
    assert.equal(accepted, 8);
    const s = c.pool.stats();
    assert.equal(s.refused, 42);
    assert.equal(s.inFlight, 1);
    assert.equal(s.pending, 4);
    assert.equal(c.pool.busy, true);
    await c.wait(8);
    assert.equal(c.results.length, 8);
    assert.deepEqual(
      c.results.map((r) => r.ctx).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(c.pool.stats().maxInFlightSeen, 1);
    assert.equal(c.pool.inFlight, 0);
    assert.equal(c.pool.busy, false, 'idle again once the results are in');
  } finally {
    await c.pool.close();
  }
});

test('pool: a key change makes batches in flight and gathered stale; the new key identifies', async () => {
  const oldKey = generatePrivateKey();
  const newKey = generatePrivateKey();
  const peer = generatePrivateKey();
  const c = collecting(oldKey, { threads: 1, batchSize: 4, maxInFlight: 1 });
  try {
    const oldPub = publicKeyFromPrivate(oldKey);
    for (let i = 0; i < 6; i++) assert.ok(c.pool.submit(initiation(peer, oldPub), i)); // 4 in flight, 2 gathered
    const gen = c.pool.generation;
    c.pool.setPrivateKey(newKey);
    assert.equal(c.pool.generation, gen + 1);
    await c.wait(6);
    assert.equal(c.results.length, 0, 'nothing identified under the old key is delivered');
    assert.equal(c.stale(), 6);
    // Under the new key: initiations to it are identified, those to the old key are not.
    const newPub = publicKeyFromPrivate(newKey);
    c.pool.submit(initiation(peer, newPub), 100);
    c.pool.submit(initiation(peer, oldPub), 101);
    c.pool.flush();
    await c.wait(8);
    const byCtx = new Map(c.results.map((r) => [r.ctx, r.publicKey]));
    assert.equal(toHex(byCtx.get(100)!), toHex(publicKeyFromPrivate(peer)));
    assert.equal(byCtx.get(101), null);
  } finally {
    await c.pool.close();
  }
});

test('pool: close drops what is in flight, submit refuses afterwards', async () => {
  const key = generatePrivateKey();
  const c = collecting(key, { threads: 1, batchSize: 2, maxInFlight: 1 });
  c.pool.submit(garbage(publicKeyFromPrivate(key)), 1);
  c.pool.submit(garbage(publicKeyFromPrivate(key)), 2);
  await c.pool.close();
  assert.equal(c.pool.submit(garbage(publicKeyFromPrivate(key)), 3), false);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.results.length, 0);
});

/** A device with the pool, one peer; `ready` resolves at the next onIdentified. */
function poolDevice(key: Uint8Array) {
  let notify: (() => void) | null = null;
  const t = WgShared.create({ maxPeers: 4, maxAllowedIps: 16, workers: 1 });
  const dev = new WgDevice(t, 1, {
    privateKey: key,
    listenPort: 51871,
    mtu: 1420,
    clock: systemClock,
    handshakePool: { threads: 1, batchSize: 4, maxInFlight: 2 },
    onIdentified: () => notify?.(),
  });
  const ready = (): Promise<void> =>
    new Promise((resolve) => {
      notify = resolve;
    });
  return { dev, ready };
}

const SRC = { address: '198.18.63.2', port: 51820 };

test(
  'device with the pool: an identified initiation is answered by its Tunnel; a removed peer or a new key drops ' + 'it',
  async () => {
    const key = generatePrivateKey();
    const peerKey = generatePrivateKey();
    const { dev, ready } = poolDevice(key);
    try {
      dev.addPeer(publicKeyFromPrivate(peerKey), { endpoint: SRC });
      let wall = Date.now();
      const init = (): Uint8Array => {
        wall += 1000;
        return initiation(peerKey, dev.publicKey, wall);
      };

      // Answered, but only once the pool has identified it.
      let r = ready();
      assert.deepEqual(dev.handshakeMessage(init(), SRC, performance.now()), []);
      dev.flushPool();
      await r;
      const out = dev.identifiedMessages(performance.now());
      assert.equal(out.length, 1);
      assert.equal(out[0].packet[0], MSG_RESPONSE);
      assert.deepEqual(out[0].endpoint, SRC);

      // The peer removed while its initiation is on the pool: counted, not answered.
      r = ready();
      dev.handshakeMessage(init(), SRC, performance.now());
      dev.flushPool();
      dev.removePeer(publicKeyFromPrivate(peerKey));
      await r;
      const before = dev.errors.get('unknownPeer') ?? 0;
      assert.deepEqual(dev.identifiedMessages(performance.now()), []);
      assert.equal(dev.errors.get('unknownPeer'), before + 1);

      // A new private key while an initiation is on the pool: stale.
      dev.addPeer(publicKeyFromPrivate(peerKey), { endpoint: SRC });
      dev.handshakeMessage(init(), SRC, performance.now());
      dev.flushPool();
      dev.setPrivateKey(generatePrivateKey());
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(dev.identifiedMessages(performance.now()), []);
      assert.equal(dev.errors.get('poolStale'), 1);
      assert.equal(dev.handshakes, 0);
    } finally {
      await dev.close();
    }
  },
);

test(
  'device with the pool: garbage with a valid MAC1 is identified as nobody on the pool and never reaches a ' + 'Tunnel',
  async () => {
    const key = generatePrivateKey();
    const { dev, ready } = poolDevice(key);
    try {
      dev.addPeer(publicKeyFromPrivate(generatePrivateKey()), { endpoint: SRC });
      const r = ready();
      for (let i = 0; i < 4; i++)
        assert.deepEqual(dev.handshakeMessage(garbage(dev.publicKey), SRC, performance.now()), []);
      await r;
      assert.deepEqual(dev.identifiedMessages(performance.now()), []);
      assert.equal(dev.errors.get('unknownPeer'), 4);
      assert.equal(dev.poolStats()!.unidentified, 4);
    } finally {
      await dev.close();
    }
  },
);
