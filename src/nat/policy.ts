// CiliumEgressNATPolicy (cilium.io/v2alpha1, Cilium 1.10's egress gateway) accepted as users
// write it for Cilium, validated with errors that name the field path and the value.
//
//   apiVersion: cilium.io/v2alpha1
//   kind: CiliumEgressNATPolicy
//   metadata: { name: egress-sample }
//   spec:
//     egress:
//     - podSelector: { matchLabels: { app: web } }          # and/or namespaceSelector
//     destinationCIDRs: [ 198.18.200.0/24 ]
//     egressSourceIP: 198.18.0.200
//
// Beyond Cilium 1.10 (IPv4 only):
// - destinationCIDRs may be IPv6, and egressSourceIP may be an IPv6 address.
// - A dual-stack policy writes `egressSourceIPs: [198.18.0.200, 2001:db8::200]` instead of
//   egressSourceIP (at most one address per family; exactly one of the two fields).
// - Every destination CIDR needs an egress IP of its family, and every egress IP needs at
//   least one destination CIDR of its family (an unused one is almost certainly a typo).
// Selectors: see selector.ts. Unknown fields are errors (Kubernetes would prune them silently,
// which hides typos such as `spec.egres`). metadata may carry labels and annotations, which
// are kept out of the way; any other metadata field is refused.
import { parseAllDocuments } from 'yaml';
import { parseAddress, formatAddress, hostBitsClear, maskBytes, type Address, type Prefix } from '../wire/addr.js';
import { validator, fieldPath, type Obj, type Validator } from '../wire/config-validate.js';
import { parseSelector, type LabelSelector } from './selector.js';
import { PolicyError } from './policy-error.js';

export { PolicyError } from './policy-error.js';

export const API_VERSION = 'cilium.io/v2alpha1';
export const KIND = 'CiliumEgressNATPolicy';

export interface EgressRule {
  /** Absent: every endpoint of the namespaces namespaceSelector selects. */
  podSelector?: LabelSelector;
  /** Absent: the podSelector alone decides (every namespace). */
  namespaceSelector?: LabelSelector;
}

/** A validated policy in canonical form (addresses and prefixes formatted as RFC 5952 / dotted quads). */
export interface EgressPolicy {
  name: string;
  egress: EgressRule[];
  destinationCIDRs: string[];
  /** One or two addresses, at most one per family, in the order written. */
  egressSourceIPs: string[];
}

const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const v: Validator = validator(PolicyError);

/** A CIDR as Cilium's IPv4CIDR type wants it (a prefix length is required), IPv6 too. */
export function parseCidr(x: unknown, where: string): Prefix {
  if (typeof x !== 'string') v.fail(where, `${JSON.stringify(x)} is not a CIDR`);
  const slash = x.indexOf('/');
  if (slash < 0) v.fail(where, `"${x}" is not a CIDR (no prefix length; a single host is /32 or /128)`);
  const a = parseAddress(x.slice(0, slash));
  if (!a) v.fail(where, `"${x}" is not a CIDR`);
  const max = a.family === 4 ? 32 : 128;
  const lenText = x.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    v.fail(where, `"${x}" has an invalid prefix length (0..${max})`);
  }
  const len = Number(lenText);
  if (!hostBitsClear(a.bytes, len)) {
    const masked = formatAddress({ family: a.family, bytes: maskBytes(a.bytes, len) });
    v.fail(where, `"${x}" has host bits set (did you mean ${masked}/${len}?)`);
  }
  return { ...a, len };
}

function parseRule(x: unknown, where: string): EgressRule {
  const o = v.obj(x, where);
  v.only(o, where, ['podSelector', 'namespaceSelector']);
  // A `podSelector:` with nothing after it is YAML null: treat it as {} (all), as Kubernetes does.
  const hasPod = 'podSelector' in o,
    hasNs = 'namespaceSelector' in o;
  if (!hasPod && !hasNs) v.fail(where, 'needs a podSelector or a namespaceSelector');
  const r: EgressRule = {};
  if (hasPod) r.podSelector = parseSelector(o.podSelector, `${where}.podSelector`);
  if (hasNs) r.namespaceSelector = parseSelector(o.namespaceSelector, `${where}.namespaceSelector`);
  return r;
}

