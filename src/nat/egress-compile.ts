// Control plane: policies + endpoints + who owns each egress IP → the entries of the shared
// egress table (egress-table.ts). Pure: the agent calls it whenever a policy, an endpoint or
// an egress IP's owner changes, then EgressTable.sync(entries).
//
// Decisions:
// - An endpoint is selected by a policy when any of its egress rules selects it: the rule's
//   namespaceSelector (if any) matches its namespace's labels AND its podSelector (if any)
//   matches its own labels (selector.ts has the label conventions).
// - Entries pair each selected endpoint address with each destination CIDR of the same
//   family; the egress IP of that family is the translation.
// - Two policies giving the same (endpoint address, CIDR) different egress IPs: the policy
//   first by name wins and the conflict is reported (deterministic on every node). Different
//   CIDR lengths are no conflict: the longest prefix wins at lookup, as in Cilium.
// - The gateway is the node owning the egress IP now (the failover lease holder, primary or
//   standby); its underlay address of the egress IP's family is preferred, else its other one
//   (a tunnel can carry either family). No owner: the entry is still installed, flagged
//   EGRESS_NO_GATEWAY, so the datapath drops (counted) instead of letting the endpoint's
//   traffic out from another address while a gateway fails over.
import type { EgressPolicy } from './policy.js';
import { selectorMatches, podLabels, namespaceLabels } from './selector.js';
import { parseAddress, formatAddress } from '../wire/addr.js';

export interface EgressEndpoint {
  /** For messages. */
  name?: string;
  /** The endpoint's addresses (IPv4 and/or IPv6). */
  addresses: readonly string[];
  labels: Readonly<Record<string, string>>;
  namespace?: string;
}

export interface EgressNode {
  name: string;
  /** Underlay addresses: where other nodes send traffic for this gateway. */
  ipv4?: string;
  ipv6?: string;
}

export interface EgressCompileInput {
  policies: readonly EgressPolicy[];
  endpoints: readonly EgressEndpoint[];
  /** Egress IP (canonical text) → the node holding it now; absent: nobody. */
  owners: ReadonlyMap<string, string>;
  nodes: readonly EgressNode[];
  /** This node's name: its entries for egress IPs it owns are flagged local. */
  localNode: string;
  /** Labels of each namespace (beyond kubernetes.io/metadata.name). */
  namespaceLabels?: Readonly<Record<string, Record<string, string>>>;
}

export interface EgressEntry {
  /** Endpoint address (host). */
  source: string;
  /** Destination CIDR. */
  destination: string;
  egressIP: string;
  policy: string;
  /** Index of the policy in the name-sorted list (for per-policy counters). */
  policyIndex: number;
  gatewayNode: string | null;
  gatewayAddress: string | null;
  /** This node owns the egress IP: SNAT here. */
  local: boolean;
}

/** True when the endpoint is selected by one of the policy's egress rules. */
export function policySelects(
  p: EgressPolicy,
  ep: EgressEndpoint,
  nsLabels: Readonly<Record<string, Record<string, string>>> = {},
): boolean {
  const id = { labels: { ...ep.labels }, namespace: ep.namespace };
  return p.egress.some(
    (r) =>
      (!r.namespaceSelector || selectorMatches(r.namespaceSelector, namespaceLabels(id, nsLabels))) &&
      (!r.podSelector || selectorMatches(r.podSelector, podLabels(id))),
  );
}

export function compileEgress(input: EgressCompileInput): { entries: EgressEntry[]; problems: string[] } {
  const problems: string[] = [];
  const policies = [...input.policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const nodes = new Map(input.nodes.map((n) => [n.name, n]));
  const byKey = new Map<string, EgressEntry>();
  const reported = new Set<string>();
  policies.forEach((p, policyIndex) => {
    const egressByFamily = new Map<number, string>();
    for (const ip of p.egressSourceIPs) egressByFamily.set(parseAddress(ip)!.family, ip);
    const gateway = new Map<string, { node: string | null; address: string | null }>();
    for (const ip of p.egressSourceIPs) {
      const owner = input.owners.get(ip) ?? null;
      const n = owner === null ? undefined : nodes.get(owner);
      const fam = parseAddress(ip)!.family;
      const address = n ? ((fam === 4 ? (n.ipv4 ?? n.ipv6) : (n.ipv6 ?? n.ipv4)) ?? null) : null;
      if (owner === null)
        problems.push(
          `policy ${p.name}: egress IP ${ip} is owned by no node: its traffic is dropped until a gateway takes it`,
        );
      else if (address === null)
        problems.push(
          `policy ${p.name}: egress IP ${ip}: its owner ${owner} has no known underlay address: its traffic is dropped`,
        );
      gateway.set(ip, { node: owner, address });
    }
    for (const ep of input.endpoints) {
      if (!policySelects(p, ep, input.namespaceLabels)) continue;
      for (const text of ep.addresses) {
        const a = parseAddress(text);
        if (!a) {
          problems.push(`endpoint ${ep.name ?? '?'}: "${text}" is not an address`);
          continue;
        }
        const egressIP = egressByFamily.get(a.family);
        if (egressIP === undefined) continue;
        const source = formatAddress(a);
        for (const cidr of p.destinationCIDRs) {
          if (parseAddress(cidr.slice(0, cidr.indexOf('/')))!.family !== a.family) continue;
          const key = `${source}|${cidr}`;
          const prev = byKey.get(key);
          if (prev) {
            if (prev.egressIP !== egressIP && !reported.has(`${key}|${p.name}`)) {
              reported.add(`${key}|${p.name}`);
              problems.push(
                `policies ${prev.policy} and ${p.name} both send ${source} to ${cidr} through different egress IPs ` +
                  `(${prev.egressIP}, ${egressIP}): ${prev.policy} wins (first by name)`,
              );
            }
            continue;
          }
          const g = gateway.get(egressIP)!;
          byKey.set(key, {
            source,
            destination: cidr,
            egressIP,
            policy: p.name,
            policyIndex,
            gatewayNode: g.node,
            gatewayAddress: g.address,
            local: g.node === input.localNode && g.address !== null,
          });
        }
      }
    }
  });
  return { entries: [...byKey.values()], problems };
}

/**
 * Apply-time check ("an egress IP owned by no node is rejected"): the egress IPs of a policy
 * that no node may own (`ownable`: every egress IP some node's configuration lists, as primary
 * or standby). Messages name the field.
 */
export function unownableEgressIPs(p: EgressPolicy, ownable: ReadonlySet<string>): string[] {
  const field =
    p.egressSourceIPs.length === 1 ? (_: number) => 'spec.egressSourceIP' : (i: number) => `spec.egressSourceIPs[${i}]`;
  const out: string[] = [];
  p.egressSourceIPs.forEach((ip, i) => {
    if (!ownable.has(ip))
      out.push(`${field(i)}: ${ip} is not an egress IP of any node (add it to a gateway node's configuration first)`);
  });
  return out;
}
