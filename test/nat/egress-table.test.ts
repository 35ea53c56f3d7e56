// Policies + endpoints + owners → compiled entries → the shared (source, destination prefix)
// table workers look up: selection, longest prefix, families, conflicts, failover, sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyFile, type EgressPolicy } from '../../src/nat/policy.js';
import { compileEgress, unownableEgressIPs, type EgressEndpoint } from '../../src/nat/egress-compile.js';
import {
  EgressTable,
  EV_FLAGS,
  EV_EGRESS_IP,
  EV_GATEWAY,
  EV_POLICY,
  EGRESS_LOCAL,
  EGRESS_NO_GATEWAY,
  EGRESS_GATEWAY_V6,
  EGRESS_VALUE_WORDS,
} from '../../src/nat/egress-table.js';
import { ip } from './flows.js';
import { bytesWords } from './helpers.js';

const POLICIES = parsePolicyFile(
  `
apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: web }
spec:
  egress: [{ podSelector: { matchLabels: { app: web } } }]
  destinationCIDRs: [198.18.200.0/24, "2001:db8:200::/48"]
  egressSourceIPs: [198.18.0.200, "2001:db8::200"]
---
apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: prod-narrow }
spec:
  egress: [{ namespaceSelector: { matchLabels: { env: prod } } }]
  destinationCIDRs: [198.18.200.128/25]
  egressSourceIP: 198.18.0.201
---
apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: zz-conflict }
spec:
  egress: [{ podSelector: { matchLabels: { app: web } } }]
  destinationCIDRs: [198.18.200.0/24]
  egressSourceIP: 198.18.0.202
`,
  'test',
);

const ENDPOINTS: EgressEndpoint[] = [
  { name: 'web1', addresses: ['198.19.1.10', '2001:db8:19:1::a'], labels: { app: 'web' } },
  { name: 'web2', addresses: ['198.19.2.10'], labels: { app: 'web' }, namespace: 'prod' },
  { name: 'other', addresses: ['198.19.1.11'], labels: { app: 'other' } },
  { name: 'prod-db', addresses: ['198.19.2.11'], labels: { app: 'db' }, namespace: 'prod' },
];
const NODES = [
  { name: 'n1', ipv4: '198.18.0.1' },
  { name: 'gw', ipv4: '198.18.0.3', ipv6: '2001:db8::3' },
];
const OWNERS = new Map([
  ['198.18.0.200', 'gw'],
  ['2001:db8::200', 'gw'],
  ['198.18.0.201', 'gw'],
  ['198.18.0.202', 'n1'],
]);

function compile(owners = OWNERS, localNode = 'n1', policies: readonly EgressPolicy[] = POLICIES) {
  return compileEgress({
    policies,
    endpoints: ENDPOINTS,
    owners,
    nodes: NODES,
    localNode,
    namespaceLabels: { prod: { env: 'prod' } },
  });
}

test('compile: selected endpoints × CIDRs of their family, gateways, conflicts reported', () => {
  const { entries, problems } = compile();
  const rows = entries
    .map((e) => `${e.source} ${e.destination} ${e.egressIP} ${e.gatewayAddress} ${e.policy}${e.local ? ' local' : ''}`)
    .sort();
  assert.deepEqual(rows, [
    '198.19.1.10 198.18.200.0/24 198.18.0.200 198.18.0.3 web',
    '198.19.2.10 198.18.200.0/24 198.18.0.200 198.18.0.3 web',
    '198.19.2.10 198.18.200.128/25 198.18.0.201 198.18.0.3 prod-narrow',
    '198.19.2.11 198.18.200.128/25 198.18.0.201 198.18.0.3 prod-narrow',
    '2001:db8:19:1::a 2001:db8:200::/48 2001:db8::200 2001:db8::3 web',
  ]);
  assert.deepEqual(problems, [
    'policies web and zz-conflict both send 198.19.1.10 to 198.18.200.0/24 through different egress IPs ' +
      '(198.18.0.200, 198.18.0.202): web wins (first by name)',
    'policies web and zz-conflict both send 198.19.2.10 to 198.18.200.0/24 through different egress IPs ' +
      '(198.18.0.200, 198.18.0.202): web wins (first by name)',
  ]);
  // On the gateway node the same entries are local.
  assert.ok(compile(OWNERS, 'gw').entries.every((e) => e.local));
});

