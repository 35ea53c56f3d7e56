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
import { validator, type Obj, type Validator } from '../wire/config-validate.js';
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

const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const DEFAULT_NAMESPACE = 'default';

// Kubernetes qualified names (an optional DNS-subdomain prefix and a name of ≤ 63 characters).
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;
const OPERATORS: readonly Operator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

const v: Validator = validator(PolicyError);

function labelKey(x: unknown, where: string): string {
  if (typeof x !== 'string') v.fail(where, `${JSON.stringify(x)} is not a label key (a string)`);
  const k = x.replace(/^(k8s|any):/, '');
  if (!LABEL_KEY.test(k)) v.fail(where, `"${x}" is not a valid label key`);
  return k;
}

function labelValue(x: unknown, where: string): string {
  // YAML turns `app: 1` or `enabled: true` into numbers and booleans; Kubernetes would refuse them.
  if (typeof x !== 'string') v.fail(where, `${JSON.stringify(x)} is not a string (quote it)`);
  if (!LABEL_VALUE.test(x)) v.fail(where, `"${x}" is not a valid label value`);
  return x;
}

export function parseSelector(x: unknown, where: string): LabelSelector {
  if (x === null || x === undefined) return { matchLabels: {}, matchExpressions: [] };
  if (typeof x !== 'object' || Array.isArray(x)) {
    v.fail(where, 'must be a mapping with matchLabels and/or matchExpressions');
  }
  const o = x as Obj;
  v.only(o, where, ['matchLabels', 'matchExpressions']);
  const matchLabels: Record<string, string> = {};
  if (o.matchLabels !== undefined && o.matchLabels !== null) {
    if (typeof o.matchLabels !== 'object' || Array.isArray(o.matchLabels)) {
      v.fail(`${where}.matchLabels`, 'must be a mapping of label key to value');
    }
    for (const [k, val] of Object.entries(o.matchLabels as Obj)) {
      matchLabels[labelKey(k, `${where}.matchLabels`)] = labelValue(val, `${where}.matchLabels.${k}`);
    }
  }
  const matchExpressions: Requirement[] = [];
  if (o.matchExpressions !== undefined && o.matchExpressions !== null) {
    if (!Array.isArray(o.matchExpressions)) v.fail(`${where}.matchExpressions`, 'must be a list');
    for (const [i, e] of o.matchExpressions.entries()) {
      matchExpressions.push(parseRequirement(e, `${where}.matchExpressions[${i}]`));
    }
  }
  return { matchLabels, matchExpressions };
}

function parseRequirement(x: unknown, where: string): Requirement {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    v.fail(where, 'must be a mapping with key, operator and values');
  }
  const o = x as Obj;
  v.only(o, where, ['key', 'operator', 'values']);
  if (o.key === undefined) v.fail(`${where}.key`, 'missing field');
  const key = labelKey(o.key, `${where}.key`);
  const operator = v.oneOf(o.operator, `${where}.operator`, OPERATORS);
  const values = v
    .list(o.values ?? [], `${where}.values`, 'strings')
    .map((s, i) => labelValue(s, `${where}.values[${i}]`));
  const needsValues = operator === 'In' || operator === 'NotIn';
  if (needsValues && values.length === 0) v.fail(`${where}.values`, `must not be empty for operator ${operator}`);
  if (!needsValues && values.length !== 0) v.fail(`${where}.values`, `must be empty for operator ${operator}`);
  return { key, operator, values };
}

/** Kubernetes semantics: every matchLabels pair and every requirement must hold (AND). */
export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key]!)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(labels[r.key]!)) return false;
        break; // an absent key is "not in"
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The labels a podSelector sees: the endpoint's own plus its namespace label. */
export function podLabels(ep: EndpointIdentity): Record<string, string> {
  return { ...ep.labels, [POD_NAMESPACE_LABEL]: ep.namespace ?? DEFAULT_NAMESPACE };
}

/** The labels a namespaceSelector sees for the endpoint's namespace. */
export function namespaceLabels(
  ep: EndpointIdentity,
  configured: Readonly<Record<string, Record<string, string>>> = {},
): Record<string, string> {
  const ns = ep.namespace ?? DEFAULT_NAMESPACE;
  return { ...(configured[ns] ?? {}), [NAMESPACE_NAME_LABEL]: ns };
}
