// weft egress apply|list|delete|conntrack: egress gateway policies (CiliumEgressNATPolicy) and
// the translations of a node.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parse, UsageError } from './args.js';
import { apiCall } from '../control/api.js';
import { defaultSocket, table } from './common.js';
import { parsePolicyFile, PolicyError } from '../nat/policy.js';
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

export async function runEgressCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parse(argv, {
      file: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean' },
      source: { type: 'string' }, destination: { type: 'string' }, protocol: { type: 'string' },
      node: { type: 'string' }, api: { type: 'string' },
    }, USAGE);
  } catch (e) {
    process.stderr.write(`weft egress: ${(e as UsageError).message}`);
    return 2;
  }
  const [verb, name, ...extra] = args.positionals;
  if (args.values.help || verb === undefined) {
    process.stdout.write(USAGE);
    return args.values.help ? 0 : 2;
  }
  try {
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"\n\n${USAGE}`);
    const sock = args.values.api ?? defaultSocket(args.values.node);
    switch (verb) {
      case 'apply': {
        const file = args.values.file;
        if (!file) throw new UsageError(`egress apply needs -f FILE\n\n${USAGE}`);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw new UsageError(`${file}: cannot read: ${(e as Error).message}`);
        }
        // Validated here for a quick answer, and again by the agent (which also checks owners).
        parsePolicyFile(text, file);
        const r = (await apiCall(sock, 'POST', '/v1/egress-policies', { text, source: file }, 10000)) as { applied: string[] };
        for (const n of r.applied) process.stdout.write(`egress policy ${n} applied\n`);
        return 0;
      }
      case 'list': {
        const list = (await apiCall(sock, 'GET', '/v1/egress-policies')) as Array<{ metadata: { name: string }; spec: Record<string, unknown>; status: { entries: number } }>;
        if (args.values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        else if (args.values.output === 'yaml') process.stdout.write(list.map((p) => stringify({ apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumEgressNATPolicy', metadata: p.metadata, spec: p.spec })).join('---\n'));
        else {
          process.stdout.write(table([['NAME', 'EGRESS IP', 'DESTINATIONS', 'SELECTORS', 'ENTRIES'], ...list.map((p) => {
            const s = p.spec as { egressSourceIP?: string; egressSourceIPs?: string[]; destinationCIDRs: string[]; egress: unknown[] };
            return [p.metadata.name, (s.egressSourceIPs ?? [s.egressSourceIP]).join(','), s.destinationCIDRs.join(','), JSON.stringify(s.egress), String(p.status.entries)];
          })]) + '\n');
        }
        return 0;
      }
      case 'delete': {
        if (!name) throw new UsageError(`egress delete needs a NAME\n\n${USAGE}`);
        await apiCall(sock, 'DELETE', `/v1/egress-policies/${encodeURIComponent(name)}`, undefined, 10000);
        process.stdout.write(`egress policy ${name} deleted\n`);
        return 0;
      }
      case 'conntrack': {
        const proto = args.values.protocol === undefined ? undefined : PROTO[args.values.protocol.toLowerCase()];
        if (args.values.protocol !== undefined && proto === undefined) throw new UsageError(`--protocol "${args.values.protocol}" is not tcp, udp, icmp or icmpv6`);
        const all = (await apiCall(sock, 'GET', '/v1/egress-conntrack', undefined, 10000)) as NatFlowEntry[];
        const rows = all.filter((e) => (args.values.source === undefined || e.src === args.values.source)
          && (args.values.destination === undefined || e.dst === args.values.destination)
          && (proto === undefined || e.proto === proto));
        if (args.values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        else process.stdout.write(table([['PROTO', 'SOURCE', 'DESTINATION', 'TRANSLATED', 'STATE', 'IDLE', 'WORKER'],
          ...rows.map((e) => [PROTO_NAME[e.proto] ?? String(e.proto), hostPort(e.src, e.sport), hostPort(e.dst, e.dport), hostPort(e.xlateAddr, e.xlatePort), e.state, `${e.idleSec}s`, String(e.worker)])]) + '\n');
        return 0;
      }
      default:
        process.stderr.write(`weft egress: unknown verb "${verb}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof PolicyError || e instanceof UsageError) {
      process.stderr.write(`weft egress: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`weft egress: ${(e as Error).message}\n`);
    return 1;
  }
}

/** The egress section of `weft status` (NAT table usage, egress IPs held), or nothing. */
export function formatEgressStatus(s: unknown): string[] {
  const e = (s as { egress?: {
    masquerade: boolean; held: string[]; ports: string; policies: number;
    conntrack: { connections: number; capacity: number; newFlows: number; portsExhausted: number; tableFull: number; expired: number };
    policyEntries: { size: number; capacity: number; refused: number };
  } }).egress;
  if (!e) return [];
  const c = e.conntrack;
  return [
    '',
    `NAT: ${c.connections}/${c.capacity} connections (ports ${e.ports}), ${c.newFlows} new, ${c.expired} expired, ${c.portsExhausted} ports exhausted, ${c.tableFull} table full`,
    `Egress: ${e.policies} policies, ${e.policyEntries.size}/${e.policyEntries.capacity} entries${e.policyEntries.refused ? ` (${e.policyEntries.refused} refused)` : ''}, masquerade ${e.masquerade ? 'on' : 'off'}, egress IPs held: ${e.held.join(', ') || 'none'}`,
  ];
}
