// The WireGuard core runs on the clock it is given. A WgDevice driven by a fake clock, set far
// from the real one (monotonic ~104 days in, wall clock in 2001), goes through a handshake, a
// keepalive, a rekey, key expiry and erasure: each happens at the fake time it is due, and the
// TAI64N timestamps, `wg show`'s latest handshake and the keypair creation times the workers
// read are the fake wall clock's — while Date.now and performance.now are watched and never
// read. And no file under src/wireguard/ but clock.ts reads a clock or reaches for the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WgDevice, type Datagram } from '../../src/wireguard/device.js';
import { Tunnel, type TunnelAction, type Endpoint } from '../../src/wireguard/tunnel.js';
import type { WgClock } from '../../src/wireguard/clock.js';
import {
  WgShared,
  PEER_WORDS,
  P_CURRENT,
  SLOT_WORDS,
  K_STATE,
  SLOT_FREE,
  A_DATA_SENT,
  A_DATA_RECV,
  A_AUTH_RECV,
} from '../../src/wireguard/dataplane-tables.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../src/wireguard/x25519.js';
import { tai64n } from '../../src/wireguard/tai64n.js';
import {
  KEEPALIVE_TIMEOUT,
  REKEY_AFTER_TIME,
  REJECT_AFTER_TIME,
  ZERO_KEYS_AFTER,
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_TRANSPORT,
} from '../../src/wireguard/constants.js';

class FakeClock implements WgClock {
  constructor(
    private mono: number,
    private wall: number,
  ) {}
  now(): number {
    return this.mono;
  }
  wallNow(): number {
    return this.wall;
  }
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }
}

/** Counts reads of the real clocks while fn runs. */
function watchingRealClocks(fn: () => void): number {
  const realDateNow = Date.now;
  const realPerfNow = performance.now;
  let reads = 0;
  Date.now = () => {
    reads++;
    return realDateNow();
  };
  performance.now = () => {
    reads++;
    return realPerfNow.call(performance);
  };
  try {
    fn();
  } finally {
    Date.now = realDateNow;
    performance.now = realPerfNow;
  }
  return reads;
}

const OUR_EP: Endpoint = { address: '198.18.64.1', port: 51871 };
const PEER_EP: Endpoint = { address: '198.18.64.2', port: 51820 };

function ip4(): Uint8Array {
  const p = new Uint8Array(40);
  p.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17], 0);
  p.set([10, 64, 0, 1, 10, 64, 0, 2], 12);
  return p;
}

const types = (ds: Datagram[]): number[] => ds.map((d) => d.packet[0]);
const errors = (acts: TunnelAction[]): string[] => acts.flatMap((a) => (a.type === 'error' ? [a.reason] : []));

