// The text protocol: golden `get` output, and the semantics of every `set` key on the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceConfig, type ChangeEvent } from '../../src/wireguard/uapi/device-config.js';
import { answerGet, applySet, formatGet, formatStatus } from '../../src/wireguard/uapi/protocol.js';
import { PEER_A, PEER_B, PEER_C, PRIV_CLAMPED_HEX, PRIV_HEX, PSK, PUB_HEX, ZERO, hexOf } from './helpers.js';

const allowed = (d: DeviceConfig, peer: string): string[] => d.peer(peer)?.allowedIps.map((p) => p.text) ?? [];

test('get: golden text in wireguard-go order, stats included, status appended', () => {
  const d = new DeviceConfig();
  applySet(d, [
    `private_key=${PRIV_HEX}`,
    'listen_port=51871',
    'fwmark=3',
    `public_key=${PEER_A}`,
    `preshared_key=${PSK}`,
    'endpoint=198.18.0.9:51871',
    'persistent_keepalive_interval=25',
    'replace_allowed_ips=true',
    'allowed_ip=198.18.70.0/24',
    'allowed_ip=2001:db8:70::/64',
    `public_key=${PEER_B}`,
    'endpoint=[2001:db8::9]:51872',
    'allowed_ip=198.18.71.7/32',
  ]);
  assert.ok(d.recordHandshake(PEER_A, 1_700_000_000, 5));
  assert.ok(d.setTransfer(PEER_A, 1234567, 3456));
  const expected = [
    `private_key=${PRIV_CLAMPED_HEX}`,
    'listen_port=51871',
    'fwmark=3',
    `public_key=${PEER_A}`,
    `preshared_key=${PSK}`,
    'protocol_version=1',
    'endpoint=198.18.0.9:51871',
    'last_handshake_time_sec=1700000000',
    'last_handshake_time_nsec=5',
    'tx_bytes=3456',
    'rx_bytes=1234567',
    'persistent_keepalive_interval=25',
    'allowed_ip=198.18.70.0/24',
    'allowed_ip=2001:db8:70::/64',
    `public_key=${PEER_B}`,
    `preshared_key=${ZERO}`,
    'protocol_version=1',
    'endpoint=[2001:db8::9]:51872',
    'last_handshake_time_sec=0',
    'last_handshake_time_nsec=0',
    'tx_bytes=0',
    'rx_bytes=0',
    'persistent_keepalive_interval=0',
    'allowed_ip=198.18.71.7/32',
  ]
    .map((l) => `${l}\n`)
    .join('');
  assert.equal(formatGet(d), expected);
  assert.equal(answerGet(d), `${expected}errno=0\n\n`);
  assert.equal(d.publicKey && Buffer.from(d.publicKey).toString('hex'), PUB_HEX);
});

test('get: an empty device has only the status; zero listen port and fwmark are left out', () => {
  const d = new DeviceConfig();
  assert.equal(answerGet(d), 'errno=0\n\n');
  applySet(d, ['listen_port=0', 'fwmark=0']);
  assert.equal(formatGet(d), '');
  assert.equal(formatStatus(22), 'errno=-22\n\n');
});

test('set: what `wg set` sends builds the model; values are canonical', () => {
  const d = new DeviceConfig();
  applySet(d, [
    `public_key=${PEER_A.toUpperCase()}`,
    'endpoint=[2001:DB8:0:0::9]:51871',
    'persistent_keepalive_interval=0025',
    'replace_allowed_ips=true',
    'allowed_ip=198.18.70.5/24',
    'allowed_ip=2001:DB8:70:0:0::1/64',
    'allowed_ip=::ffff:198.18.0.1/128',
    'allowed_ip=0.0.0.0/0',
  ]);
  const p = d.peer(PEER_A);
  assert.ok(p);
  assert.equal(p.publicKey, PEER_A);
  assert.equal(p.endpoint?.text, '[2001:db8::9]:51871');
  assert.equal(p.persistentKeepaliveInterval, 25);
  assert.deepEqual(allowed(d, PEER_A), ['198.18.70.0/24', '2001:db8:70::/64', '::ffff:198.18.0.1/128', '0.0.0.0/0']);
  assert.equal(d.ownerOf('198.18.70.99/24'), PEER_A);
  assert.equal(p.protocolVersion, 1);
});

