// Every invalid `set` is refused with its own errno and leaves the device exactly as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceConfig } from '../../src/wireguard/uapi/device-config.js';
import { UapiError } from '../../src/wireguard/uapi/errors.js';
import { applySet, formatGet } from '../../src/wireguard/uapi/protocol.js';
import { PEER_A, PEER_B, PEER_C, PRIV_HEX, PSK } from './helpers.js';

const EINVAL = 22;
const EPROTO = 71;
const ENOSPC = 28;

/** A populated device with small limits: 3 peers, 4 allowed IPs (A has 2, B has 1). */
function device(): DeviceConfig {
  const d = new DeviceConfig({ maxPeers: 3, maxAllowedIps: 4 });
  applySet(d, [
    `private_key=${PRIV_HEX}`,
    'listen_port=51871',
    'fwmark=7',
    `public_key=${PEER_A}`,
    `preshared_key=${PSK}`,
    'endpoint=198.18.0.9:51871',
    'persistent_keepalive_interval=25',
    'allowed_ip=198.18.70.0/24',
    'allowed_ip=2001:db8:70::/64',
    `public_key=${PEER_B}`,
    'allowed_ip=198.18.71.0/24',
  ]);
  return d;
}

const peer = (...lines: string[]): string[] => [`public_key=${PEER_A}`, ...lines];
const k = (n: number, c = 'a'): string => c.repeat(n);

