// Load-balanced services as users write them (YAML or JSON) and as the store keeps them:
// a VIP, a port and a protocol, and backends with weights. Validation names the field.
import { formatAddress, type Address } from '../wire/addr.js';
import { validator, type Validator } from '../wire/config-validate.js';

export type L4Xlate = 'none' | 'backend';

export interface ServiceBackend {
  ip: string;
  port: number;
  weight: number;
}

export interface ServiceSpec {
  name: string;
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** 'backend': rewrite the inner destination port to the backend's (--lb-l4-xlate backend). */
  l4Xlate: L4Xlate;
  backends: ServiceBackend[];
  /** Track connections (SVC_FLAG_CONNTRACK): a flow keeps its backend across backend-set changes. */
  conntrack?: boolean;
}

export class ServiceError extends Error {}

const NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const v: Validator = validator(ServiceError);

function port(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 65535) {
    v.fail(where, `must be a port number 1..65535, got ${JSON.stringify(x)}`);
  }
  return x;
}

function ip(x: unknown, where: string, family?: 4 | 6): Address {
  const a = v.address(x, where);
  if (family && a.family !== family) v.fail(where, `${String(x)} is IPv${a.family}, the VIP is IPv${family}`);
  return a;
}

/**
 * Accepts the plain shape {name, vip, port, protocol, l4Xlate?, conntrack?, backends} or the
 * Kubernetes-like {kind: Service, metadata: {name}, spec: {...}} shape.
 */
export function parseService(doc: unknown, where = 'service'): ServiceSpec {
  let o = v.obj(doc, where);
  let name = o.name;
  if (o.kind !== undefined || o.metadata !== undefined || o.spec !== undefined) {
    v.only(o, where, ['apiVersion', 'kind', 'metadata', 'spec']);
    if (o.kind !== 'Service') v.fail(`${where}.kind`, `expected "Service", got ${JSON.stringify(o.kind)}`);
    name = v.obj(o.metadata, `${where}.metadata`).name;
    o = v.obj(o.spec, `${where}.spec`);
    where = `${where}.spec`;
    v.only(o, where, ['vip', 'port', 'protocol', 'l4Xlate', 'backends', 'conntrack']);
  } else {
    v.only(o, where, ['name', 'vip', 'port', 'protocol', 'l4Xlate', 'backends', 'conntrack']);
  }
  if (typeof name !== 'string' || !NAME.test(name)) {
    const at = `${where.replace(/\.spec$/, '.metadata')}.name`;
    v.fail(at, `${JSON.stringify(name)} is not a valid name (lower-case letters, digits, - and .)`);
  }
  const vip = ip(o.vip, `${where}.vip`);
  const proto = v.oneOf(String(o.protocol ?? 'TCP').toUpperCase(), `${where}.protocol`, ['TCP', 'UDP']);
  const l4Xlate = v.oneOf(o.l4Xlate, `${where}.l4Xlate`, ['none', 'backend'], 'none');
  const conntrack = o.conntrack === undefined ? undefined : v.bool(o.conntrack, `${where}.conntrack`);
  if (!Array.isArray(o.backends)) v.fail(`${where}.backends`, 'must be a list (it may be empty)');
  const seen = new Set<string>();
  const backends = o.backends.map((b, i) => {
    const w = `${where}.backends[${i}]`;
    const bo = v.obj(b, w);
    v.only(bo, w, ['ip', 'port', 'weight']);
    const a = ip(bo.ip, `${w}.ip`, vip.family);
    const p = bo.port === undefined ? port(o.port, `${where}.port`) : port(bo.port, `${w}.port`);
    const weight = bo.weight === undefined ? 1 : bo.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 65535) {
      v.fail(`${w}.weight`, `must be an integer in 0..65535 (0 drains the backend), got ${JSON.stringify(weight)}`);
    }
    const id = `${formatAddress(a)}:${p}`;
    if (seen.has(id)) v.fail(`${w}`, `duplicate backend ${id}`);
    seen.add(id);
    return { ip: formatAddress(a), port: p, weight };
  });
  const spec: ServiceSpec = {
    name,
    vip: formatAddress(vip),
    port: port(o.port, `${where}.port`),
    protocol: proto,
    l4Xlate,
    backends,
  };
  if (conntrack !== undefined) spec.conntrack = conntrack;
  return spec;
}

export function protoNumber(p: 'TCP' | 'UDP'): number {
  return p === 'TCP' ? 6 : 17;
}

/** Store key of a service. */
export function serviceKey(name: string): string {
  return `services/${name}`;
}

export const SERVICES = 'services/';
