// WireGuard in the pipeline, in one process: a WgDevice (the control side) and a worker's
// stages (wg-receive.ts, wg-send.ts) over the same shared tables, and a peer played by the
// protocol core's own Tunnel. The peer initiates; its keepalive confirms our keypair; a packet
// from an endpoint to the peer's allowed IPs leaves encrypted and the peer decrypts exactly the
// packet; the peer's data arrives at the endpoint; replays, a forged source and garbage are
// dropped by name; a burst to a peer without a session is handed to the control thread (up to
// STAGED_PER_ASK packets) and delivered once the handshake completes; thousands of random
// datagrams to the port end in exactly one outcome each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Harness,
  OUTCOME_IDX,
  COUNTER_NAMES,
  C,
  UP,
  EP1,
  PORT_MACS,
  EP1_MAC,
  VTEP_B_MAC,
  UP_4,
  VTEP_B4,
  EP1_4,
  ip,
  eth,
  ipv4,
  udp,
  icmp4,
  bytes,
  hex,
} from './harness.js';
import {
  WgShared,
  MSG_HANDSHAKE,
  MSG_CONFIRMED,
  MSG_NEED_SESSION,
  RING_META_WORDS,
  PEER_WORDS,
  P_CURRENT,
  STAGED_PER_ASK,
} from '../../src/wireguard/dataplane-tables.js';
import { WgDevice } from '../../src/wireguard/device.js';
import { WgWorker } from '../../src/datapath/wg-worker.js';
import { Tunnel } from '../../src/wireguard/tunnel.js';
import { systemClock } from '../../src/wireguard/clock.js';
import { generatePrivateKey, keyPairFromPrivate } from '../../src/wireguard/x25519.js';
import { programRoute } from '../../src/control/routes.js';
import { WG_PORT, ROUTE_CONNECTED } from '../../src/tables/layout.js';
import { PORT_KIND_WIREGUARD } from '../../src/tables/port-table.js';
import { linkLocalFromMac } from '../../src/wire/addr.js';

const PEER_NET = ip('198.18.61.0');
const PEER_HOST = ip('198.18.61.7');
const WG_MAC = Uint8Array.of(2, 0x77, 0x65, 0x66, 0x74, 0x77);

const shared = WgShared.create({ maxPeers: 4, maxAllowedIps: 16, workers: 1 });
const h = new Harness({ wg: new WgWorker(shared.sabs, 0) });
h.ports.set(WG_PORT, {
  kind: PORT_KIND_WIREGUARD,
  mtu: 1420,
  mac: WG_MAC,
  ipv6LinkLocal: linkLocalFromMac(WG_MAC),
  fds: [],
});
programRoute(h.routes, { prefix: { family: 4, bytes: PEER_NET, len: 24 }, type: ROUTE_CONNECTED, port: WG_PORT });

const ours = keyPairFromPrivate(generatePrivateKey());
const theirs = keyPairFromPrivate(generatePrivateKey());
const device = new WgDevice(shared, 1, {
  privateKey: ours.privateKey,
  listenPort: 51871,
  mtu: 1420,
  clock: systemClock,
});
const peerIndex = device.addPeer(theirs.publicKey, { endpoint: { address: '198.18.0.2', port: 51820 } });
assert.ok(shared.allowed.insert(4, PEER_NET, 24, Int32Array.of(peerIndex)));
const peer = new Tunnel({
  privateKey: theirs.privateKey,
  peerPublicKey: ours.publicKey,
  endpoint: { address: '198.18.0.1', port: 51871 },
  wallClock: systemClock.wallNow,
});

/** A UDP datagram from the peer's endpoint to our listen port, as a frame on the uplink. */
function fromPeer(payload: Uint8Array, src = VTEP_B4): Uint8Array {
  return eth(
    PORT_MACS[UP],
    VTEP_B_MAC,
    0x0800,
    ipv4({ src, dst: UP_4, proto: 17 }, udp(src, UP_4, 51820, 51871, payload)),
  );
}

function inject(frame: Uint8Array, port = UP): { outcome: string; out: Uint8Array[]; delta: Float64Array } {
  h.reset();
  const r = h.inject(frame, port);
  assert.equal(r.error, undefined);
  const moved = OUTCOME_IDX.filter((i) => r.delta[i] !== 0);
  assert.equal(moved.length, 1, `outcomes: ${JSON.stringify(Harness.named(r.delta))}`);
  return {
    outcome: COUNTER_NAMES[moved[0]],
    out: r.tx.map((d) => h.dp.arena.bytes.slice(d.off, d.off + d.len)),
    delta: r.delta,
  };
}

