// Kubernetes label selectors ({matchLabels, matchExpressions}) as CiliumEgressNATPolicy uses
// them: parsing with errors that name the field, and matching against an endpoint.
//
// How an endpoint is seen (the Cilium convention, so policies written for Cilium mean the same):
// - podSelector matches the endpoint's own labels plus `io.kubernetes.pod.namespace=<ns>`, the
//   label Cilium gives every pod; so `podSelector: {matchLabels: {io.kubernetes.pod.namespace: prod}}`
//   selects the endpoints of namespace prod, as in Cilium.
// - namespaceSelector matches the labels of the endpoint's namespace: the labels configured for
//   that namespace (none by default) plus `kubernetes.io/metadata.name=<ns>`, which Kubernetes
//   (≥ 1.21) puts on every namespace. Cilium does the same by prefixing the selector's keys with
//   `io.cilium.k8s.namespace.labels.` and matching them against the pod's copy of its namespace's
//   labels; here the namespace labels are kept apart, which is equivalent.
// - An empty namespaceSelector ({}) selects every namespace; an absent podSelector next to a
//   namespaceSelector selects every endpoint of the selected namespaces; an empty podSelector
//   ({}) selects every endpoint.
// - Label keys may carry Cilium's source prefix `k8s:` or `any:`; it is dropped (Weft labels
//   have one source).
// An endpoint without a namespace is in "default", as a pod created without one.
import { PolicyError } from './policy-error.js';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: Requirement[];
}

/** What policies select: an endpoint's labels and namespace. */
export interface EndpointIdentity {
  labels: Record<string, string>;
  /** Kubernetes-style namespace name; "default" when absent. */
  namespace?: string;
}

export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const DEFAULT_NAMESPACE = 'default';

// Kubernetes qualified names (an optional DNS-subdomain prefix and a name of ≤ 63 characters).
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;
const OPERATORS: readonly Operator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw new PolicyError(`${where}: ${msg}`);
}

function labelKey(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, `${JSON.stringify(v)} is not a label key (a string)`);
  const k = v.replace(/^(k8s|any):/, '');
  if (!LABEL_KEY.test(k)) fail(where, `"${v}" is not a valid label key`);
  return k;
}

function labelValue(v: unknown, where: string): string {
  // YAML turns `app: 1` or `enabled: true` into numbers and booleans; Kubernetes would refuse them.
  if (typeof v !== 'string') fail(where, `${JSON.stringify(v)} is not a string (quote it)`);
  if (!LABEL_VALUE.test(v)) fail(where, `"${v}" is not a valid label value`);
  return v;
}

export function parseSelector(v: unknown, where: string): LabelSelector {
  if (v === null || v === undefined) return { matchLabels: {}, matchExpressions: [] };
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping with matchLabels and/or matchExpressions');
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (k !== 'matchLabels' && k !== 'matchExpressions') fail(`${where}.${k}`, 'unknown field (expected matchLabels, matchExpressions)');
  }
  const matchLabels: Record<string, string> = {};
  if (o.matchLabels !== undefined && o.matchLabels !== null) {
    if (typeof o.matchLabels !== 'object' || Array.isArray(o.matchLabels)) fail(`${where}.matchLabels`, 'must be a mapping of label key to value');
    for (const [k, val] of Object.entries(o.matchLabels as Obj)) {
      matchLabels[labelKey(k, `${where}.matchLabels`)] = labelValue(val, `${where}.matchLabels.${k}`);
    }
  }
  const matchExpressions: Requirement[] = [];
  if (o.matchExpressions !== undefined && o.matchExpressions !== null) {
    if (!Array.isArray(o.matchExpressions)) fail(`${where}.matchExpressions`, 'must be a list');
    o.matchExpressions.forEach((e, i) => matchExpressions.push(parseRequirement(e, `${where}.matchExpressions[${i}]`)));
  }
  return { matchLabels, matchExpressions };
}

function parseRequirement(v: unknown, where: string): Requirement {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a mapping with key, operator and values');
  const o = v as Obj;
  for (const k of Object.keys(o)) if (!['key', 'operator', 'values'].includes(k)) fail(`${where}.${k}`, 'unknown field (expected key, operator, values)');
  if (o.key === undefined) fail(`${where}.key`, 'missing field');
  const key = labelKey(o.key, `${where}.key`);
  if (o.operator === undefined) fail(`${where}.operator`, 'missing field');
  if (!OPERATORS.includes(o.operator as Operator)) fail(`${where}.operator`, `"${String(o.operator)}" is not one of In, NotIn, Exists, DoesNotExist`);
  const operator = o.operator as Operator;
  const raw = o.values ?? [];
  if (!Array.isArray(raw)) fail(`${where}.values`, 'must be a list of strings');
  const values = raw.map((x, i) => labelValue(x, `${where}.values[${i}]`));
  if ((operator === 'In' || operator === 'NotIn') && values.length === 0) fail(`${where}.values`, `must not be empty for operator ${operator}`);
  if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length !== 0) fail(`${where}.values`, `must be empty for operator ${operator}`);
  return { key, operator, values };
}

/** Kubernetes semantics: every matchLabels pair and every requirement must hold (AND). */
export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.operator) {
      case 'In': if (!has || !r.values.includes(labels[r.key]!)) return false; break;
      case 'NotIn': if (has && r.values.includes(labels[r.key]!)) return false; break; // an absent key is "not in"
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
    }
  }
  return true;
}

/** The labels a podSelector sees: the endpoint's own plus its namespace label. */
export function podLabels(ep: EndpointIdentity): Record<string, string> {
  return { ...ep.labels, [POD_NAMESPACE_LABEL]: ep.namespace ?? DEFAULT_NAMESPACE };
}

/** The labels a namespaceSelector sees for the endpoint's namespace. */
export function namespaceLabels(ep: EndpointIdentity, configured: Readonly<Record<string, Record<string, string>>> = {}): Record<string, string> {
  const ns = ep.namespace ?? DEFAULT_NAMESPACE;
  return { ...(configured[ns] ?? {}), [NAMESPACE_NAME_LABEL]: ns };
}
