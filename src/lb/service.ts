// Load-balanced services as users write them (YAML or JSON) and as the store keeps them:
// a VIP, a port and a protocol, and backends with weights. Validation names the field.
import { parseAddress, formatAddress, Address } from '../wire/addr.js';

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
type Obj = Record<string, unknown>;

function fail(where: string, msg: string): never {
  throw new ServiceError(`${where}: ${msg}`);
}

function only(o: Obj, where: string, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
}

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Obj;
}

function port(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) fail(where, `must be a port number 1..65535, got ${JSON.stringify(v)}`);
  return v;
}

function ip(v: unknown, where: string, family?: 4 | 6): Address {
  const a = typeof v === 'string' ? parseAddress(v) : null;
  if (!a) fail(where, `${JSON.stringify(v)} is not an IPv4 or IPv6 address`);
  if (family && a.family !== family) fail(where, `${v} is IPv${a.family}, the VIP is IPv${family}`);
  return a;
}

/**
 * Accepts the plain shape {name, vip, port, protocol, l4Xlate?, conntrack?, backends} or the
 * Kubernetes-like {kind: Service, metadata: {name}, spec: {...}} shape.
 */
export function parseService(doc: unknown, where = 'service'): ServiceSpec {
  let o = obj(doc, where);
  let name = o.name;
  if (o.kind !== undefined || o.metadata !== undefined || o.spec !== undefined) {
    only(o, where, ['apiVersion', 'kind', 'metadata', 'spec']);
    if (o.kind !== 'Service') fail(`${where}.kind`, `expected "Service", got ${JSON.stringify(o.kind)}`);
    name = obj(o.metadata, `${where}.metadata`).name;
    o = obj(o.spec, `${where}.spec`);
    where = `${where}.spec`;
    only(o, where, ['vip', 'port', 'protocol', 'l4Xlate', 'backends', 'conntrack']);
  } else {
    only(o, where, ['name', 'vip', 'port', 'protocol', 'l4Xlate', 'backends', 'conntrack']);
  }
  if (typeof name !== 'string' || !NAME.test(name)) fail(`${where.replace(/\.spec$/, '.metadata')}.name`, `${JSON.stringify(name)} is not a valid name (lower-case letters, digits, - and .)`);
  const vip = ip(o.vip, `${where}.vip`);
  const proto = String(o.protocol ?? 'TCP').toUpperCase();
  if (proto !== 'TCP' && proto !== 'UDP') fail(`${where}.protocol`, `"${String(o.protocol)}" is not TCP or UDP`);
  const l4Xlate = o.l4Xlate === undefined ? 'none' : o.l4Xlate;
  if (l4Xlate !== 'none' && l4Xlate !== 'backend') fail(`${where}.l4Xlate`, `"${String(l4Xlate)}" is not none or backend`);
  if (o.conntrack !== undefined && typeof o.conntrack !== 'boolean') fail(`${where}.conntrack`, `must be true or false, got ${JSON.stringify(o.conntrack)}`);
  if (!Array.isArray(o.backends)) fail(`${where}.backends`, 'must be a list (it may be empty)');
  const seen = new Set<string>();
  const backends = o.backends.map((b, i) => {
    const w = `${where}.backends[${i}]`;
    const bo = obj(b, w);
    only(bo, w, ['ip', 'port', 'weight']);
    const a = ip(bo.ip, `${w}.ip`, vip.family);
    const p = bo.port === undefined ? port(o.port, `${where}.port`) : port(bo.port, `${w}.port`);
    const weight = bo.weight === undefined ? 1 : bo.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 65535) fail(`${w}.weight`, `must be an integer 0..65535 (0 drains the backend), got ${JSON.stringify(weight)}`);
    const id = `${formatAddress(a)}:${p}`;
    if (seen.has(id)) fail(`${w}`, `duplicate backend ${id}`);
    seen.add(id);
    return { ip: formatAddress(a), port: p, weight };
  });
  const spec: ServiceSpec = { name, vip: formatAddress(vip), port: port(o.port, `${where}.port`), protocol: proto, l4Xlate, backends };
  if (o.conntrack !== undefined) spec.conntrack = o.conntrack as boolean;
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