/** Drains worker → control ring records into the device, as the controller's poll does. */
function controlPoll(now: number): Uint8Array[] {
  const ring = shared.toControl[0];
  const buf = new Uint8Array(4096);
  const meta = new Int32Array(buf.buffer, 0, RING_META_WORDS);
  const sent: Uint8Array[] = [];
  for (;;) {
    const n = ring.pop(buf, 0);
    if (n < 0) break;
    const body = buf.slice(RING_META_WORDS * 4, n);
    if (ring.lastTag === MSG_HANDSHAKE)
      for (const d of device.handshakeMessage(body, { address: '198.18.0.2', port: meta[1] }, now)) sent.push(d.packet);
    if (ring.lastTag === MSG_CONFIRMED) device.confirmed(meta[0], meta[1], now);
    if (ring.lastTag === MSG_NEED_SESSION) for (const d of device.needSession(meta[0], body, now)) sent.push(d.packet);
  }
  return sent;
}

const udpPayload = (frame: Uint8Array): Uint8Array => frame.subarray(14 + 20 + 8);
let replayable: Uint8Array;

test('the peer initiates; the response comes back; its keepalive makes our keypair current', () => {
  const now = performance.now();
  const init = peer.forceHandshake(now).find((a) => a.type === 'network');
  assert.ok(init && init.type === 'network');
  const r = inject(fromPeer(init.packet));
  assert.equal(r.outcome, 'consumed');
  assert.equal(r.delta[C.wgHandshakesToControl], 1);
  const [response] = controlPoll(now);
  assert.equal(response.length, 92, 'a handshake response');
  const acts = peer.decapsulate(response, { address: '198.18.0.1', port: 51871 }, now);
  const keepalive = acts.find((a) => a.type === 'network' && a.kind === 'keepalive');
  assert.ok(keepalive && keepalive.type === 'network');
  const k = inject(fromPeer(keepalive.packet));
  assert.equal(k.outcome, 'consumed');
  assert.equal(k.delta[C.wgKeepalives], 1);
  controlPoll(now);
  assert.ok(Atomics.load(shared.peers, peerIndex * PEER_WORDS + P_CURRENT) >= 0, 'a current keypair for sending');
  replayable = keepalive.packet.slice();
});