test('a device on a fake clock: handshake, keepalive, rekey, expiry, `wg show` follow it, never the real one', () => {
  const clock = new FakeClock(9e9, Date.UTC(2001, 0, 1));
  assert.ok(Math.abs(Date.now() - clock.wallNow()) > 365 * 86_400_000 && performance.now() < clock.now() / 2);
  const ours = generatePrivateKey();
  const theirs = generatePrivateKey();
  const shared = WgShared.create({ maxPeers: 2, maxAllowedIps: 4, workers: 1 });
  const device = new WgDevice(shared, 1, { privateKey: ours, listenPort: OUR_EP.port, mtu: 1420, clock });
  const theirKey = publicKeyFromPrivate(theirs);
  const peerIndex = device.addPeer(theirKey, { endpoint: PEER_EP });
  const peer = new Tunnel({
    privateKey: theirs,
    peerPublicKey: publicKeyFromPrivate(ours),
    wallClock: () => clock.wallNow(),
  });
  const toPeer = (ds: Datagram[]): TunnelAction[] =>
    ds.flatMap((d) => peer.decapsulate(Uint8Array.from(d.packet), OUR_EP, clock.now()));
  const replies = (acts: TunnelAction[]): Uint8Array[] => acts.flatMap((a) => (a.type === 'network' ? [a.packet] : []));
  const currentSlot = (): number => Atomics.load(shared.peers, peerIndex * PEER_WORDS + P_CURRENT);
  const activity = (word: number): void => {
    shared.activity[shared.activityAt(0, peerIndex) + word]++;
  };
  /** A handshake we initiated, answered by the peer: its TAI64N, `wg show` and the slot carry the fake wall time. */
  const answered = (initiation: Datagram[]): void => {
    assert.deepEqual(types(initiation), [MSG_INITIATION]);
    const response = replies(toPeer(initiation));
    assert.deepEqual(
      response.map((r) => r[0]),
      [MSG_RESPONSE],
    );
    assert.deepEqual([...peer.handshake.lastTimestamp], [...tai64n(clock.wallNow())], 'TAI64N of the fake wall clock');
    clock.advance(3);
    const after = device.handshakeMessage(response[0], PEER_EP, clock.now());
    assert.deepEqual(types(after), [MSG_TRANSPORT]);
    assert.deepEqual(errors(toPeer(after)), []);
    assert.equal(device.peerStats(theirKey)?.lastHandshakeWallMs, clock.wallNow(), '`wg show` latest handshake');
    assert.equal(shared.createdWallMs(currentSlot()), clock.wallNow(), 'keypair creation time for the workers');
  };

  const reads = watchingRealClocks(() => {
    // A packet with no session: the handshake starts, and the packet leaves once it completes.
    answered(device.needSession(peerIndex, ip4(), clock.now()));
    const firstHandshake = clock.now();
    const firstWall = clock.wallNow();

    // Data came in through a worker: a keepalive goes back KEEPALIVE_TIMEOUT later, fake time.
    activity(A_DATA_RECV);
    activity(A_AUTH_RECV);
    assert.deepEqual(device.tick(clock.now()), []);
    clock.advance(KEEPALIVE_TIMEOUT - 1);
    assert.deepEqual(device.tick(clock.now()), []);
    clock.advance(1);
    const keepalive = device.tick(clock.now());
    assert.deepEqual(
      keepalive.map((d) => d.packet.length),
      [32],
    );
    assert.deepEqual(errors(toPeer(keepalive)), []);

    // Data still going out under keys REKEY_AFTER_TIME old: we, the initiator, rekey.
    clock.advance(firstHandshake + REKEY_AFTER_TIME - 1 - clock.now());
    activity(A_DATA_SENT);
    assert.deepEqual(device.tick(clock.now()), []);
    clock.advance(1);
    activity(A_DATA_SENT);
    answered(device.tick(clock.now()));
    const secondHandshake = clock.now();
    assert.ok(clock.wallNow() > firstWall);

    // The keys send until REJECT_AFTER_TIME of fake time (old: with a rekey, left unanswered), not at it.
    clock.advance(REJECT_AFTER_TIME - 1 - (clock.now() - secondHandshake));
    assert.deepEqual(types(device.needSession(peerIndex, ip4(), clock.now())), [MSG_TRANSPORT, MSG_INITIATION]);
    clock.advance(1);
    assert.deepEqual(types(device.needSession(peerIndex, ip4(), clock.now())), [], 'expired: queued');
    const lastWall = device.peerStats(theirKey)?.lastHandshakeWallMs;

    // Unanswered, the keys are erased ZERO_KEYS_AFTER after the last handshake, not a moment before.
    const slot = currentSlot();
    while (clock.now() < secondHandshake + ZERO_KEYS_AFTER - 1000) {
      clock.advance(1000);
      device.tick(clock.now());
    }
    clock.advance(secondHandshake + ZERO_KEYS_AFTER - 1 - clock.now());
    device.tick(clock.now());
    assert.equal(currentSlot(), slot, 'not erased yet');
    clock.advance(1);
    device.tick(clock.now());
    assert.equal(currentSlot(), -1, 'erased');
    assert.equal(Atomics.load(shared.slotWords, slot * SLOT_WORDS + K_STATE), SLOT_FREE);
    assert.equal(device.peerStats(theirKey)?.lastHandshakeWallMs, lastWall);
    assert.equal(new Date(lastWall!).getUTCFullYear(), 2001, '`wg show` would say 2001');
  });
  assert.equal(reads, 0, 'Date.now / performance.now read while the device ran');
});

test('nothing under src/wireguard/ but clock.ts reads a clock, sets a timer or defaults to the real clock', () => {
  const root = fileURLToPath(new URL('../../../src/wireguard/', import.meta.url));
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  // A socket's own idle timeout (uapi/server.ts: socket.setTimeout) is I/O, not a clock read.
  const reading = /\b(Date\.now|performance\.now|process\.hrtime|new Date)\b|(?<![.\w])set(Timeout|Interval)\(/;
  const bad: string[] = [];
  for (const f of files(root)) {
    const name = relative(root, f);
    if (name === 'clock.ts') continue;
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Code only: comments may name the clocks.
        const code = /^\s*(\*|\/\*)/.test(line) ? '' : line.replace(/\/\/.*$/, '');
        if (reading.test(code) || /\bsystemClock\b/.test(code)) bad.push(`${name}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(bad, []);
});
