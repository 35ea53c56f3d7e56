// Random sets and random bytes: the protocol either applies a set or refuses it with a
// UapiError and no change; the model's invariants always hold; `get` output fed back as a
// set rebuilds the same device; the framing never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeviceConfig } from '../../src/wireguard/uapi/device-config.js';
import { UapiError } from '../../src/wireguard/uapi/errors.js';
import { applySet, formatGet } from '../../src/wireguard/uapi/protocol.js';
import { RequestReader } from '../../src/wireguard/uapi/request-reader.js';
import { hexOf } from './helpers.js';

const keys = [0xa1, 0xb2, 0xc3, 0xd4].map(hexOf);
const prefixes = [
  '198.18.70.0/24',
  '198.18.70.128/25',
  '198.18.71.9/32',
  '0.0.0.0/0',
  '2001:db8:70::/64',
  '2001:db8::/32',
  '::/0',
];
const line = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...keys).map((k) => `public_key=${k}`) },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(...prefixes)
      .chain((p) => fc.constantFrom(`allowed_ip=${p}`, `allowed_ip=${p}`, `allowed_ip=-${p}`)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'remove=true',
      'update_only=true',
      'replace_allowed_ips=true',
      'replace_peers=true',
      'protocol_version=1',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer({ min: 0, max: 65535 }).map((n) => `listen_port=${n}`),
      fc.integer({ min: 0, max: 65535 }).map((n) => `persistent_keepalive_interval=${n}`),
      fc.constantFrom(
        'endpoint=198.18.0.9:51871',
        'endpoint=[2001:db8::9]:1',
        `preshared_key=${hexOf(0x5a)}`,
        `preshared_key=${hexOf(0)}`,
        `private_key=${hexOf(7)}`,
        `private_key=${hexOf(0)}`,
        'fwmark=3',
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'garbage',
      'colour=red',
      'endpoint=bad',
      'allowed_ip=198.18.70.0/33',
      'allowed_ip=x/1',
      'listen_port=70000',
      'protocol_version=2',
    ),
  },
);

function checkInvariants(d: DeviceConfig): void {
  const seen = new Set<string>();
  for (const p of d.peers()) {
    for (const ip of p.allowedIps) {
      assert.equal(seen.has(ip.text), false, `${ip.text} owned twice`);
      seen.add(ip.text);
      assert.equal(d.ownerOf(ip.text), p.publicKey);
    }
  }
  assert.equal(seen.size, d.allowedIpCount);
  assert.ok(d.peerCount <= d.limits.maxPeers);
  assert.ok(d.allowedIpCount <= d.limits.maxAllowedIps);
}

/** The set that rebuilds a device from its `get` (stats are not settable). */
function setFromGet(get: string): string[] {
  return [
    'replace_peers=true',
    ...get
      .split('\n')
      .filter((l) => l && !/^(last_handshake_time_(n)?sec|tx_bytes|rx_bytes)=/.test(l))
      .flatMap((l) => (l.startsWith('public_key=') ? [l, 'replace_allowed_ips=true'] : [l])),
  ];
}

test('random sets: applied or refused atomically; invariants hold; get round-trips', () => {
  let applied = 0;
  let refused = 0;
  let peersSeen = 0;
  fc.assert(
    fc.property(fc.array(fc.array(line, { maxLength: 12 }), { minLength: 1, maxLength: 8 }), (sets) => {
      const d = new DeviceConfig({ maxPeers: 3, maxAllowedIps: 5 });
      for (const lines of sets) {
        const before = formatGet(d);
        try {
          applySet(d, lines);
          applied++;
        } catch (e) {
          refused++;
          assert.ok(e instanceof UapiError, `unexpected ${e}`);
          assert.equal(formatGet(d), before);
        }
        checkInvariants(d);
      }
      peersSeen += d.peerCount;
      const copy = new DeviceConfig({ maxPeers: 3, maxAllowedIps: 5 });
      applySet(copy, setFromGet(formatGet(d)));
      assert.equal(formatGet(copy), formatGet(d));
    }),
    { numRuns: 400 },
  );
  // Both outcomes must be common, or the property says little.
  assert.ok(applied > 200 && refused > 200 && peersSeen > 200, JSON.stringify({ applied, refused, peersSeen }));
});

test('random bytes into the framing never throw and end in at most one fatal error', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }), (chunks) => {
      const r = new RequestReader({ maxRequestBytes: 256, maxLineBytes: 32, maxLines: 8 });
      const out = chunks.flatMap((c) => r.push(c));
      const end = r.end();
      const fatals = [...out, ...(end ? [end] : [])].filter((x) => x.op === 'fatal');
      assert.ok(fatals.length <= 1);
    }),
    { numRuns: 500 },
  );
});