test(
  "an endpoint packet to the peer's allowed IPs leaves as one encrypted datagram the peer opens to the same " +
    'packet',
  () => {
    const ping = ipv4({ src: EP1_4, dst: PEER_HOST, proto: 1, ttl: 64 }, icmp4(8, 0, 0x12340001, bytes(56)));
    const r = inject(eth(PORT_MACS[EP1], EP1_MAC, 0x0800, ping), EP1);
    assert.equal(r.outcome, 'forwarded');
    assert.equal(r.delta[C.wgSent], 1);
    assert.equal(r.out.length, 1);
    const f = r.out[0];
    assert.deepEqual(f.subarray(0, 6), VTEP_B_MAC, "to the peer endpoint's MAC");
    assert.equal(f[23], 17, 'UDP');
    assert.deepEqual(f.subarray(26, 30), UP_4);
    assert.deepEqual(f.subarray(30, 34), VTEP_B4);
    assert.equal((f[36] << 8) | f[37], 51820);
    const acts = peer.decapsulate(udpPayload(f).slice(), { address: '198.18.0.1', port: 51871 }, performance.now());
    const inner = acts.find((a) => a.type === 'tunnel');
    assert.ok(
      inner && inner.type === 'tunnel',
      JSON.stringify(acts.map((a) => (a.type === 'error' ? a.reason : a.type))),
    );
    const expect = ping.slice();
    expect[8]--; // we routed it: TTL − 1, checksum adjusted
    expect[10] = 0;
    expect[11] = 0;
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += (expect[i] << 8) | expect[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect[10] = (~s >> 8) & 0xff;
    expect[11] = ~s & 0xff;
    assert.equal(hex(inner.packet), hex(expect));
  },
);

test("the peer's data reaches the endpoint; a replay, a forged inner source and garbage are dropped by name", () => {
  const reply = ipv4({ src: PEER_HOST, dst: EP1_4, proto: 1, ttl: 64 }, icmp4(0, 0, 0x12340001, bytes(56)));
  const data = peer.encapsulate(reply, performance.now()).find((a) => a.type === 'network');
  assert.ok(data && data.type === 'network');
  const r = inject(fromPeer(data.packet));
  assert.equal(r.outcome, 'forwarded');
  assert.equal(r.delta[C.wgDecrypted], 1);
  assert.deepEqual(r.out[0].subarray(0, 6), EP1_MAC);
  assert.equal(hex(r.out[0].subarray(14 + 20)), hex(reply.subarray(20)));
  assert.equal(inject(fromPeer(data.packet)).outcome, 'dropWgReplay');
  assert.equal(inject(fromPeer(replayable)).outcome, 'dropWgReplay');
  const forged = ipv4({ src: ip('198.18.99.9'), dst: EP1_4, proto: 1 }, icmp4(0, 0, 1, bytes(8)));
  const fd = peer.encapsulate(forged, performance.now()).find((a) => a.type === 'network');
  assert.ok(fd && fd.type === 'network');
  assert.equal(inject(fromPeer(fd.packet)).outcome, 'dropWgSourceNotAllowed');
  const tampered = data.packet.slice();
  tampered[tampered.length - 1] ^= 1;
  tampered[8] ^= 0x40; // a fresh counter, so the tag is what fails
  assert.equal(inject(fromPeer(tampered)).outcome, 'dropWgDecrypt');
  const unknown = data.packet.slice();
  unknown[4] ^= 0xff;
  assert.equal(inject(fromPeer(unknown)).outcome, 'dropWgUnknownIndex');
  assert.equal(inject(fromPeer(Uint8Array.of(4, 0, 0, 0, 1, 2))).outcome, 'dropWgMalformed');
  assert.equal(inject(fromPeer(bytes(40))).outcome, 'dropWgMalformed');
});

test(
  'a burst to a peer without a session: STAGED_PER_ASK packets wait for the handshake and arrive, the rest are ' +
    'counted',
  () => {
    const net2 = ip('198.18.62.0');
    const host2 = ip('198.18.62.9');
    programRoute(h.routes, { prefix: { family: 4, bytes: net2, len: 24 }, type: ROUTE_CONNECTED, port: WG_PORT });
    const keys2 = keyPairFromPrivate(generatePrivateKey());
    const index2 = device.addPeer(keys2.publicKey, { endpoint: { address: '198.18.0.2', port: 51821 } });
    assert.ok(shared.allowed.insert(4, net2, 24, Int32Array.of(index2)));
    const peer2 = new Tunnel({
      privateKey: keys2.privateKey,
      peerPublicKey: ours.publicKey,
      endpoint: { address: '198.18.0.1', port: 51871 },
      wallClock: systemClock.wallNow,
    });
    const burst = Array.from({ length: STAGED_PER_ASK + 4 }, (_, i) =>
      ipv4({ src: EP1_4, dst: host2, proto: 17, ttl: 64 }, udp(EP1_4, host2, 4000 + i, 53, bytes(30))),
    );
    let queued = 0,
      dropped = 0;
    for (const pkt of burst) {
      const r = inject(eth(PORT_MACS[EP1], EP1_MAC, 0x0800, pkt), EP1);
      assert.equal(r.outcome, 'forwarded');
      queued += r.delta[C.wgQueuedForSession];
      h.dp.now -= 1000; // a burst: inject's reset moves the clock on by a second each time
      dropped += r.delta[C.wgNoSessionDropped];
    }
    assert.equal(queued, STAGED_PER_ASK);
    assert.equal(dropped, 4);
    const now = performance.now();
    const out = controlPoll(now);
    assert.equal(out.length, 1, 'one initiation, however many packets wait');
    const acts = peer2.decapsulate(out[0], { address: '198.18.0.1', port: 51871 }, now);
    const response = acts.find((a) => a.type === 'network');
    assert.ok(response && response.type === 'network');
    // The response arrives through a worker; the control thread answers with the waiting packets.
    assert.equal(inject(fromPeer(response.packet)).outcome, 'consumed');
    const flushed = controlPoll(now);
    assert.equal(flushed.length, STAGED_PER_ASK);
    const got = flushed.map((d) => {
      const inner = peer2.decapsulate(d, { address: '198.18.0.1', port: 51871 }, now).find((a) => a.type === 'tunnel');
      assert.ok(inner && inner.type === 'tunnel');
      return (inner.packet[20] << 8) | inner.packet[21]; // the UDP source port tells them apart
    });
    assert.deepEqual(
      got,
      burst.slice(0, STAGED_PER_ASK).map((_, i) => 4000 + i),
      'in order, none lost',
    );
  },
);

test('random and mutated datagrams to the WireGuard port: one outcome each, never a throw', () => {
  const base = peer
    .encapsulate(
      ipv4({ src: PEER_HOST, dst: EP1_4, proto: 17 }, udp(PEER_HOST, EP1_4, 1, 2, bytes(20))),
      performance.now(),
    )
    .find((a) => a.type === 'network');
  assert.ok(base && base.type === 'network');
  const seeds = [
    base.packet,
    replayable,
    Uint8Array.of(1, 0, 0, 0),
    Uint8Array.of(2, 0, 0, 0),
    Uint8Array.of(3, 0, 0, 0),
  ];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.integer({ min: 0, max: 200 }),
      (which, flips, extra) => {
        const p = new Uint8Array(Math.max(seeds[which].length, 4) + (which >= 2 ? extra : 0));
        p.set(seeds[which]);
        for (const [at, v] of flips) p[at % p.length] = v;
        inject(fromPeer(p));
        controlPoll(performance.now()); // handshake-looking ones go to the device, which must not throw either
      },
    ),
    { numRuns: 3000 },
  );
});
