// The L4LB topology of the netns tests: LB node(s) and two backend nodes on one underlay,
// three backend endpoints serving the VIPs over TCP (HTTP, answering their name) and UDP
// (port 53, answering their name), and a client namespace on the underlay.
import { type Topology, WEFT } from './harness.js';
import { startNode, addEndpoint, fabric, type ClusterNode, type Endpoint } from './cluster.js';

export const VIP4 = '198.18.100.1';
export const VIP6 = '2001:db8:18:100::1';
/** A VIP whose service rewrites port 80 to the backends' 8080 (l4Xlate: backend). */
export const VIP4_XLATE = '198.18.100.2';

export interface LbTopology {
  lbs: ClusterNode[];
  /** The backend nodes n1 (a1, a2) and n2 (b1). */
  nodes: ClusterNode[];
  backends: Endpoint[];
  client: string;
  fab: string;
}

function servers(t: Topology, ep: Endpoint): void {
  t.spawn(ep.ns, [
    'python3',
    '-c',
    `
import http.server, socket, threading
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"${ep.name}"
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_PUT(self):
        n = int(self.headers["Content-Length"]); got = 0
        while got < n:
            got += len(self.rfile.read(min(65536, n - got)))
        body = ("%s %d" % ("${ep.name}", got)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def udp():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 53))
    while True:
        d, a = u.recvfrom(65535); u.sendto(b"${ep.name}", a)
class H8080(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"${ep.name}:8080"
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
threading.Thread(target=udp, daemon=True).start()
threading.Thread(target=S(("::", 8080), H8080).serve_forever, daemon=True).start()
S(("::", 80), H).serve_forever()`,
  ]);
}

/**
 * LB nodes are n5, n6...; backends a1, a2 on n1 and b1 on n2; the client at .100 / ::100.
 * `top`: more top-level config for the LB nodes and the backend nodes (e.g. a recorder section).
 */
export async function lbTopology(
  t: Topology,
  store: string,
  lbCount = 1,
  top: {
    lb?: Record<string, unknown>;
    backend?: Record<string, unknown>;
    /** TAP offloads of n2's endpoint b1 (ClusterOptions.endpointOffloads). */
    n2EndpointOffloads?: 'on' | 'off';
  } = {},
): Promise<LbTopology> {
  const fab = fabric(t);
  const lbs: ClusterNode[] = [];
  for (let i = 0; i < lbCount; i++)
    lbs.push(await startNode(t, 5 + i, { store }, {}, { lb: { tableSize: 1021 }, ...top.lb }));
  const n1 = await startNode(t, 1, { store }, {}, top.backend);
  const n2 = await startNode(t, 2, { store, endpointOffloads: top.n2EndpointOffloads }, {}, top.backend);
  const vips = [VIP4, VIP6, VIP4_XLATE];
  const backends = [
    addEndpoint(t, n1, 'a1', 'app=web', vips),
    addEndpoint(t, n1, 'a2', 'app=web', vips),
    addEndpoint(t, n2, 'b1', 'app=web', vips),
  ];
  for (const ep of backends) servers(t, ep);
  const client = t.ns('client');
  t.must('', ['ip', 'link', 'add', 'eth0', 'netns', client, 'type', 'veth', 'peer', 'name', 'clup', 'netns', fab]);
  t.must(fab, ['ip', 'link', 'set', 'clup', 'master', 'br0', 'up']);
  t.must(client, ['ip', 'addr', 'add', '198.18.0.100/24', 'dev', 'eth0']);
  t.must(client, ['ip', 'addr', 'add', '2001:db8:18::100/64', 'dev', 'eth0', 'nodad']);
  t.must(client, ['ip', 'link', 'set', 'eth0', 'up']);
  viaLb(t, client, lbs[0]);
  for (const [name, vip, proto, port] of [
    ['web', VIP4, 'tcp', 80],
    ['web6', VIP6, 'tcp', 80],
    ['dns', VIP4, 'udp', 53],
    ['dns6', VIP6, 'udp', 53],
  ] as const) {
    const v6 = vip.includes(':');
    t.must('', [
      'node',
      WEFT,
      'service',
      'add',
      name,
      '--vip',
      vip,
      '--port',
      String(port),
      '--protocol',
      proto,
      ...backends.flatMap((e) => ['--backend', v6 ? `[${e.ipv6}]:${port}` : `${e.ipv4}:${port}`]),
      '--api',
      lbs[0].agent.api,
    ]);
  }
  return { lbs, nodes: [n1, n2], backends, client, fab };
}

/** Points the client's routes to the VIPs at one LB's underlay addresses. */
export function viaLb(t: Topology, client: string, lb: ClusterNode): void {
  t.must(client, ['ip', 'route', 'replace', `${VIP4}/32`, 'via', lb.underlay4]);
  t.must(client, ['ip', 'route', 'replace', `${VIP4_XLATE}/32`, 'via', lb.underlay4]);
  t.must(client, ['ip', '-6', 'route', 'replace', `${VIP6}/128`, 'via', lb.underlay6]);
}
