// CiliumEgressNATPolicy parsing: Cilium's samples parse, IPv6 and dual stack, multi-document
// files, selectors, and every bad input gives its exact message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePolicy, parsePolicyFile, policyManifest, PolicyError } from '../../src/nat/policy.js';
import { selectorMatches, podLabels, namespaceLabels, parseSelector } from '../../src/nat/selector.js';

const fixture = readFileSync(
  fileURLToPath(new URL('../../../test/fixtures/nat/policies.yaml', import.meta.url)),
  'utf8',
);

// biome-ignore lint/suspicious/noExplicitAny: the cases below reach into the document freely.
function base(): Record<string, any> {
  return {
    apiVersion: 'cilium.io/v2alpha1',
    kind: 'CiliumEgressNATPolicy',
    metadata: { name: 'egress-sample' },
    spec: {
      egress: [{ podSelector: { matchLabels: { app: 'web' } } }],
      destinationCIDRs: ['198.18.200.0/24', '198.18.201.0/24'],
      egressSourceIP: '198.18.0.200',
    },
  };
}

test('the sample file: three policies, canonical addresses, selectors', () => {
  const ps = parsePolicyFile(fixture, 'policies.yaml');
  assert.deepEqual(
    ps.map((p) => p.name),
    ['egress-sample', 'dual-stack', 'v6-only'],
  );
  assert.deepEqual(ps[0], {
    name: 'egress-sample',
    egress: [
      { podSelector: { matchLabels: { app: 'web', 'io.kubernetes.pod.namespace': 'default' }, matchExpressions: [] } },
    ],
    destinationCIDRs: ['198.18.200.0/24'],
    egressSourceIPs: ['198.18.0.200'],
  });
  assert.deepEqual(ps[1]!.destinationCIDRs, ['198.18.200.0/24', '198.18.201.128/25', '2001:db8:200::/48']);
  assert.deepEqual(ps[1]!.egressSourceIPs, ['198.18.0.201', '2001:db8::201']);
  assert.deepEqual(ps[1]!.egress[0]!.podSelector!.matchExpressions[1], {
    key: 'tier',
    operator: 'NotIn',
    values: ['debug'],
  });
  assert.deepEqual(ps[1]!.egress[1]!.namespaceSelector, { matchLabels: {}, matchExpressions: [] });
  assert.deepEqual(ps[2]!.egressSourceIPs, ['2001:db8::202']);
  // The canonical form goes back to Cilium's shape and parses to the same policy.
  for (const p of ps) assert.deepEqual(parsePolicy(JSON.parse(JSON.stringify(policyManifest(p)))), p);
});

