// The egress gateway topology (issue 6): cluster nodes on the fabric bridge, a firewall
// namespace on the same underlay (198.18.0.1 / 2001:db8:18::1) in front of an "outside"
// namespace (198.18.200.10 / 2001:db8:18:200::10) that runs a real HTTP server, a UDP echo
// server and tcpdump. The firewall's nftables accept, toward the outside, only packets from
// the egress IP (and the replies of accepted connections); everything else is rejected.
import type { Topology } from './harness.js';
import { startNode, fabric, type ClusterNode } from './cluster.js';

export const EGRESS4 = '198.18.0.200';
export const EGRESS6 = '2001:db8:18::200';
export const SERVER4 = '198.18.200.10';
export const SERVER6 = '2001:db8:18:200::10';
export const FW4 = '198.18.0.1';
export const FW6 = '2001:db8:18::1';

export interface EgressWorld {
  fab: string;
  fw: string;
  out: string;
}

/** The routes toward the outside every node needs (through the firewall). */
export const OUTSIDE_ROUTES = [
  { prefix: '198.18.200.0/24', via: FW4, port: 'up0' },
  { prefix: '2001:db8:18:200::/64', via: FW6, port: 'up0' },
];

/** A cluster node with the outside routes and an egress section. */
export function egressNode(
  t: Topology,
  i: number,
  store: string,
  egress: Record<string, unknown> = {},
  opts: { workers?: number; mode?: 'direct' | 'vxlan'; leaseTTL?: number; endpointOffloads?: 'on' | 'off' } = {},
): Promise<ClusterNode> {
  return startNode(
    t,
    i,
    {
      store,
      workers: opts.workers ?? 1,
      mode: opts.mode,
      leaseTTL: opts.leaseTTL,
      endpointOffloads: opts.endpointOffloads,
    },
    {},
    { routes: OUTSIDE_ROUTES, egress },
  );
}

/** `firewall: false`: a plain router (no nftables rules), for benchmarks. */
export function outsideWorld(t: Topology, opts: { reject?: boolean; firewall?: boolean } = {}): EgressWorld {
  const fab = fabric(t);
  const fw = t.ns('fw');
  const out = t.ns('out');
  t.must('', ['ip', 'link', 'add', 'fw0', 'netns', fw, 'type', 'veth', 'peer', 'name', 'fwup', 'netns', fab]);
  t.must(fab, ['ip', 'link', 'set', 'fwup', 'master', 'br0', 'up']);
  t.must('', ['ip', 'link', 'add', 'fw1', 'netns', fw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out]);
  t.must(fw, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  t.must(fw, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  t.must(fw, ['ip', 'addr', 'add', `${FW4}/24`, 'dev', 'fw0']);
  t.must(fw, ['ip', 'addr', 'add', `${FW6}/64`, 'dev', 'fw0', 'nodad']);
  t.must(fw, ['ip', 'addr', 'add', '198.18.200.1/24', 'dev', 'fw1']);
  t.must(fw, ['ip', 'addr', 'add', '2001:db8:18:200::1/64', 'dev', 'fw1', 'nodad']);
  t.must(fw, ['ip', 'link', 'set', 'fw0', 'up']);
  t.must(fw, ['ip', 'link', 'set', 'fw1', 'up']);
  t.must(out, ['ip', 'addr', 'add', `${SERVER4}/24`, 'dev', 'eth0']);
  t.must(out, ['ip', 'addr', 'add', `${SERVER6}/64`, 'dev', 'eth0', 'nodad']);
  t.must(out, ['ip', 'link', 'set', 'eth0', 'up']);
  t.must(out, ['ip', 'route', 'add', 'default', 'via', '198.18.200.1']);
  t.must(out, ['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:18:200::1']);
  const verdict = opts.reject === false ? 'drop' : 'reject';
  if (opts.firewall !== false)
    t.must(
      fw,
      ['nft', '-f', '-'],
      15000,
      `
table inet weftfw {
  chain forward_filter {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "fw0" ip saddr ${EGRESS4} ip daddr 198.18.200.0/24 accept
    iifname "fw0" ip6 saddr ${EGRESS6} ip6 daddr 2001:db8:18:200::/64 accept
    iifname "fw0" ${verdict}
  }
}
`,
    );
  // The real servers: HTTP on port 80 answering the client's address, a UDP echo on 5353.
  t.spawn(out, [
    'python3',
    '-c',
    `
import http.server, socket, threading
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    request_queue_size = 512
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        a = self.client_address[0]
        if a.startswith("::ffff:"): a = a[7:]
        body = ("outside saw " + a + "\\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def udp():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 5353))
    while True:
        d, a = u.recvfrom(65535); u.sendto(d, a)
threading.Thread(target=udp, daemon=True).start()
S(("::", 80), H).serve_forever()`,
  ]);
  return { fab, fw, out };
}

/** Waits until the outside's HTTP server listens. */
export async function waitServer(t: Topology, w: EgressWorld): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (/:80\b/.test(t.run(w.out, ['ss', '-ltn']).stdout)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the outside HTTP server did not start');
}

export function policyYaml(
  name: string,
  app: string,
  egressIPs: string[],
  cidrs = ['198.18.200.0/24', '2001:db8:18:200::/64'],
): string {
  const ip =
    egressIPs.length === 1 ? `  egressSourceIP: ${egressIPs[0]}` : `  egressSourceIPs: [${egressIPs.join(', ')}]`;
  return `apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: ${name} }
spec:
  egress:
  - podSelector: { matchLabels: { app: ${app} } }
  destinationCIDRs: [ ${cidrs.join(', ')} ]
${ip}
`;
}

/** curlOut, retried for up to 5 s while a policy just applied reaches every node. */
export async function curlOutEventually(
  t: Topology,
  ns: string,
  host: string,
): Promise<{ code: number | null; body: string }> {
  let r = curlOut(t, ns, host);
  for (let i = 0; i < 20 && r.code !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    r = curlOut(t, ns, host);
  }
  return r;
}

/** curl from an endpoint's namespace; returns the body or '' (and the exit code). */
export function curlOut(t: Topology, ns: string, host: string, timeoutSec = 3): { code: number | null; body: string } {
  const url = host.includes(':') ? `http://[${host}]/` : `http://${host}/`;
  const r = t.run(ns, ['curl', '-sS', '--max-time', String(timeoutSec), url], (timeoutSec + 5) * 1000);
  return { code: r.code, body: r.stdout + r.stderr };
}
