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

type Obj = Record<string, unknown>;
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function fail(where: string, msg: string): never {
  throw new PolicyError(`${where}: ${msg}`);
}

function join(where: string, field: string): string {
  return where === '' ? field : `${where}.${field}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

function only(o: Obj, where: string, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
    fail(join(where, k), `unknown field${near ? ` (did you mean ${near}?)` : ''} (expected one of: ${allowed.join(', ')})`);
  }
}

function obj(v: unknown, where: string): Obj {
  if (v === undefined) fail(where, 'missing field');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Obj;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) fail(where, 'missing field');
  if (!Array.isArray(v)) fail(where, 'must be a list');
  if (v.length === 0) fail(where, 'must not be empty');
  return v;
}

function address(v: unknown, where: string): Address {
  const a = typeof v === 'string' ? parseAddress(v) : null;
  if (!a) fail(where, `${JSON.stringify(v)} is not an IPv4 or IPv6 address`);
  return a;
}

/** A CIDR as Cilium's IPv4CIDR type wants it (a prefix length is required), IPv6 too. */
export function parseCidr(v: unknown, where: string): Prefix {
  if (typeof v !== 'string') fail(where, `${JSON.stringify(v)} is not a CIDR`);
  const slash = v.indexOf('/');
  if (slash < 0) fail(where, `"${v}" is not a CIDR (no prefix length; a single host is /32 or /128)`);
  const a = parseAddress(v.slice(0, slash));
  if (!a) fail(where, `"${v}" is not a CIDR`);
  const max = a.family === 4 ? 32 : 128;
  const lenText = v.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) fail(where, `"${v}" has an invalid prefix length (0..${max})`);
  const len = Number(lenText);
  if (!hostBitsClear(a.bytes, len)) {
    fail(where, `"${v}" has host bits set (did you mean ${formatAddress({ family: a.family, bytes: maskBytes(a.bytes, len) })}/${len}?)`);
  }
  return { ...a, len };
}

function parseRule(v: unknown, where: string): EgressRule {
  const o = obj(v, where);
  only(o, where, ['podSelector', 'namespaceSelector']);
  // A `podSelector:` with nothing after it is YAML null: treat it as {} (all), as Kubernetes does.
  const hasPod = 'podSelector' in o, hasNs = 'namespaceSelector' in o;
  if (!hasPod && !hasNs) fail(where, 'needs a podSelector or a namespaceSelector');
  const r: EgressRule = {};
  if (hasPod) r.podSelector = parseSelector(o.podSelector, `${where}.podSelector`);
  if (hasNs) r.namespaceSelector = parseSelector(o.namespaceSelector, `${where}.namespaceSelector`);
  return r;
}

/** Validates one document (already parsed from YAML or JSON); `where` prefixes every message. */
export function parsePolicy(doc: unknown, where = ''): EgressPolicy {
  const top = obj(doc, where === '' ? 'document' : where);
  only(top, where, ['apiVersion', 'kind', 'metadata', 'spec']);
  if (top.apiVersion !== API_VERSION) fail(join(where, 'apiVersion'), top.apiVersion === undefined ? 'missing field' : `expected "${API_VERSION}", got ${JSON.stringify(top.apiVersion)}`);
  if (top.kind !== KIND) fail(join(where, 'kind'), top.kind === undefined ? 'missing field' : `expected "${KIND}", got ${JSON.stringify(top.kind)}`);
  const meta = obj(top.metadata, join(where, 'metadata'));
  only(meta, join(where, 'metadata'), ['name', 'labels', 'annotations']);
  const nameAt = join(where, 'metadata.name');
  if (meta.name === undefined) fail(nameAt, 'missing field');
  if (typeof meta.name !== 'string' || !NAME.test(meta.name)) fail(nameAt, `${JSON.stringify(meta.name)} is not a valid name (lower-case letters, digits, - and .)`);

  const specAt = join(where, 'spec');
  const spec = obj(top.spec, specAt);
  only(spec, specAt, ['egress', 'destinationCIDRs', 'egressSourceIP', 'egressSourceIPs']);
  const egress = list(spec.egress, `${specAt}.egress`).map((r, i) => parseRule(r, `${specAt}.egress[${i}]`));

  // Egress IPs first, so CIDR errors can say which families the policy has.
  const ips: Address[] = [];
  const ipAt: string[] = [];
  if (spec.egressSourceIP !== undefined && spec.egressSourceIPs !== undefined) {
    fail(`${specAt}.egressSourceIPs`, 'give spec.egressSourceIP or spec.egressSourceIPs, not both');
  }
  if (spec.egressSourceIPs !== undefined) {
    const l = list(spec.egressSourceIPs, `${specAt}.egressSourceIPs`);
    if (l.length > 2) fail(`${specAt}.egressSourceIPs`, `at most one IPv4 and one IPv6 address, got ${l.length}`);
    l.forEach((x, i) => {
      const at = `${specAt}.egressSourceIPs[${i}]`;
      const a = address(x, at);
      if (ips.some((p) => p.family === a.family)) fail(at, `${formatAddress(a)} is a second IPv${a.family} address (at most one per family)`);
      ips.push(a);
      ipAt.push(at);
    });
  } else {
    if (spec.egressSourceIP === undefined) fail(`${specAt}.egressSourceIP`, 'missing field');
    ips.push(address(spec.egressSourceIP, `${specAt}.egressSourceIP`));
    ipAt.push(`${specAt}.egressSourceIP`);
  }

  const cidrs: Prefix[] = [];
  const seen = new Map<string, number>();
  list(spec.destinationCIDRs, `${specAt}.destinationCIDRs`).forEach((x, i) => {
    const at = `${specAt}.destinationCIDRs[${i}]`;
    const p = parseCidr(x, at);
    if (!ips.some((a) => a.family === p.family)) {
      fail(at, `"${String(x)}" is IPv${p.family} but the policy has no IPv${p.family} egress IP (${ips.map(formatAddress).join(', ')})`);
    }
    const text = `${formatAddress(p)}/${p.len}`;
    const dup = seen.get(text);
    if (dup !== undefined) fail(at, `"${String(x)}" duplicates ${specAt}.destinationCIDRs[${dup}]`);
    seen.set(text, i);
    cidrs.push(p);
  });
  ips.forEach((a, i) => {
    if (!cidrs.some((p) => p.family === a.family)) fail(ipAt[i]!, `${formatAddress(a)} is IPv${a.family} but no destination CIDR is IPv${a.family}`);
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
    if (d.errors.length) fail(at, d.errors[0]!.message.split('\n')[0]!);
    const js: unknown = d.toJS();
    if (js === null || js === undefined) return;
    const p = parsePolicyAt(js, at);
    const prev = names.get(p.name);
    if (prev !== undefined) fail(`${at}: metadata.name`, `"${p.name}" is also defined in document ${prev}`);
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