/** Validates one document (already parsed from YAML or JSON); `where` prefixes every message. */
export function parsePolicy(doc: unknown, where = ''): EgressPolicy {
  const top = v.obj(doc, where === '' ? 'document' : where);
  v.only(top, where, ['apiVersion', 'kind', 'metadata', 'spec']);
  const expect = (field: 'apiVersion' | 'kind', value: string): void => {
    const got = top[field];
    if (got === undefined) v.fail(fieldPath(where, field), 'missing field');
    if (got !== value) v.fail(fieldPath(where, field), `expected "${value}", got ${JSON.stringify(got)}`);
  };
  expect('apiVersion', API_VERSION);
  expect('kind', KIND);
  const meta = v.obj(top.metadata, fieldPath(where, 'metadata'));
  v.only(meta, fieldPath(where, 'metadata'), ['name', 'labels', 'annotations']);
  const nameAt = fieldPath(where, 'metadata.name');
  if (meta.name === undefined) v.fail(nameAt, 'missing field');
  if (typeof meta.name !== 'string' || !NAME.test(meta.name)) {
    v.fail(nameAt, `${JSON.stringify(meta.name)} is not a valid name (lower-case letters, digits, - and .)`);
  }

  const specAt = fieldPath(where, 'spec');
  const spec = v.obj(top.spec, specAt);
  v.only(spec, specAt, ['egress', 'destinationCIDRs', 'egressSourceIP', 'egressSourceIPs']);
  const egress = v.nonEmptyList(spec.egress, `${specAt}.egress`).map((r, i) => parseRule(r, `${specAt}.egress[${i}]`));

  // Egress IPs first, so CIDR errors can say which families the policy has.
  const ips: Address[] = [];
  const ipAt: string[] = [];
  if (spec.egressSourceIP !== undefined && spec.egressSourceIPs !== undefined) {
    v.fail(`${specAt}.egressSourceIPs`, 'give spec.egressSourceIP or spec.egressSourceIPs, not both');
  }
  if (spec.egressSourceIPs !== undefined) {
    const l = v.nonEmptyList(spec.egressSourceIPs, `${specAt}.egressSourceIPs`);
    if (l.length > 2) v.fail(`${specAt}.egressSourceIPs`, `at most one IPv4 and one IPv6 address, got ${l.length}`);
    l.forEach((x, i) => {
      const at = `${specAt}.egressSourceIPs[${i}]`;
      const a = v.address(x, at);
      if (ips.some((p) => p.family === a.family)) {
        v.fail(at, `${formatAddress(a)} is a second IPv${a.family} address (at most one per family)`);
      }
      ips.push(a);
      ipAt.push(at);
    });
  } else {
    if (spec.egressSourceIP === undefined) v.fail(`${specAt}.egressSourceIP`, 'missing field');
    ips.push(v.address(spec.egressSourceIP, `${specAt}.egressSourceIP`));
    ipAt.push(`${specAt}.egressSourceIP`);
  }

  const cidrs: Prefix[] = [];
  const seen = new Map<string, number>();
  v.nonEmptyList(spec.destinationCIDRs, `${specAt}.destinationCIDRs`).forEach((x, i) => {
    const at = `${specAt}.destinationCIDRs[${i}]`;
    const p = parseCidr(x, at);
    if (!ips.some((a) => a.family === p.family)) {
      const have = ips.map(formatAddress).join(', ');
      v.fail(at, `"${String(x)}" is IPv${p.family} but the policy has no IPv${p.family} egress IP (${have})`);
    }
    const text = `${formatAddress(p)}/${p.len}`;
    const dup = seen.get(text);
    if (dup !== undefined) v.fail(at, `"${String(x)}" duplicates ${specAt}.destinationCIDRs[${dup}]`);
    seen.set(text, i);
    cidrs.push(p);
  });
  ips.forEach((a, i) => {
    if (!cidrs.some((p) => p.family === a.family)) {
      v.fail(ipAt[i]!, `${formatAddress(a)} is IPv${a.family} but no destination CIDR is IPv${a.family}`);
    }
  });

  return {
    name: meta.name,
    egress,
    destinationCIDRs: cidrs.map((p) => `${formatAddress(p)}/${p.len}`),
    egressSourceIPs: ips.map(formatAddress),
  };
}

/**
 * Every policy in a YAML file of one or more documents (separated by ---); empty documents are
 * skipped. All are validated before any is returned, so a bad file applies nothing; names must
 * be unique within the file. Messages start with "<source> document N: ".
 */
export function parsePolicyFile(text: string, source = 'policy'): EgressPolicy[] {
  const docs = parseAllDocuments(text);
  const out: EgressPolicy[] = [];
  const names = new Map<string, number>();
  // parseAllDocuments returns an EmptyStream (not iterable as documents) for an empty input.
  const all = Array.isArray(docs) ? docs : [];
  all.forEach((d, i) => {
    const at = `${source} document ${i + 1}`;
    if (d.errors.length) v.fail(at, d.errors[0]!.message.split('\n')[0]!);
    const js: unknown = d.toJS();
    if (js === null || js === undefined) return;
    const p = parsePolicyAt(js, at);
    const prev = names.get(p.name);
    if (prev !== undefined) v.fail(`${at}: metadata.name`, `"${p.name}" is also defined in document ${prev}`);
    names.set(p.name, i + 1);
    out.push(p);
  });
  return out;
}

/** Wraps parsePolicy so errors name the document (for parsePolicyFile and the API). */
export function parsePolicyAt(doc: unknown, at: string): EgressPolicy {
  try {
    return parsePolicy(doc);
  } catch (e) {
    if (e instanceof PolicyError) throw new PolicyError(`${at}: ${e.message}`);
    throw e;
  }
}

/** Back to Cilium's shape (what the store keeps and `weft egress list -o yaml` prints); parsePolicy accepts it. */
export function policyManifest(p: EgressPolicy): Obj {
  const spec: Obj = {
    egress: p.egress.map((r) => {
      const o: Obj = {};
      if (r.podSelector) o.podSelector = r.podSelector;
      if (r.namespaceSelector) o.namespaceSelector = r.namespaceSelector;
      return o;
    }),
    destinationCIDRs: p.destinationCIDRs,
  };
  if (p.egressSourceIPs.length === 1) spec.egressSourceIP = p.egressSourceIPs[0];
  else spec.egressSourceIPs = p.egressSourceIPs;
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: p.name }, spec };
}

/** Store key of a policy. */
export function policyKey(name: string): string {
  return `egress-policies/${name}`;
}