test('table: longest destination prefix per source, no match for unselected sources or other destinations', () => {
  const t = EgressTable.create(64);
  const { entries } = compile();
  assert.deepEqual(t.sync(entries), { inserted: 5, updated: 0, deleted: 0, refused: 0 });
  const worker = EgressTable.attach(t.sab); // as a worker would
  const out = new Int32Array(EGRESS_VALUE_WORDS);
  const pkt = new Uint8Array(32);
  const look = (src: string, dst: string): number => {
    const s = ip(src),
      d = ip(dst);
    pkt.set(s, 0);
    pkt.set(d, 16);
    return worker.lookup(s.length === 4 ? 4 : 6, pkt, 0, 16, out);
  };
  assert.equal(look('198.19.2.10', '198.18.200.200'), 25);
  assert.equal(out[EV_EGRESS_IP], bytesWords(ip('198.18.0.201'))[0]);
  assert.equal(look('198.19.2.10', '198.18.200.5'), 24);
  assert.equal(out[EV_EGRESS_IP], bytesWords(ip('198.18.0.200'))[0]);
  assert.equal(out[EV_GATEWAY], bytesWords(ip('198.18.0.3'))[0]);
  assert.equal(out[EV_FLAGS], 0);
  assert.equal(out[EV_POLICY], 1, 'web is second by name');
  assert.equal(look('198.19.1.11', '198.18.200.5'), -1, 'app=other is not selected');
  assert.equal(look('198.19.1.10', '198.18.201.5'), -1, 'outside the CIDRs');
  assert.equal(look('2001:db8:19:1::a', '2001:db8:200:7::1'), 48);
  assert.deepEqual([...out.subarray(EV_EGRESS_IP, EV_EGRESS_IP + 4)], [...bytesWords(ip('2001:db8::200'))]);
  assert.equal(out[EV_FLAGS], EGRESS_GATEWAY_V6);
  assert.equal(look('2001:db8:19:1::a', '2001:db8:201::1'), -1);
  // Bad offsets are a miss, not a throw.
  assert.equal(worker.lookup(4, pkt, 30, 0, out), -1);
  assert.equal(worker.lookup(5, pkt, 0, 16, out), -1);

  // Failover: the standby takes the egress IPs; the gateway address changes in place.
  const failed = new Map(OWNERS);
  failed.set('198.18.0.200', 'n1');
  assert.deepEqual(t.sync(compile(failed).entries), { inserted: 0, updated: 2, deleted: 0, refused: 0 });
  assert.equal(look('198.19.1.10', '198.18.200.5'), 24);
  assert.equal(out[EV_GATEWAY], bytesWords(ip('198.18.0.1'))[0]);
  assert.equal(out[EV_FLAGS], EGRESS_LOCAL, 'n1 owns it now: SNAT here');
  // Nobody owns it: still matched, flagged, so the datapath drops instead of leaking.
  failed.delete('198.18.0.200');
  const r = compile(failed);
  assert.ok(
    r.problems.includes(
      'policy web: egress IP 198.18.0.200 is owned by no node: its traffic is dropped until a gateway takes it',
    ),
  );
  t.sync(r.entries);
  assert.equal(look('198.19.1.10', '198.18.200.5'), 24);
  assert.equal(out[EV_FLAGS], EGRESS_NO_GATEWAY);

  // A policy removed: its entries go, and its prefix length with them (web's three entries are
  // rewritten: owned again, and its policy index moved up).
  assert.deepEqual(
    t.sync(
      compile(
        OWNERS,
        'n1',
        POLICIES.filter((p) => p.name !== 'prod-narrow'),
      ).entries,
    ),
    { inserted: 0, updated: 3, deleted: 2, refused: 0 },
  );
  assert.equal(look('198.19.2.10', '198.18.200.200'), 24);
  assert.equal(look('198.19.2.11', '198.18.200.200'), -1);
  assert.deepEqual(t.sync([]), { inserted: 0, updated: 0, deleted: 3, refused: 0 });
  assert.equal(t.stats().size, 0);
  assert.equal(look('198.19.1.10', '198.18.200.5'), -1);
});

test('table: bounded; refused entries are counted', () => {
  const t = EgressTable.create(3);
  const r = t.sync(compile().entries);
  assert.deepEqual(r, { inserted: 3, updated: 0, deleted: 0, refused: 2 });
  assert.deepEqual(t.stats(), { size: 3, capacity: 3, refused: 2 });
});

test('apply-time check: egress IPs no node may own are named by field', () => {
  const [web, narrow] = POLICIES;
  assert.deepEqual(unownableEgressIPs(web!, new Set(['198.18.0.200'])), [
    "spec.egressSourceIPs[1]: 2001:db8::200 is not an egress IP of any node (add it to a gateway node's " +
      'configuration first)',
  ]);
  assert.deepEqual(unownableEgressIPs(narrow!, new Set()), [
    "spec.egressSourceIP: 198.18.0.201 is not an egress IP of any node (add it to a gateway node's configuration " +
      'first)',
  ]);
  assert.deepEqual(unownableEgressIPs(narrow!, new Set(['198.18.0.201'])), []);
});
