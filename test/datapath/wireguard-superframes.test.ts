// WireGuard with super-frames, in one process (a WgDevice, a worker's stages, and a peer played
// by the protocol core's Tunnel, as in wireguard.test.ts): a TCP super-frame from an endpoint to
// the peer's allowed IPs leaves as one UDP GSO train of messages toward an uplink with USO, or as
// one datagram per segment toward an uplink without offloads — sealed in one call with
// consecutive counters either way — and the peer opens every message to the segment the
// kernel would have made; a train of the peer's messages arriving on the uplink is opened in
// one native call, then message by message each one is a frame of its own with one outcome (a
// tampered or replayed message dropped by name); hostile trains never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Harness,
  OUTCOME_IDX,
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
  tcp,
  bytes,
  hex,
  csum,
  concat,
} from './harness.js';
import { WgShared, MSG_HANDSHAKE, MSG_CONFIRMED, RING_META_WORDS } from '../../src/wireguard/dataplane-tables.js';
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
const LISTEN = 51871;
const NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const GSO_UDP_L4 = 5;
const MSS = 1360; // 20 + 20 + 1360 = 1400 bytes of IP per segment: within the tunnel's MTU of 1420
const TCP_SEQ = 0x00001001; // what harness tcp() writes

interface Node {
  h: Harness;
  peer: Tunnel;
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** A worker with offloads on the endpoints and (uso) the uplink, whose peer has completed a handshake. */
function node(uso: boolean): Node {
  const shared = WgShared.create({ maxPeers: 4, maxAllowedIps: 16, workers: 1 });
  const h = new Harness({ wg: new WgWorker(shared.sabs, 0), offloads: [true, true, uso] });
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
    listenPort: LISTEN,
    mtu: 1420,
    clock: systemClock,
  });
  const index = device.addPeer(theirs.publicKey, { endpoint: { address: '198.18.0.2', port: 51820 } });
  assert.ok(shared.allowed.insert(4, PEER_NET, 24, Int32Array.of(index)));
  const peer = new Tunnel({
    privateKey: theirs.privateKey,
    peerPublicKey: ours.publicKey,
    endpoint: { address: '198.18.0.1', port: LISTEN },
    wallClock: systemClock.wallNow,
  });
  // The control thread's part: worker → control ring records into the device.
  const poll = (now: number): Uint8Array[] => {
    const buf = new Uint8Array(4096);
    const meta = new Int32Array(buf.buffer, 0, RING_META_WORDS);
    const sent: Uint8Array[] = [];
    for (let n = shared.toControl[0].pop(buf, 0); n >= 0; n = shared.toControl[0].pop(buf, 0)) {
      const tag = shared.toControl[0].lastTag;
      const body = buf.slice(RING_META_WORDS * 4, n);
      if (tag === MSG_HANDSHAKE) {
        for (const d of device.handshakeMessage(body, { address: '198.18.0.2', port: meta[1]! }, now))
          sent.push(d.packet);
      }
      if (tag === MSG_CONFIRMED) device.confirmed(meta[0]!, meta[1]!, now);
    }
    return sent;
  };
  const now = performance.now();
  const init = peer.forceHandshake(now).find((a) => a.type === 'network');
  assert.ok(init && init.type === 'network');
  h.reset();
  h.inject(fromPeer(init.packet), UP);
  const [response] = poll(now);
  const keepalive = peer
    .decapsulate(response!, { address: '198.18.0.1', port: LISTEN }, now)
    .find((a) => a.type === 'network');
  assert.ok(keepalive && keepalive.type === 'network');
  h.reset();
  h.inject(fromPeer(keepalive.packet), UP);
  poll(now);
  return { h, peer };
}

/** A UDP datagram (or, with vnet, a train) from the peer's endpoint to our listen port. */
function fromPeer(payload: Uint8Array): Uint8Array {
  return eth(
    PORT_MACS[UP]!,
    VTEP_B_MAC,
    0x0800,
    ipv4({ src: VTEP_B4, dst: UP_4, proto: 17, df: true }, udp(VTEP_B4, UP_4, 51820, LISTEN, payload)),
  );
}

/** A TCP super-frame from EP1 to the peer's host, as a kernel with TSO hands it over. */
function tcpSuperFrame(payload: Uint8Array): { frame: Uint8Array; vnet: number[] } {
  const seg = tcp(EP1_4, PEER_HOST, 40000, 5201, 0x18, payload);
  const pkt = ipv4({ src: EP1_4, dst: PEER_HOST, proto: 6, df: true }, seg);
  // The L4 field holds the pseudo-header sum only (folded, not complemented).
  let s = 6 + seg.length + get16(EP1_4, 0) + get16(EP1_4, 2) + get16(PEER_HOST, 0) + get16(PEER_HOST, 2);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  pkt[20 + 16] = s >> 8;
  pkt[20 + 17] = s & 255;
  return { frame: eth(PORT_MACS[EP1]!, EP1_MAC, 0x0800, pkt), vnet: [NEEDS_CSUM, GSO_TCPV4, 54, MSS, 34, 16] };
}

