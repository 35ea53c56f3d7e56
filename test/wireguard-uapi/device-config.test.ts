// The model's programmatic API, as the dataplane and the agent use it: drafts, change events,
// runtime state, limits and validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChangeEvent, DeviceConfig } from '../../src/wireguard/uapi/device-config.js';
import { parseEndpoint } from '../../src/wireguard/uapi/addresses.js';
import { UapiError } from '../../src/wireguard/uapi/errors.js';
import { applySet, formatGet } from '../../src/wireguard/uapi/protocol.js';
import { PEER_A, PEER_B, PEER_C, PRIV_HEX, PUB_HEX, PSK } from './helpers.js';

function recording(d: DeviceConfig): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  d.onChange((e) => events.push(e));
  return events;
}

test('update(): one event per committed update, ordered removals before additions', () => {
  const d = new DeviceConfig();
  const events = recording(d);
  d.update((x) => {
    x.setPrivateKey(Buffer.from(PRIV_HEX, 'hex'));
    x.setListenPort(51871);
    x.addPeer(PEER_A);
    x.addAllowedIp(PEER_A, '198.18.70.0/24');
    x.addPeer(PEER_B);
  });
  assert.equal(events.length, 1);
  assert.equal(events[0].version, 1);
  assert.deepEqual(events[0].changes, [
    { kind: 'privateKey', publicKey: PUB_HEX },
    { kind: 'listenPort', listenPort: 51871 },
    { kind: 'peerAdded', publicKey: PEER_A },
    { kind: 'peerAdded', publicKey: PEER_B },
    { kind: 'allowedIpsAdded', publicKey: PEER_A, prefixes: [d.peer(PEER_A)?.allowedIps[0]] },
  ]);
  d.update((x) => {
    x.setEndpoint(PEER_B, parseEndpoint('198.18.0.9:51871'));
    x.addAllowedIp(PEER_B, '198.18.70.0/24');
    x.setPersistentKeepalive(PEER_B, 25);
    x.removePeer(PEER_A);
    x.addPeer(PEER_C);
    x.setFwmark(9);
  });
  assert.deepEqual(
    events[1].changes.map((c) => c.kind),
    ['fwmark', 'peerRemoved', 'allowedIpsRemoved', 'peerAdded', 'peerUpdated', 'allowedIpsAdded'],
  );
  assert.deepEqual(events[1].changes[4], {
    kind: 'peerUpdated',
    publicKey: PEER_B,
    fields: ['endpoint', 'persistentKeepaliveInterval'],
  });
  assert.equal(d.version, 2);
  d.update((x) => x.setListenPort(51871));
  assert.equal(d.version, 2, 'an update that changes nothing is not an event');
  assert.equal(events.length, 2);
});

test('a peer removed and added again in one set is a new peer: counters reset, remove + add reported', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  d.setTransfer(PEER_A, 100, 200);
  d.recordHandshake(PEER_A, 1_700_000_000, 1);
  applySet(d, [`public_key=${PEER_A}`, 'endpoint=198.18.0.9:1']);
  assert.equal(d.peer(PEER_A)?.rxBytes, 100n, 'counters survive a configuration update');
  const events = recording(d);
  applySet(d, [`public_key=${PEER_A}`, 'remove=true', `public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  assert.deepEqual(
    events[0].changes.map((c) => c.kind),
    ['peerRemoved', 'allowedIpsRemoved', 'peerAdded', 'allowedIpsAdded'],
  );
  const p = d.peer(PEER_A);
  assert.equal(p?.rxBytes, 0n);
  assert.equal(p?.lastHandshake.sec, 0n);
  assert.equal(p?.endpoint, null);
});

test('a failed update changes nothing and reports nothing', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  const events = recording(d);
  assert.throws(
    () =>
      d.update((x) => {
        x.removeAllPeers();
        x.addPeer(PEER_B);
        throw new Error('caller gave up');
      }),
    /caller gave up/,
  );
  assert.ok(d.hasPeer(PEER_A));
  assert.equal(d.hasPeer(PEER_B), false);
  assert.equal(d.ownerOf('198.18.70.0/24'), PEER_A);
  assert.equal(events.length, 0);
  assert.throws(() => d.update(() => d.update(() => undefined)), /already inside an update/);
});

test('runtime state: handshake time and counters, validated, false for a missing peer', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`]);
  assert.equal(d.recordHandshake(PEER_A, 1_700_000_123n, 999_999_999), true);
  assert.equal(d.addTransfer(PEER_A, 10, 20), true);
  assert.equal(d.addTransfer(PEER_A, 5n, 0), true);
  let p = d.peer(PEER_A);
  assert.deepEqual(p?.lastHandshake, { sec: 1_700_000_123n, nsec: 999_999_999 });
  assert.equal(p?.rxBytes, 15n);
  assert.equal(p?.txBytes, 20n);
  d.setTransfer(PEER_A, (1n << 64n) - 1n, 0);
  d.addTransfer(PEER_A, 2, 0);
  p = d.peer(PEER_A);
  assert.equal(p?.rxBytes, 1n, 'u64 wraps');
  assert.equal(d.recordHandshake(PEER_B, 1), false);
  assert.equal(d.addTransfer(PEER_B, 1, 1), false);
  assert.throws(() => d.recordHandshake(PEER_A, 1, 1_000_000_000), /last_handshake_time_nsec/);
  assert.throws(() => d.addTransfer(PEER_A, -1, 0), /rx_bytes/);
  assert.throws(() => d.setTransfer(PEER_A, 0, 1.5), /tx_bytes/);
  assert.throws(() => d.recordHandshake('nothex', 1), /public key/);
});