test('errors name the field path and the value', () => {
  // biome-ignore lint/suspicious/noExplicitAny: as base().
  const cases: Array<[(d: Record<string, any>) => void, string]> = [
    [
      (d) => {
        d.spec.destinationCIDRs[1] = '198.18.300.0/24';
      },
      'spec.destinationCIDRs[1]: "198.18.300.0/24" is not a CIDR',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs[0] = '198.18.200.7/24';
      },
      'spec.destinationCIDRs[0]: "198.18.200.7/24" has host bits set (did you mean 198.18.200.0/24?)',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs[0] = '198.18.200.0/33';
      },
      'spec.destinationCIDRs[0]: "198.18.200.0/33" has an invalid prefix length (0..32)',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs[0] = '198.18.200.1';
      },
      'spec.destinationCIDRs[0]: "198.18.200.1" is not a CIDR (no prefix length; a single host is /32 or /128)',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs[1] = '198.18.200.0/24';
      },
      'spec.destinationCIDRs[1]: "198.18.200.0/24" duplicates spec.destinationCIDRs[0]',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs[1] = '2001:db8:200::/48';
      },
      'spec.destinationCIDRs[1]: "2001:db8:200::/48" is IPv6 but the policy has no IPv6 egress IP (198.18.0.200)',
    ],
    [
      (d) => {
        d.spec.destinationCIDRs = [];
      },
      'spec.destinationCIDRs: must not be empty',
    ],
    [
      (d) => {
        delete d.spec.destinationCIDRs;
      },
      'spec.destinationCIDRs: missing field',
    ],
    [
      (d) => {
        d.spec.egres = d.spec.egress;
        delete d.spec.egress;
      },
      'spec.egres: unknown field (expected one of: egress, destinationCIDRs, egressSourceIP, egressSourceIPs); did ' +
        'you mean egress?',
    ],
    [
      (d) => {
        delete d.spec.egress;
      },
      'spec.egress: missing field',
    ],
    [
      (d) => {
        delete d.spec.egressSourceIP;
      },
      'spec.egressSourceIP: missing field',
    ],
    [
      (d) => {
        d.spec.egressSourceIP = '198.18.0.300';
      },
      'spec.egressSourceIP: "198.18.0.300" is not an IPv4 or IPv6 address',
    ],
    [
      (d) => {
        d.spec.egressSourceIP = '2001:db8::200';
      },
      'spec.destinationCIDRs[0]: "198.18.200.0/24" is IPv4 but the policy has no IPv4 egress IP (2001:db8::200)',
    ],
    [
      (d) => {
        d.spec.egressSourceIPs = ['198.18.0.1'];
      },
      'spec.egressSourceIPs: give spec.egressSourceIP or spec.egressSourceIPs, not both',
    ],
    [
      (d) => {
        delete d.spec.egressSourceIP;
        d.spec.egressSourceIPs = ['198.18.0.1', '198.18.0.2'];
      },
      'spec.egressSourceIPs[1]: 198.18.0.2 is a second IPv4 address (at most one per family)',
    ],
    [
      (d) => {
        delete d.spec.egressSourceIP;
        d.spec.egressSourceIPs = ['198.18.0.1', '2001:db8::1'];
      },
      'spec.egressSourceIPs[1]: 2001:db8::1 is IPv6 but no destination CIDR is IPv6',
    ],
    [
      (d) => {
        d.apiVersion = 'cilium.io/v2';
      },
      'apiVersion: expected "cilium.io/v2alpha1", got "cilium.io/v2"',
    ],
    [
      (d) => {
        d.kind = 'CiliumNetworkPolicy';
      },
      'kind: expected "CiliumEgressNATPolicy", got "CiliumNetworkPolicy"',
    ],
    [
      (d) => {
        delete d.metadata.name;
      },
      'metadata.name: missing field',
    ],
    [
      (d) => {
        d.metadata.name = 'Egress_1';
      },
      'metadata.name: "Egress_1" is not a valid name (lower-case letters, digits, - and .)',
    ],
    [
      (d) => {
        d.metadata.namespace = 'x';
      },
      'metadata.namespace: unknown field (expected one of: name, labels, annotations)',
    ],
    [
      (d) => {
        d.spec.egress = [{}];
      },
      'spec.egress[0]: needs a podSelector or a namespaceSelector',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector.matchLabel = {};
      },
      'spec.egress[0].podSelector.matchLabel: unknown field (expected one of: matchLabels, matchExpressions); did ' +
        'you mean matchLabels?',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector.matchLabels.app = 1;
      },
      'spec.egress[0].podSelector.matchLabels.app: 1 is not a string (quote it)',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector.matchLabels = { 'bad key!': 'x' };
      },
      'spec.egress[0].podSelector.matchLabels: "bad key!" is not a valid label key',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector = { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['x'] }] };
      },
      'spec.egress[0].podSelector.matchExpressions[0].operator: "Equals" is not one of In, NotIn, Exists, DoesNotExist',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector = { matchExpressions: [{ key: 'app', operator: 'In' }] };
      },
      'spec.egress[0].podSelector.matchExpressions[0].values: must not be empty for operator In',
    ],
    [
      (d) => {
        d.spec.egress[0].podSelector = { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] };
      },
      'spec.egress[0].podSelector.matchExpressions[0].values: must be empty for operator Exists',
    ],
    [
      (d) => {
        d.spec.egress[0].namespaceSelector = { matchExpressions: [{ operator: 'Exists' }] };
      },
      'spec.egress[0].namespaceSelector.matchExpressions[0].key: missing field',
    ],
    [
      (d) => {
        d.spec = 'x';
      },
      'spec: must be a mapping',
    ],
  ];
  for (const [edit, msg] of cases) {
    const d = base();
    edit(d);
    assert.throws(
      () => parsePolicy(d),
      (e: Error) => {
        assert.ok(e instanceof PolicyError, `${msg}: not a PolicyError: ${e}`);
        assert.equal(e.message, msg);
        return true;
      },
    );
  }
});