/** The peer opens each message; the inner packets are the segments of payload, in order. */
function assertSegments(peer: Tunnel, messages: Uint8Array[], payload: Uint8Array): void {
  assert.equal(messages.length, Math.ceil(payload.length / MSS));
  messages.forEach((m, i) => {
    const acts = peer.decapsulate(m.slice(), { address: '198.18.0.1', port: LISTEN }, performance.now());
    const inner = acts.find((a) => a.type === 'tunnel');
    assert.ok(inner && inner.type === 'tunnel', `message ${i}: ${JSON.stringify(acts.map((a) => a.type))}`);
    const p = inner.packet;
    const chunk = payload.subarray(i * MSS, (i + 1) * MSS);
    assert.equal(get16(p, 2), 40 + chunk.length, `segment ${i}: IPv4 total length`);
    assert.equal(p[8], 63, 'routed: TTL − 1');
    assert.equal(csum(p, 0, 20), 0, `segment ${i}: IPv4 header checksum`);
    let s = 6 + (p.length - 20);
    for (let k = 12; k < 20; k += 2) s += get16(p, k);
    assert.equal(csum(p, 20, p.length - 20, s), 0, `segment ${i}: TCP checksum`);
    const seq = ((p[24]! << 24) | (p[25]! << 16) | (p[26]! << 8) | p[27]!) >>> 0;
    assert.equal(seq, TCP_SEQ + i * MSS, `segment ${i}: sequence number`);
    assert.equal(p[33]! & 0x08, i === messages.length - 1 ? 0x08 : 0, 'PSH on the last segment only');
    assert.equal(hex(p.subarray(40)), hex(chunk), `segment ${i}: payload`);
  });
}

test('a TCP super-frame into the tunnel leaves as one UDP GSO train toward an uplink with USO', () => {
  const { h, peer } = node(true);
  const payload = bytes(5000, 3);
  const { frame, vnet } = tcpSuperFrame(payload);
  h.reset();
  const r = h.inject(frame, EP1, vnet);
  assert.equal(r.error, undefined);
  const named = Harness.named(r.delta);
  assert.equal(OUTCOME_IDX.filter((i) => r.delta[i] !== 0).length, 1, JSON.stringify(named));
  assert.equal(r.delta[C.forwarded], 1);
  assert.equal(r.delta[C.wgTrainsSent], 1);
  assert.equal(r.delta[C.wgSent], 1);
  assert.equal(r.tx.length, 1);
  const d = r.tx[0]!;
  assert.equal(d.port, UP);
  const f = h.dp.arena.bytes.slice(d.off, d.off + d.len);
  const [flags, type, hdrLen, size, start, offset] = d.vnet;
  assert.deepEqual([flags, type, hdrLen, start, offset], [NEEDS_CSUM, GSO_UDP_L4, 42, 34, 6]);
  assert.equal(size, 16 + 1408 + 16, 'a full message: header, 1400 bytes padded to 1408, tag');
  assert.deepEqual(f.subarray(0, 6), VTEP_B_MAC);
  assert.equal(get16(f, 14 + 2), f.length - 14, 'IPv4 total length: the whole train');
  assert.equal(csum(f, 14, 20), 0, 'outer IPv4 header checksum');
  // The UDP checksum field holds the pseudo-header sum of the whole train, for the device to finish.
  let s = 17 + (f.length - 34);
  for (let k = 26; k < 34; k += 2) s += get16(f, k);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  assert.equal(get16(f, 40), s);
  const messages: Uint8Array[] = [];
  for (let m = 42; m < f.length; m += size!) messages.push(f.subarray(m, Math.min(m + size!, f.length)));
  assertSegments(peer, messages, payload);
});

test('toward an uplink without offloads the segments leave as datagrams, one per message', () => {
  const { h, peer } = node(false);
  const payload = bytes(6000, 5);
  const { frame, vnet } = tcpSuperFrame(payload);
  h.reset();
  const r = h.inject(frame, EP1, vnet);
  assert.equal(r.error, undefined);
  assert.equal(r.delta[C.forwarded], 1);
  assert.equal(r.delta[C.wgTrainsSent], 0, JSON.stringify(Harness.named(r.delta)));
  assert.equal(r.delta[C.wgSent], 5, JSON.stringify(Harness.named(r.delta)));
  assert.equal(r.tx.length, 5);
  const messages = r.tx.map((d) => {
    assert.equal(d.port, UP);
    assert.deepEqual(d.vnet.slice(0, 2), [0, 0], 'no offload state toward a port without offloads');
    const f = h.dp.arena.bytes.slice(d.off, d.off + d.len);
    assert.equal(get16(f, 38), f.length - 34, 'UDP length');
    return f.subarray(42);
  });
  assertSegments(peer, messages, payload);
});