test('roam(): an endpoint learnt from traffic is a peerUpdated change', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'endpoint=198.18.0.9:51871']);
  const events = recording(d);
  assert.equal(d.roam(PEER_A, parseEndpoint('[2001:db8::9]:51871')), true);
  assert.equal(d.peer(PEER_A)?.endpoint?.text, '[2001:db8::9]:51871');
  assert.deepEqual(events[0].changes, [{ kind: 'peerUpdated', publicKey: PEER_A, fields: ['endpoint'] }]);
  assert.equal(d.roam(PEER_B, parseEndpoint('198.18.0.1:1')), false);
});

test('snapshots are copies: mutating them does not touch the model', () => {
  const d = new DeviceConfig();
  applySet(d, [`private_key=${PRIV_HEX}`, `public_key=${PEER_A}`, `preshared_key=${PSK}`]);
  d.privateKey?.fill(0);
  d.peer(PEER_A)?.presharedKey?.fill(0);
  d.peer(PEER_A)?.publicKeyBytes.fill(0);
  assert.ok(d.privateKey?.some((b) => b !== 0));
  assert.equal(Buffer.from(d.peer(PEER_A)?.presharedKey ?? []).toString('hex'), PSK);
  assert.equal(Buffer.from(d.peer(PEER_A)?.publicKeyBytes ?? []).toString('hex'), PEER_A);
});

test('a throwing listener does not undo the change nor starve the next listener', async () => {
  const d = new DeviceConfig();
  let seen = 0;
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  d.onChange(() => {
    throw new Error('listener bug');
  });
  const off = d.onChange(() => seen++);
  applySet(d, [`public_key=${PEER_A}`]);
  assert.equal(seen, 1);
  assert.ok(d.hasPeer(PEER_A));
  off();
  applySet(d, [`public_key=${PEER_B}`]);
  assert.equal(seen, 1, 'unsubscribed');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.ok(warnings.some((w) => w.includes('listener bug')));
});

test('draft methods validate their values like the protocol does', () => {
  const d = new DeviceConfig();
  const bad: Array<[string, () => void, RegExp]> = [
    ['port', () => d.update((x) => x.setListenPort(70000)), /listen_port: must be an integer 0\.\.65535/],
    ['port fraction', () => d.update((x) => x.setListenPort(1.5)), /listen_port/],
    ['fwmark', () => d.update((x) => x.setFwmark(-1)), /fwmark/],
    ['private key length', () => d.update((x) => x.setPrivateKey(new Uint8Array(31))), /private_key: must be 32 bytes/],
    ['peer key length', () => d.update((x) => x.addPeer(new Uint8Array(16))), /public key: must be 32 bytes/],
    [
      'duplicate peer',
      () =>
        d.update((x) => {
          x.addPeer(PEER_A);
          x.addPeer(PEER_A);
        }),
      /already exists/,
    ],
    ['missing peer', () => d.update((x) => x.setPersistentKeepalive(PEER_C, 1)), /no peer/],
    [
      'keepalive',
      () =>
        d.update((x) => {
          x.addPeer(PEER_A);
          x.setPersistentKeepalive(PEER_A, 65536);
        }),
      /persistent_keepalive_interval/,
    ],
    [
      'prefix text',
      () =>
        d.update((x) => {
          x.addPeer(PEER_A);
          x.addAllowedIp(PEER_A, '198.18.0.0/40');
        }),
      /allowed_ip/,
    ],
  ];
  for (const [name, fn, re] of bad)
    assert.throws(fn, (e: Error) => e instanceof UapiError && e.errno === 22 && re.test(e.message), name);
  assert.equal(d.peerCount, 0);
  assert.throws(() => new DeviceConfig({ maxPeers: 0 }), /limits\.maxPeers: must be a positive integer/);
  assert.throws(() => new DeviceConfig({ maxAllowedIps: 1.5 }), /limits\.maxAllowedIps/);
});

test('ownerOf finds the exact prefix whatever its spelling; other lengths are not matches', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=2001:db8:70::/64']);
  assert.equal(d.ownerOf('2001:0db8:0070:0000:ffff::1/64'), PEER_A);
  assert.equal(d.ownerOf('2001:db8:70::/65'), undefined);
});

test('recordBoundPort: get reports the bound port until the configured port changes', () => {
  const d = new DeviceConfig();
  assert.equal(formatGet(d), '');
  d.recordBoundPort(41113);
  assert.equal(formatGet(d), 'listen_port=41113\n');
  assert.equal(d.listenPort, 0, 'the configuration still says any port');
  applySet(d, ['listen_port=51871']);
  assert.equal(formatGet(d), 'listen_port=51871\n');
  assert.throws(() => d.recordBoundPort(65536), /bound port/);
});
