// Where cluster state lives in the store (one place, so every reader and writer agrees).
import { type Address, type Prefix, formatAddress } from '../../wire/addr.js';

export const NODES = 'nodes/';
export const ENDPOINTS = 'endpoints/';

export function nodeKey(node: string): string {
  return `${NODES}${node}`;
}

export function endpointKey(node: string, name: string): string {
  return `${ENDPOINTS}${node}/${name}`;
}

/** Pod CIDR claims: "ipam/podcidr/4/198.19.1.0-24" → node name. */
export function podCidrPrefix(family: 4 | 6): string {
  return `ipam/podcidr/${family}/`;
}

export function podCidrKey(p: Prefix): string {
  return `${podCidrPrefix(p.family)}${formatAddress(p)}-${p.len}`;
}

/** Endpoint address claims: "ipam/addr/<node>/198.19.1.10" → endpoint name. */
export function addrPrefix(node: string): string {
  return `ipam/addr/${node}/`;
}

export function addrKey(node: string, a: Address): string {
  return `${addrPrefix(node)}${formatAddress(a)}`;
}

/** What a node publishes about itself under nodes/<name> (with its liveness lease). */
export interface NodeRecord {
  name: string;
  underlay: { ipv4?: string; ipv6?: string };
  podCIDRs: { ipv4?: string; ipv6?: string };
  mode: 'direct' | 'vxlan';
  /** With cluster encryption: the node's WireGuard public key (base64) and port. */
  wireguard?: { publicKey: string; port: number };
}

/** What the store keeps of an endpoint under endpoints/<node>/<name>. */
export interface EndpointRecord {
  name: string;
  node: string;
  netns: string;
  labels: Record<string, string>;
  /** The endpoint's namespace in the Kubernetes sense (for egress policies' namespaceSelector); absent: "default". */
  namespace?: string;
  ipv4?: string;
  ipv6?: string;
  /** Load-balanced VIPs this endpoint serves (on its loopback, DSR). */
  vips?: string[];
}
