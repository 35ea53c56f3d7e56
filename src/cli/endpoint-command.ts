// weft endpoint add|list|delete: endpoints ("pods") of a cluster node, through its API.
import { execFileSync } from 'node:child_process';
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import { apiCall } from '../control/api.js';
import { table } from './common.js';
import { netnsExists } from '../control/kernel-side.js';
import type { EndpointView } from '../control/cluster/endpoints.js';

const USAGE = `Usage:
  weft endpoint add NAME [--labels k=v,k=v] [--namespace NS] [--netns NS] [--vip IP ...] [--node NODE | --api SOCKET]
  weft endpoint list [--json] [--node NODE | --api SOCKET]
  weft endpoint delete NAME [--node NODE | --api SOCKET]

add     creates (or adopts) network namespace NS (default: NAME), gives it an eth0 whose other
        side is a port of the node's dataplane, IPv4/IPv6 addresses from the node's pod CIDRs
        and default routes via the dataplane's gateway. Labels select it in policies.
list    endpoints of the node: name, addresses, labels, namespace, port counters.
delete  removes the port and frees the addresses (the namespace is left as it is).

Options:
  --labels k=v,...   labels (e.g. app=web,tier=front)
  --namespace NS     the endpoint's namespace in the Kubernetes sense (default: default), what
                     egress policies' namespaceSelector matches (kubernetes.io/metadata.name=NS)
  --netns NS         namespace to use (created if missing)
  --vip IP           a load-balanced VIP this endpoint serves (put on its loopback; IPIP
                     from an LB to this endpoint is decapsulated for it: direct server return)
  --node NODE        the node's agent (/run/weft/NODE.sock)
  --api SOCKET       the agent's API socket
  --json             print JSON
  -h, --help         show this help
`;

function parseLabels(text: string | undefined): Record<string, string> {
  if (!text) return {};
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`label "${pair}" is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

function formatLabels(l: Record<string, string>): string {
  return (
    Object.entries(l)
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '-'
  );
}

function formatList(eps: EndpointView[]): string {
  return `${table([
    ['NAME', 'IPV4', 'IPV6', 'LABELS', 'NETNS', 'PORT', 'RX', 'TX'],
    ...eps.map((e) => [
      e.name,
      e.ipv4 ?? '-',
      e.ipv6 ?? '-',
      formatLabels(e.labels),
      e.netns,
      e.port,
      `${e.stats.rxFrames} pkts/${e.stats.rxBytes} B`,
      `${e.stats.txFrames} pkts/${e.stats.txBytes} B`,
    ]),
  ])}\n`;
}

export const endpointCommand = defineCommand({
  name: 'endpoint',
  usage: USAGE,
  options: {
    labels: { type: 'string' },
    namespace: { type: 'string' },
    netns: { type: 'string' },
    vip: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  verbs: {
    add: {
      operands: ['NAME'],
      options: ['labels', 'namespace', 'netns', 'vip', 'json'],
      prepare: ({ values, operands: [name] }) => {
        const netns = values.netns ?? name;
        const labels = parseLabels(values.labels);
        const body = { name, netns, labels, namespace: values.namespace, vips: values.vip ?? [] };
        return async (sock) => {
          // No namespace for an agent that is not there, or not a cluster node.
          await apiCall(sock, 'GET', '/v1/endpoints');
          // Created here, in the caller's mount namespace, so every process can see it.
          if (!netnsExists(netns)) {
            execFileSync('ip', ['netns', 'add', netns]);
            execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
          }
          const ep = (await apiCall(sock, 'POST', '/v1/endpoints', body, 15000)) as EndpointView;
          const addresses = [ep.ipv4, ep.ipv6].filter(Boolean).join(', ');
          process.stdout.write(
            values.json
              ? `${JSON.stringify(ep, null, 2)}\n`
              : `endpoint ${ep.name}: ${addresses} in netns ${ep.netns} (port ${ep.port})\n`,
          );
        };
      },
    },
    list: {
      options: ['json'],
      prepare:
        ({ values }) =>
        async (sock) => {
          const eps = (await apiCall(sock, 'GET', '/v1/endpoints')) as EndpointView[];
          process.stdout.write(values.json ? `${JSON.stringify(eps, null, 2)}\n` : formatList(eps));
        },
    },
    delete: {
      operands: ['NAME'],
      prepare:
        ({ operands: [name] }) =>
        async (sock) => {
          await apiCall(sock, 'DELETE', `/v1/endpoints/${encodeURIComponent(name)}`, undefined, 15000);
          process.stdout.write(`endpoint ${name} deleted\n`);
        },
    },
  },
});