test('files: the document is named, syntax errors and duplicate names are refused', () => {
  const good =
    'apiVersion: cilium.io/v2alpha1\nkind: CiliumEgressNATPolicy\nmetadata: {name: a}\nspec:\n  egress: ' +
    '[{podSelector: {}}]\n  destinationCIDRs: [198.18.200.0/24]\n  egressSourceIP: 198.18.0.200\n';
  assert.equal(parsePolicyFile(good, 'f.yaml').length, 1);
  assert.equal(parsePolicyFile('', 'f.yaml').length, 0);
  assert.throws(() => parsePolicyFile(`${good}---\n${good.replace('198.18.200.0/24', '198.18.300.0/24')}`, 'f.yaml'), {
    message: 'f.yaml document 2: spec.destinationCIDRs[0]: "198.18.300.0/24" is not a CIDR',
  });
  assert.throws(() => parsePolicyFile(`${good}---\n${good}`, 'f.yaml'), {
    message: 'f.yaml document 2: metadata.name: "a" is also defined in document 1',
  });
  assert.throws(
    () => parsePolicyFile('spec: [unclosed\n', 'f.yaml'),
    (e: Error) => e instanceof PolicyError && e.message.startsWith('f.yaml document 1: '),
  );
});

test('selectors: Kubernetes semantics and the Cilium namespace labels', () => {
  const sel = (v: unknown) => parseSelector(v, 's');
  const web = { labels: { app: 'web', tier: 'front' }, namespace: 'prod' };
  const other = { labels: { app: 'other' } };
  assert.equal(selectorMatches(sel({ matchLabels: { app: 'web' } }), podLabels(web)), true);
  assert.equal(selectorMatches(sel({ matchLabels: { app: 'web' } }), podLabels(other)), false);
  assert.equal(selectorMatches(sel({}), podLabels(other)), true);
  assert.equal(selectorMatches(sel({ matchLabels: { 'io.kubernetes.pod.namespace': 'prod' } }), podLabels(web)), true);
  assert.equal(
    selectorMatches(sel({ matchLabels: { 'io.kubernetes.pod.namespace': 'default' } }), podLabels(other)),
    true,
    'no namespace is "default"',
  );
  const ex = (operator: string, values?: string[]) => sel({ matchExpressions: [{ key: 'tier', operator, values }] });
  assert.equal(selectorMatches(ex('In', ['front', 'back']), podLabels(web)), true);
  assert.equal(selectorMatches(ex('In', ['back']), podLabels(web)), false);
  assert.equal(selectorMatches(ex('In', ['front']), podLabels(other)), false);
  assert.equal(selectorMatches(ex('NotIn', ['front']), podLabels(web)), false);
  assert.equal(selectorMatches(ex('NotIn', ['front']), podLabels(other)), true, 'an absent key is "not in"');
  assert.equal(selectorMatches(ex('Exists'), podLabels(web)), true);
  assert.equal(selectorMatches(ex('Exists'), podLabels(other)), false);
  assert.equal(selectorMatches(ex('DoesNotExist'), podLabels(other)), true);
  // namespaceSelector: configured namespace labels plus kubernetes.io/metadata.name.
  const nsLabels = { prod: { env: 'prod' } };
  assert.equal(selectorMatches(sel({ matchLabels: { env: 'prod' } }), namespaceLabels(web, nsLabels)), true);
  assert.equal(selectorMatches(sel({ matchLabels: { env: 'prod' } }), namespaceLabels(other, nsLabels)), false);
  assert.equal(
    selectorMatches(sel({ matchLabels: { 'kubernetes.io/metadata.name': 'prod' } }), namespaceLabels(web)),
    true,
  );
  assert.equal(
    selectorMatches(sel({ matchLabels: { app: 'web' } }), namespaceLabels(web, nsLabels)),
    false,
    'pod labels are not namespace labels',
  );
});