const cases: Array<[string, string[], number, RegExp]> = [
  ['line without "="', ['listen_port'], EPROTO, /is not key=value/],
  ['empty key and value', ['='], EINVAL, /is not a device key/],
  ['unknown device key', ['bogus=1'], EINVAL, /"bogus" is not a device key/],
  ['peer key before any public_key', ['endpoint=198.18.0.9:1'], EINVAL, /"endpoint" is not a device key/],
  ['device key after public_key', peer('listen_port=1'), EINVAL, /"listen_port" is not a peer key/],
  ['unknown peer key', peer('colour=red'), EINVAL, /"colour" is not a peer key/],
  ['NUL in a key', ['\0=1'], EINVAL, /is not a device key/],
  ['CR before the newline', ['listen_port=51871\r'], EINVAL, /listen_port/],
  ['listen_port too big', ['listen_port=65536'], EINVAL, /listen_port: "65536" is not an integer 0\.\.65535/],
  ['listen_port negative', ['listen_port=-1'], EINVAL, /listen_port/],
  ['listen_port empty', ['listen_port='], EINVAL, /listen_port/],
  ['listen_port with a space', ['listen_port= 1'], EINVAL, /listen_port/],
  ['listen_port huge', [`listen_port=${'9'.repeat(30)}`], EINVAL, /listen_port/],
  ['fwmark over 32 bits', ['fwmark=4294967296'], EINVAL, /fwmark/],
  ['private_key not hex', [`private_key=${k(64, 'z')}`], EINVAL, /private_key: .* is not 64 hex digits/],
  ['private_key 63 digits', [`private_key=${k(63)}`], EINVAL, /private_key/],
  ['private_key 66 digits', [`private_key=${k(66)}`], EINVAL, /private_key/],
  ['private_key base64', ['private_key=WDKm/435obzFehp9nKvxTQUHPeotUOncsb6078s5kG8='], EINVAL, /private_key/],
  ['replace_peers=false', ['replace_peers=false'], EINVAL, /replace_peers: the only valid value is "true"/],
  ['public_key short', [`public_key=${k(62)}`], EINVAL, /public_key/],
  ['public_key empty', ['public_key='], EINVAL, /public_key/],
  ['remove=1', peer('remove=1'), EINVAL, /remove/],
  ['update_only=yes', peer('update_only=yes'), EINVAL, /update_only/],
  ['replace_allowed_ips=TRUE', peer('replace_allowed_ips=TRUE'), EINVAL, /replace_allowed_ips/],
  ['preshared_key not hex', peer(`preshared_key=${k(64, 'g')}`), EINVAL, /preshared_key/],
  ['endpoint without port', peer('endpoint=198.18.0.9'), EINVAL, /endpoint: .* has no port/],
  ['IPv6 endpoint without brackets', peer('endpoint=2001:db8::9:51871'), EINVAL, /\[address\]:port/],
  ['IPv4 endpoint in brackets', peer('endpoint=[198.18.0.9]:1'), EINVAL, /not an IPv6 address/],
  ['endpoint octet 256', peer('endpoint=198.18.0.256:1'), EINVAL, /endpoint/],
  ['endpoint port 65536', peer('endpoint=198.18.0.9:65536'), EINVAL, /invalid port/],
  ['endpoint with a zone', peer('endpoint=[fe80::1%eth0]:1'), EINVAL, /zone/],
  ['endpoint host name', peer('endpoint=vpn.example:51871'), EINVAL, /endpoint/],
  ['endpoint unterminated bracket', peer('endpoint=[2001:db8::9:1'), EINVAL, /endpoint/],
  ['keepalive over 16 bits', peer('persistent_keepalive_interval=65536'), EINVAL, /persistent_keepalive_interval/],
  ['allowed_ip /33', peer('allowed_ip=198.18.70.0/33'), EINVAL, /invalid prefix length \(0\.\.32\)/],
  ['allowed_ip /129', peer('allowed_ip=2001:db8::/129'), EINVAL, /invalid prefix length \(0\.\.128\)/],
  ['allowed_ip without length', peer('allowed_ip=198.18.70.0'), EINVAL, /has no prefix length/],
  ['allowed_ip leading zero octet', peer('allowed_ip=198.18.070.0/24'), EINVAL, /allowed_ip/],
  ['allowed_ip leading zero length', peer('allowed_ip=198.18.70.0/024'), EINVAL, /allowed_ip/],
  ['allowed_ip bare minus', peer('allowed_ip=-'), EINVAL, /allowed_ip/],
  ['allowed_ip with a zone', peer('allowed_ip=fe80::%eth0/64'), EINVAL, /allowed_ip/],
  ['allowed_ip two double colons', peer('allowed_ip=2001::db8::/64'), EINVAL, /allowed_ip/],
  ['protocol_version=2', peer('protocol_version=2'), EINVAL, /protocol_version/],
  ['protocol_version empty', peer('protocol_version='), EINVAL, /protocol_version/],
  [
    'a fourth peer over maxPeers 3',
    [`public_key=${PEER_C}`, `public_key=${'d4'.repeat(32)}`],
    ENOSPC,
    /too many peers: the device is limited to 3/,
  ],
  [
    'a fifth allowed IP over maxAllowedIps 4',
    [`public_key=${PEER_C}`, 'allowed_ip=198.18.72.0/24', 'allowed_ip=198.18.73.0/24'],
    ENOSPC,
    /too many allowed IPs: the device is limited to 4/,
  ],
  [
    'valid changes then one bad line',
    ['replace_peers=true', 'listen_port=1', `public_key=${PEER_C}`, 'allowed_ip=198.18.72.0/24', 'endpoint=x'],
    EINVAL,
    /set line 5: endpoint/,
  ],
];

for (const [name, lines, errno, message] of cases) {
  test(`refused with errno ${errno}, device unchanged: ${name}`, () => {
    const d = device();
    const before = formatGet(d);
    const version = d.version;
    let events = 0;
    d.onChange(() => events++);
    assert.throws(
      () => applySet(d, lines),
      (e: Error) => {
        assert.ok(e instanceof UapiError, `not a UapiError: ${e}`);
        assert.equal(e.errno, errno, e.message);
        assert.match(e.message, message);
        return true;
      },
    );
    assert.equal(formatGet(d), before);
    assert.equal(d.version, version);
    assert.equal(events, 0);
  });
}

test('limits count the final state: moving or replacing within the limits is fine', () => {
  const d = device();
  // Full device (3 peers, 4 prefixes) after this set, reached through removals first.
  applySet(d, [`public_key=${PEER_C}`, 'allowed_ip=198.18.70.0/24', 'allowed_ip=198.18.72.0/24']);
  assert.equal(d.peerCount, 3);
  assert.equal(d.allowedIpCount, 4);
  applySet(d, [`public_key=${PEER_B}`, 'remove=true', `public_key=${'d4'.repeat(32)}`, 'allowed_ip=198.18.71.0/24']);
  assert.equal(d.peerCount, 3);
  assert.equal(d.allowedIpCount, 4);
});