test(
  'remove: removes an existing peer; a missing one is not created; its later lines are ignored but still ' + 'checked',
  () => {
    const d = new DeviceConfig();
    applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24', `public_key=${PEER_B}`]);
    applySet(d, [
      `public_key=${PEER_A}`,
      'remove=true',
      'endpoint=198.18.0.9:1',
      'allowed_ip=198.18.72.0/24',
      `public_key=${PEER_C}`,
      'remove=true',
    ]);
    assert.deepEqual(
      d.peers().map((p) => p.publicKey),
      [PEER_B],
    );
    assert.equal(d.ownerOf('198.18.70.0/24'), undefined);
    assert.equal(d.ownerOf('198.18.72.0/24'), undefined);
    assert.throws(
      () => applySet(d, [`public_key=${PEER_B}`, 'remove=true', 'allowed_ip=198.18.72.0/33']),
      /allowed_ip/,
    );
    assert.ok(d.hasPeer(PEER_B), 'the failed set removed nothing');
  },
);

test('update_only: updates an existing peer, never creates one (even after lines for it)', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`]);
  applySet(d, [
    `public_key=${PEER_A}`,
    'update_only=true',
    'endpoint=198.18.0.9:51871',
    `public_key=${PEER_B}`,
    'endpoint=198.18.0.10:1',
    'update_only=true',
    'allowed_ip=198.18.73.0/24',
  ]);
  assert.equal(d.peer(PEER_A)?.endpoint?.text, '198.18.0.9:51871');
  assert.equal(d.hasPeer(PEER_B), false);
  assert.equal(d.ownerOf('198.18.73.0/24'), undefined);
  assert.equal(d.peerCount, 1);
});

test('replace_peers: drops every peer before the ones that follow in the same set', () => {
  const d = new DeviceConfig();
  applySet(d, [
    `public_key=${PEER_A}`,
    'allowed_ip=198.18.70.0/24',
    `public_key=${PEER_B}`,
    'allowed_ip=198.18.71.0/24',
  ]);
  applySet(d, ['replace_peers=true', `public_key=${PEER_B}`, 'allowed_ip=198.18.74.0/24', `public_key=${PEER_C}`]);
  assert.deepEqual(
    d.peers().map((p) => p.publicKey),
    [PEER_B, PEER_C],
  );
  assert.deepEqual(allowed(d, PEER_B), ['198.18.74.0/24'], 'B was re-created: its old prefixes are gone');
  assert.equal(d.allowedIpCount, 1);
});

test('replace_allowed_ips: replaces the list (possibly with nothing); without it prefixes are added', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.71.0/24']);
  assert.deepEqual(allowed(d, PEER_A), ['198.18.70.0/24', '198.18.71.0/24']);
  applySet(d, [`public_key=${PEER_A}`, 'replace_allowed_ips=true', 'allowed_ip=2001:db8:70::/64']);
  assert.deepEqual(allowed(d, PEER_A), ['2001:db8:70::/64']);
  applySet(d, [`public_key=${PEER_A}`, 'replace_allowed_ips=true']);
  assert.deepEqual(allowed(d, PEER_A), []);
  assert.equal(d.allowedIpCount, 0);
});

test('an allowed IP belongs to one peer: adding it to another moves it; -prefix removes only from its owner', () => {
  const d = new DeviceConfig();
  applySet(d, [
    `public_key=${PEER_A}`,
    'allowed_ip=198.18.70.0/24',
    'allowed_ip=198.18.71.0/24',
    `public_key=${PEER_B}`,
  ]);
  const events: ChangeEvent[] = [];
  d.onChange((e) => events.push(e));
  applySet(d, [`public_key=${PEER_B}`, 'allowed_ip=198.18.70.77/24']);
  assert.deepEqual(allowed(d, PEER_A), ['198.18.71.0/24']);
  assert.deepEqual(allowed(d, PEER_B), ['198.18.70.0/24']);
  assert.equal(d.ownerOf('198.18.70.0/24'), PEER_B);
  assert.deepEqual(
    events[0].changes.map((c) => [c.kind, 'publicKey' in c ? c.publicKey : null]),
    [
      ['allowedIpsRemoved', PEER_A],
      ['allowedIpsAdded', PEER_B],
    ],
  );
  applySet(d, [
    `public_key=${PEER_A}`,
    'allowed_ip=-198.18.70.0/24',
    `public_key=${PEER_B}`,
    'allowed_ip=-198.18.71.0/24',
  ]);
  assert.equal(d.ownerOf('198.18.70.0/24'), PEER_B, 'A does not own it: untouched');
  assert.equal(d.ownerOf('198.18.71.0/24'), PEER_A);
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=-198.18.71.0/24']);
  assert.equal(d.ownerOf('198.18.71.0/24'), undefined);
});

test('a re-added prefix moves to the end of its peer list, as in wireguard-go', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24', 'allowed_ip=198.18.71.0/24']);
  const v = d.version;
  applySet(d, [`public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  assert.deepEqual(allowed(d, PEER_A), ['198.18.71.0/24', '198.18.70.0/24']);
  assert.equal(d.version, v, 'no change event for a reorder');
});