/** n UDP packets from the peer's host to EP1, sealed by the peer: equal messages but the last. */
function peerMessages(peer: Tunnel, n: number, lastLen: number): { packets: Uint8Array[]; messages: Uint8Array[] } {
  const packets: Uint8Array[] = [];
  const messages: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const data = bytes(i === n - 1 ? lastLen : 1000, i + 1);
    const pkt = ipv4(
      { src: PEER_HOST, dst: EP1_4, proto: 17, df: true, id: i },
      udp(PEER_HOST, EP1_4, 5201, 40000 + i, data),
    );
    const a = peer.encapsulate(pkt, performance.now()).find((x) => x.type === 'network');
    assert.ok(a && a.type === 'network');
    packets.push(pkt);
    messages.push(a.packet.slice());
  }
  return { packets, messages };
}

test("a train of the peer's messages on the uplink: each opened, each a frame received with one outcome", () => {
  const { h, peer } = node(true);
  const { packets, messages } = peerMessages(peer, 4, 300);
  const size = messages[0]!.length;
  const r = h.inject(fromPeer(concat(...messages)), UP, [NEEDS_CSUM, GSO_UDP_L4, 42, size, 34, 6]);
  assert.equal(r.error, undefined);
  assert.equal(r.delta[C.wgTrainsOpened], 1);
  assert.equal(r.delta[C.rxFrames], 4, 'each message counts as a frame received');
  assert.equal(r.delta[C.wgDecrypted], 4);
  assert.equal(r.delta[C.forwarded], 4);
  assert.equal(
    OUTCOME_IDX.reduce((n, i) => n + r.delta[i]!, 0),
    4,
    JSON.stringify(Harness.named(r.delta)),
  );
  assert.equal(r.tx.length, 4);
  r.tx.forEach((d, i) => {
    assert.equal(d.port, EP1);
    const f = h.dp.arena.bytes.slice(d.off, d.off + d.len);
    assert.deepEqual(f.subarray(0, 6), EP1_MAC);
    const want = packets[i]!.slice();
    want[8]!--;
    want[10] = 0;
    want[11] = 0;
    const c = csum(want, 0, 20);
    want[10] = c >> 8;
    want[11] = c & 255;
    assert.equal(hex(f.subarray(14)), hex(want), `packet ${i}`);
  });
});

test('a train opened in one call: a tampered message and a replayed train are dropped by name, the rest arrive', () => {
  const { h, peer } = node(true);
  const { messages } = peerMessages(peer, 5, 1000);
  const size = messages[0]!.length;
  const train = concat(...messages);
  train[2 * size + 40] ^= 1; // the third message's ciphertext
  const vnet = [NEEDS_CSUM, GSO_UDP_L4, 42, size, 34, 6];
  const r = h.inject(fromPeer(train), UP, vnet);
  assert.equal(r.error, undefined);
  assert.deepEqual(
    [r.delta[C.rxFrames], r.delta[C.forwarded], r.delta[C.dropWgDecrypt]],
    [5, 4, 1],
    JSON.stringify(Harness.named(r.delta)),
  );
  // The same train again, untampered: the four that arrived are replays; the third arrives now
  // (its tampered copy never moved the replay window).
  h.reset();
  const again = h.inject(fromPeer(concat(...messages)), UP, vnet);
  assert.deepEqual([again.delta[C.dropWgReplay], again.delta[C.forwarded]], [4, 1]);
});

test('hostile trains (any gso_size, cut or garbled messages): one outcome per message, never a throw', () => {
  const { h, peer } = node(true);
  const { messages } = peerMessages(peer, 6, 700);
  const train = concat(...messages);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3000 }),
      fc.integer({ min: 0, max: train.length }),
      fc.array(fc.tuple(fc.nat(train.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      (size, cut, flips) => {
        const body = train.slice(0, Math.max(cut, size + 1));
        for (const [at, v] of flips) if (at < body.length) body[at] = v;
        h.reset();
        const r = h.inject(fromPeer(body), UP, [NEEDS_CSUM, GSO_UDP_L4, 42, size, 34, 6]);
        assert.equal(r.error, undefined);
        const outcomes = OUTCOME_IDX.reduce((n, i) => n + r.delta[i]!, 0);
        assert.equal(outcomes, r.delta[C.rxFrames], JSON.stringify(Harness.named(r.delta)));
      },
    ),
    { numRuns: 300 },
  );
});
