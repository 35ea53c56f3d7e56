// Service specs: both accepted shapes, defaults, and errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseService, ServiceError } from '../../src/lb/service.js';

test('plain and Kubernetes-like shapes, defaults', () => {
  const a = parseService({
    name: 'web',
    vip: '198.18.100.1',
    port: 80,
    backends: [{ ip: '198.19.0.3', port: 8080 }, { ip: '198.19.1.3' }],
  });
  assert.deepEqual(a, {
    name: 'web',
    vip: '198.18.100.1',
    port: 80,
    protocol: 'TCP',
    l4Xlate: 'none',
    backends: [
      { ip: '198.19.0.3', port: 8080, weight: 1 },
      { ip: '198.19.1.3', port: 80, weight: 1 },
    ],
  });
  const b = parseService({
    kind: 'Service',
    metadata: { name: 'dns' },
    spec: {
      vip: '2001:db8:18:100:0::53',
      port: 53,
      protocol: 'udp',
      l4Xlate: 'backend',
      backends: [{ ip: '2001:db8:19::a', port: 5353, weight: 0 }],
    },
  });
  assert.equal(b.vip, '2001:db8:18:100::53');
  assert.equal(b.protocol, 'UDP');
  assert.equal(b.backends[0].weight, 0);
});

test('errors name the field and the value', () => {
  const bad: Array<[unknown, RegExp]> = [
    [
      { name: 'web', vip: '198.18.100.300', port: 80, backends: [] },
      /service\.vip: "198\.18\.100\.300" is not an IPv4 or IPv6 address/,
    ],
    [
      { name: 'web', vip: '198.18.100.1', port: 0, backends: [] },
      /service\.port: must be a port number 1\.\.65535, got 0/,
    ],
    [
      { name: 'web', vip: '198.18.100.1', port: 80, protocol: 'SCTP', backends: [] },
      /service\.protocol: "SCTP" is not one of TCP, UDP/,
    ],
    [
      { name: 'web', vip: '198.18.100.1', port: 80, backends: [{ ip: '2001:db8:19::3' }] },
      /backends\[0\]\.ip: 2001:db8:19::3 is IPv6, the VIP is IPv4/,
    ],
    [
      { name: 'web', vip: '198.18.100.1', port: 80, backends: [{ ip: '198.19.0.3' }, { ip: '198.19.0.3' }] },
      /backends\[1\]: duplicate backend 198\.19\.0\.3:80/,
    ],
    [
      { name: 'web', vip: '198.18.100.1', port: 80, backends: [{ ip: '198.19.0.3', weight: -1 }] },
      /backends\[0\]\.weight: must be an integer in 0\.\.65535 \(0 drains the backend\), got -1/,
    ],
    [{ name: 'Web!', vip: '198.18.100.1', port: 80, backends: [] }, /service\.name: "Web!" is not a valid name/],
    [{ name: 'web', vip: '198.18.100.1', port: 80, colour: 'red', backends: [] }, /service\.colour: unknown field/],
    [{ kind: 'Deployment', metadata: { name: 'x' }, spec: {} }, /service\.kind: expected "Service"/],
    [{ name: 'web', vip: '198.18.100.1', port: 80 }, /service\.backends: must be a list/],
  ];
  for (const [doc, re] of bad)
    assert.throws(
      () => parseService(doc),
      (e: Error) => e instanceof ServiceError && re.test(e.message),
      String(re),
    );
});

test('conntrack: optional boolean, kept only when given', () => {
  const base = { name: 'web', vip: '198.18.100.1', port: 80, backends: [] };
  assert.equal(parseService(base).conntrack, undefined);
  assert.equal('conntrack' in parseService(base), false);
  assert.equal(parseService({ ...base, conntrack: true }).conntrack, true);
  assert.equal(parseService({ ...base, conntrack: false }).conntrack, false);
  assert.equal(
    parseService({
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { vip: '198.18.100.1', port: 80, conntrack: true, backends: [] },
    }).conntrack,
    true,
  );
  assert.throws(
    () => parseService({ ...base, conntrack: 'yes' }),
    (e: Error) => e instanceof ServiceError && /service\.conntrack: must be true or false, got "yes"/.test(e.message),
  );
  assert.throws(() => parseService({ ...base, conntrack: 1 }), /service\.conntrack: must be true or false, got 1/);
});