test('keys: our own public key as a peer is ignored; a new private key removes the peer with its public key', () => {
  const d = new DeviceConfig();
  applySet(d, [`private_key=${PRIV_HEX}`, `public_key=${PUB_HEX}`, 'allowed_ip=198.18.70.0/24']);
  assert.equal(d.peerCount, 0);
  assert.equal(d.allowedIpCount, 0);
  applySet(d, [`private_key=${ZERO}`, `public_key=${PUB_HEX}`, 'allowed_ip=198.18.70.0/24']);
  assert.equal(d.privateKey, null, 'all zeros removes the private key');
  assert.equal(d.peerCount, 1);
  applySet(d, [`private_key=${PRIV_HEX}`]);
  assert.equal(d.peerCount, 0);
  assert.equal(d.allowedIpCount, 0);
});

test('preshared key: all zeros removes it', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, `preshared_key=${PSK}`]);
  assert.equal(Buffer.from(d.peer(PEER_A)?.presharedKey ?? []).toString('hex'), PSK);
  applySet(d, [`public_key=${PEER_A}`, `preshared_key=${ZERO}`]);
  assert.equal(d.peer(PEER_A)?.presharedKey, null);
  assert.match(formatGet(d), new RegExp(`preshared_key=${ZERO}\n`));
});

test('protocol_version: 1 is accepted, anything else refused', () => {
  const d = new DeviceConfig();
  applySet(d, [`public_key=${PEER_A}`, 'protocol_version=1']);
  assert.throws(
    () => applySet(d, [`public_key=${PEER_A}`, 'protocol_version=2']),
    (e: Error & { errno?: number }) => e.errno === 22,
  );
});

test('a set is atomic: an invalid last line undoes everything before it, with no event', () => {
  const d = new DeviceConfig();
  applySet(d, [`private_key=${PRIV_HEX}`, 'listen_port=51871', `public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24']);
  const before = formatGet(d);
  const version = d.version;
  let events = 0;
  d.onChange(() => events++);
  assert.throws(
    () =>
      applySet(d, [
        `private_key=${hexOf(0x42)}`,
        'listen_port=1',
        'fwmark=9',
        'replace_peers=true',
        `public_key=${PEER_B}`,
        'allowed_ip=198.18.70.0/24',
        `public_key=${PEER_C}`,
        'endpoint=198.18.0.9:70000',
      ]),
    /set line 8: endpoint/,
  );
  assert.equal(formatGet(d), before);
  assert.equal(d.version, version);
  assert.equal(events, 0);
});
