// weft egress apply|list|delete|conntrack: egress gateway policies (CiliumEgressNATPolicy) and
// the translations of a node.
import { stringify } from 'yaml';
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import { apiCall } from '../control/api.js';
import { readInput, table } from './common.js';
import { parsePolicyFile, PolicyError, API_VERSION, KIND } from '../nat/policy.js';
import { parseAddress, formatAddress } from '../wire/addr.js';
import type { NatFlowEntry } from '../nat/conntrack.js';

const USAGE = `Usage:
  weft egress apply -f FILE       CiliumEgressNATPolicy documents (several with ---); all are
                                  validated first: one bad document applies nothing
  weft egress list [-o yaml|--json]
  weft egress delete NAME
  weft egress conntrack [--source IP] [--destination IP] [--protocol tcp|udp|icmp] [--json]
                                  the node's translations (original → translated, state, idle)
Common: --node NODE | --api SOCKET (any cluster node's agent), -h/--help.

Policies live in the cluster store, so every node enforces them: a selected endpoint's
packets to the destination CIDRs go to the node owning egressSourceIP and leave the cluster
from that address. An egress IP must be in some node's egress.ownIPs or egress.standbyFor.
`;

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };
const PROTO_NAME: Record<number, string> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMPv6' };

function hostPort(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`;
}

type PolicyView = { metadata: { name: string }; spec: Record<string, unknown>; status: { entries: number } };

function formatPolicies(list: PolicyView[], output: string | undefined): string {
  if (output === 'yaml') {
    return list
      .map((p) => stringify({ apiVersion: API_VERSION, kind: KIND, metadata: p.metadata, spec: p.spec }))
      .join('---\n');
  }
  return `${table([
    ['NAME', 'EGRESS IP', 'DESTINATIONS', 'SELECTORS', 'ENTRIES'],
    ...list.map((p) => {
      const s = p.spec as {
        egressSourceIP?: string;
        egressSourceIPs?: string[];
        destinationCIDRs: string[];
        egress: unknown[];
      };
      const ips = (s.egressSourceIPs ?? [s.egressSourceIP]).join(',');
      return [p.metadata.name, ips, s.destinationCIDRs.join(','), JSON.stringify(s.egress), String(p.status.entries)];
    }),
  ])}\n`;
}

function formatFlows(rows: NatFlowEntry[]): string {
  return `${table([
    ['PROTO', 'SOURCE', 'DESTINATION', 'TRANSLATED', 'STATE', 'IDLE', 'WORKER'],
    ...rows.map((e) => [
      PROTO_NAME[e.proto] ?? String(e.proto),
      hostPort(e.src, e.sport),
      hostPort(e.dst, e.dport),
      hostPort(e.xlateAddr, e.xlatePort),
      e.state,
      `${e.idleSec}s`,
      String(e.worker),
    ]),
  ])}\n`;
}

/** An address option as the agent prints addresses (so 2001:DB8::1 finds 2001:db8::1). */
function addressOption(v: string | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  const a = parseAddress(v);
  if (!a) throw new UsageError(`${flag} "${v}" is not an IPv4 or IPv6 address`);
  return formatAddress(a);
}

export const egressCommand = defineCommand({
  name: 'egress',
  usage: USAGE,
  inputErrors: [PolicyError],
  options: {
    file: { type: 'string', short: 'f' },
    output: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
    source: { type: 'string' },
    destination: { type: 'string' },
    protocol: { type: 'string' },
  },
  verbs: {
    apply: {
      options: ['file'],
      prepare: ({ values: { file } }) => {
        if (!file) throw new UsageError('needs -f FILE');
        const text = readInput(file);
        // Validated here for a quick answer, and again by the agent (which also checks owners).
        parsePolicyFile(text, file);
        return async (sock) => {
          const body = { text, source: file };
          const r = (await apiCall(sock, 'POST', '/v1/egress-policies', body, 10000)) as { applied: string[] };
          for (const n of r.applied) process.stdout.write(`egress policy ${n} applied\n`);
        };
      },
    },
    list: {
      options: ['output', 'json'],
      prepare: ({ values: { output, json } }) => {
        if (output !== undefined && output !== 'yaml') {
          throw new UsageError(`-o "${output}" is not yaml (--json for JSON)`);
        }
        return async (sock) => {
          const list = (await apiCall(sock, 'GET', '/v1/egress-policies')) as PolicyView[];
          process.stdout.write(json ? `${JSON.stringify(list, null, 2)}\n` : formatPolicies(list, output));
        };
      },
    },
    delete: {
      operands: ['NAME'],
      prepare:
        ({ operands: [name] }) =>
        async (sock) => {
          await apiCall(sock, 'DELETE', `/v1/egress-policies/${encodeURIComponent(name)}`, undefined, 10000);
          process.stdout.write(`egress policy ${name} deleted\n`);
        },
    },
    conntrack: {
      options: ['source', 'destination', 'protocol', 'json'],
      prepare: ({ values }) => {
        const proto = values.protocol === undefined ? undefined : PROTO[values.protocol.toLowerCase()];
        if (values.protocol !== undefined && proto === undefined) {
          throw new UsageError(`--protocol "${values.protocol}" is not tcp, udp, icmp or icmpv6`);
        }
        const source = addressOption(values.source, '--source');
        const destination = addressOption(values.destination, '--destination');
        return async (sock) => {
          const all = (await apiCall(sock, 'GET', '/v1/egress-conntrack', undefined, 10000)) as NatFlowEntry[];
          const rows = all.filter(
            (e) =>
              (source === undefined || e.src === source) &&
              (destination === undefined || e.dst === destination) &&
              (proto === undefined || e.proto === proto),
          );
          process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : formatFlows(rows));
        };
      },
    },
  },
});

/** The egress section of `weft status` (NAT table usage, egress IPs held), or nothing. */
export function formatEgressStatus(s: unknown): string[] {
  const e = (
    s as {
      egress?: {
        masquerade: boolean;
        held: string[];
        ports: string;
        policies: number;
        conntrack: {
          connections: number;
          capacity: number;
          newFlows: number;
          portsExhausted: number;
          tableFull: number;
          expired: number;
        };
        policyEntries: { size: number; capacity: number; refused: number };
      };
    }
  ).egress;
  if (!e) return [];
  const c = e.conntrack;
  return [
    '',
    `NAT: ${c.connections}/${c.capacity} connections (ports ${e.ports}), ${c.newFlows} new, ${c.expired} expired, ` +
      `${c.portsExhausted} ports exhausted, ${c.tableFull} table full`,
    `Egress: ${e.policies} policies, ${e.policyEntries.size}/${e.policyEntries.capacity} ` +
      `entries${e.policyEntries.refused ? ` (${e.policyEntries.refused} refused)` : ''}, masquerade ` +
      `${e.masquerade ? 'on' : 'off'}, egress IPs held: ${e.held.join(', ') || 'none'}`,
  ];
}
