// Cluster topologies for the netns tests: a fabric namespace with a bridge (the underlay),
// node namespaces whose agents' uplinks are enslaved to it, and endpoints added through
// `weft endpoint add`, exactly as a user would.
import { type Topology, type AgentHandle, WEFT, sleep, waitExit } from './harness.js';

export interface ClusterNode {
  name: string;
  ns: string;
  agent: AgentHandle;
  config?: Record<string, unknown>;
  underlay4: string;
  underlay6: string;
}

export interface ClusterOptions {
  store: string;
  /** Give the node a management veth on bridge "mgmt" (198.18.1.1i/24), to reach etcd. */
  mgmt?: boolean;
  mode?: 'direct' | 'vxlan';
  leaseTTL?: number;
  workers?: number;
  /** TAP offloads of the node's endpoints (the config's top-level default); its uplink keeps the harness's. */
  endpointOffloads?: 'on' | 'off';
}

/** Creates the fabric (bridge br0 in namespace "<prefix>-fab") once per topology. */
export function fabric(t: Topology): string {
  const fab = `${t.prefix}-fab`;
  if (t.run('', ['ip', 'netns', 'exec', fab, 'true']).code === 0) return fab;
  t.ns('fab');
  // The fabric is a plain switch: no iptables on bridged frames (br_netfilter is on by default
  // wherever Docker runs, and costs every frame a trip through the netfilter hooks).
  for (const f of ['iptables', 'ip6tables', 'arptables'])
    t.run(fab, ['sysctl', '-qw', `net.bridge.bridge-nf-call-${f}=0`]);
  t.must(fab, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  t.must(fab, ['ip', 'link', 'set', 'br0', 'up']);
  return fab;
}

/** A veth from ns into the fabric's "mgmt" bridge (created on first use) with address a/24. */
export function connectMgmt(t: Topology, ns: string, a: string): void {
  const fab = fabric(t);
  if (t.run(fab, ['ip', 'link', 'show', 'mgmt']).code !== 0) {
    t.must(fab, ['ip', 'link', 'add', 'mgmt', 'type', 'bridge']);
    t.must(fab, ['ip', 'link', 'set', 'mgmt', 'up']);
  }
  const peer = `m${a.split('.').pop()}`;
  t.must('', ['ip', 'link', 'add', 'mgmt0', 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', fab]);
  t.must(fab, ['ip', 'link', 'set', peer, 'master', 'mgmt', 'up']);
  t.must(ns, ['ip', 'addr', 'add', `${a}/24`, 'dev', 'mgmt0']);
  t.must(ns, ['ip', 'link', 'set', 'mgmt0', 'up']);
}

/** Starts node number i (1-based): underlay 198.18.0.1i / 2001:db8:18::1i. */
export async function startNode(
  t: Topology,
  i: number,
  o: ClusterOptions,
  extra: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Promise<ClusterNode> {
  const fab = fabric(t);
  const name = `n${i}`;
  const ns = t.ns(name);
  if (o.mgmt) connectMgmt(t, ns, `198.18.1.${10 + i}`);
  const underlay4 = `198.18.0.${10 + i}`;
  const underlay6 = `2001:db8:18::${10 + i}`;
  const config = {
    node: name,
    store: o.store,
    workers: o.workers ?? 1,
    cluster: {
      mode: o.mode ?? 'direct',
      ipv4: '198.19.0.0/16',
      ipv6: '2001:db8:19::/48',
      leaseTTL: o.leaseTTL ?? 3,
      ...extra,
    },
    ports: [
      {
        name: 'up0',
        kind: 'uplink',
        netns: fab,
        bridge: 'br0',
        ifname: `${name}up`,
        addresses: [`${underlay4}/24`, `${underlay6}/64`],
        ...(o.endpointOffloads ? { offloads: process.env.WEFT_OFFLOADS ?? 'on' } : {}),
      },
    ],
    ...(o.endpointOffloads ? { offloads: o.endpointOffloads } : {}),
    ...top,
  };
  const agent = await t.startAgent(ns, config);
  return { name, ns, agent, underlay4, underlay6, config };
}

/** Stops a node's agent (SIGTERM) and starts it again with the same configuration. */
export async function restartNode(t: Topology, node: ClusterNode): Promise<void> {
  await node.agent.stop();
  node.agent = await t.startAgent(node.ns, node.config!);
}

export interface Endpoint {
  name: string;
  ns: string;
  ipv4: string;
  ipv6: string;
}

/** `weft endpoint add` on a node; the endpoint's namespace is registered for cleanup. */
export function addEndpoint(
  t: Topology,
  node: ClusterNode,
  name: string,
  labels = 'app=web',
  vips: string[] = [],
): Endpoint {
  const ns = `${t.prefix}-${name}`;
  t.adopt(ns);
  // Run from here, not inside the node: a namespace created under `ip netns exec` would be
  // invisible to everyone else (private mount namespace).
  const out = t.must(
    '',
    [
      'node',
      WEFT,
      'endpoint',
      'add',
      name,
      '--netns',
      ns,
      '--labels',
      labels,
      ...vips.flatMap((v) => ['--vip', v]),
      '--api',
      node.agent.api,
      '--json',
    ],
    20000,
  );
  const ep = JSON.parse(out) as { ipv4: string; ipv6: string };
  return { name, ns, ipv4: ep.ipv4, ipv6: ep.ipv6 };
}

/** Starts a throwaway etcd reachable from nodes with `mgmt: true` at etcd://198.18.1.2:2379. */
export const ETCD_ADDR = '198.18.1.2';

export function startEtcd(
  t: Topology,
  dataDir: string,
): { ns: string; stop: () => Promise<void>; restart: () => void } {
  const ns = `${t.prefix}-etcd`;
  if (t.run('', ['ip', 'netns', 'exec', ns, 'true']).code !== 0) {
    t.ns('etcd');
    connectMgmt(t, ns, ETCD_ADDR);
  }
  const peer = 'http://127.0.0.1:2380';
  const argv = [
    'etcd',
    '--name',
    'wt',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `http://${ETCD_ADDR}:2379`,
    '--advertise-client-urls',
    `http://${ETCD_ADDR}:2379`,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `wt=${peer}`,
  ];
  let proc = t.spawn(ns, argv).proc;
  return {
    ns,
    stop: async () => {
      proc.kill('SIGKILL');
      await waitExit(proc, 5000);
    },
    restart: () => {
      proc = t.spawn(ns, argv).proc;
    },
  };
}

export async function waitEtcd(t: Topology, ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (
      /"health":\s*"true"/.test(
        t.run(ns, ['curl', '-s', '--max-time', '2', `http://${ETCD_ADDR}:2379/health`], 5000).stdout,
      )
    )
      return;
    await sleep(200);
  }
  throw new Error('etcd did not become healthy');
}

/** Pings (2 packets) from an endpoint or a node namespace; asserts both came back. */
export function pingOk(t: Topology, fromNs: string, to: string): void {
  const r = t.run(fromNs, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to], 20000);
  if (!/2 received/.test(r.stdout)) throw new Error(`ping ${to} from ${fromNs} failed:\n${r.stdout}${r.stderr}`);
}

/** A tiny HTTP server in an endpoint answering "hello from <name>" on [::]:8080. */
export function httpServer(t: Topology, ep: Endpoint): void {
  t.spawn(ep.ns, [
    'python3',
    '-c',
    `
import http.server, socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from ${ep.name}\\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
S(("::", 8080), H).serve_forever()`,
  ]);
}

export function curl(t: Topology, fromNs: string, host: string): string {
  const url = host.includes(':') ? `http://[${host}]:8080/` : `http://${host}:8080/`;
  return t.must(
    fromNs,
    ['curl', '-sS', '--max-time', '5', '--retry', '5', '--retry-connrefused', '--retry-delay', '0', url],
    40000,
  );
}
