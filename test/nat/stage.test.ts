// The NAT stage in the in-process pipeline (src/datapath/nat-stage.ts): masquerade and its
// reply, SNAT to an egress IP and the redirect toward a gateway node, unsolicited packets,
// port exhaustion, later fragments, ICMP errors — each frame with exactly one outcome — and the
// gratuitous ARP / unsolicited NA frames a new egress IP owner sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Harness,
  type StepResult,
  OUTCOME_IDX,
  COUNTER_NAMES,
  EP1,
  UP,
  PORT_MACS,
  EP1_MAC,
  NH_MAC,
  EP1_4,
  EP1_6,
  OUT_6,
  ip,
  eth,
  ipv4,
  udp,
  tcp,
  ipv6,
  icmp4,
  csum,
} from '../datapath/harness.js';
import { NatWorker } from '../../src/datapath/nat-worker.js';
import { NatTable, EgressTable, NatSettings, LocalEgressIPs, compileEgress, parsePolicy } from '../../src/nat/index.js';
import { programRoute } from '../../src/control/routes.js';
import { announceFrame } from '../../src/control/egress-announce.js';
import { parseAddress } from '../../src/wire/addr.js';
import { ROUTE_LOCAL } from '../../src/tables/layout.js';

const NODE4 = ip('198.18.0.1');
const EGRESS4 = ip('198.18.0.200');
const GATEWAY_NODE = '198.18.0.254'; // the harness's learned next hop doubles as another node

function setup(local: boolean): { h: Harness; table: NatTable } {
  const h = new Harness();
  const table = NatTable.create({ capacity: 64, workers: 1, portMin: 40000, portMax: 40001 });
  const egress = EgressTable.create(64);
  const settings = NatSettings.create();
  settings.configure({
    enabled: true,
    nodeIPv4: '198.18.0.1',
    nodeIPv6: '2001:db8:18::1',
    nonMasqueradeCIDRs: ['198.19.0.0/16', '2001:db8:19::/48', '198.18.0.0/24'],
  });
  const ips = LocalEgressIPs.create();
  ips.set(local ? ['198.18.0.200'] : [], ['198.18.0.1', '2001:db8:18::1']);
  if (local)
    programRoute(h.routes, { prefix: { ...parseAddress('198.18.0.200')!, len: 32 }, type: ROUTE_LOCAL, port: UP });
  const policy = parsePolicy({
    apiVersion: 'cilium.io/v2alpha1',
    kind: 'CiliumEgressNATPolicy',
    metadata: { name: 'p' },
    spec: {
      egress: [{ podSelector: { matchLabels: { app: 'web' } } }],
      destinationCIDRs: ['198.18.200.0/24'],
      egressSourceIP: '198.18.0.200',
    },
  });
  const { entries } = compileEgress({
    policies: [policy],
    endpoints: [{ addresses: ['198.19.1.10'], labels: { app: 'web' } }],
    owners: new Map([['198.18.0.200', local ? 'self' : 'gw']]),
    nodes: [
      { name: 'self', ipv4: '198.18.0.1' },
      { name: 'gw', ipv4: GATEWAY_NODE },
    ],
    localNode: 'self',
  });
  egress.sync(entries);
  (h.dp as { nat: NatWorker | null }).nat = new NatWorker(
    { table: table.sab, egress: egress.sab, settings: settings.sab, local: ips.sab },
    0,
  );
  return { h, table };
}

function outcomes(r: StepResult): string[] {
  assert.equal(r.error, undefined, String(r.error));
  const o = OUTCOME_IDX.filter((i) => r.delta[i] !== 0).map((i) => `${COUNTER_NAMES[i]}=${r.delta[i]}`);
  assert.equal(o.length, 1, `exactly one outcome, got ${o.join(' ')}`);
  return o;
}

function named(r: StepResult, name: string): number {
  return r.delta[COUNTER_NAMES.indexOf(name as never)];
}

function sent(h: Harness, r: StepResult): Uint8Array {
  assert.equal(r.tx.length, 1, 'one frame queued');
  const t = r.tx[0];
  const f = h.dp.arena.bytes.slice(t.off, t.off + t.len);
  h.resetTx();
  return f;
}

const OUT_SERVER = ip('198.18.200.8'); // inside the policy's CIDR
const OUT_OTHER = ip('198.18.201.8'); // outside it: masqueraded

function fromEp1(
  src: Uint8Array,
  dst: Uint8Array,
  l4: Uint8Array,
  proto: number,
  o: { mf?: boolean; fragOff?: number } = {},
): Uint8Array {
  return eth(PORT_MACS[EP1], EP1_MAC, 0x0800, ipv4({ src, dst, proto, ...o }, l4));
}

function fromUplink(src: Uint8Array, dst: Uint8Array, l4: Uint8Array, proto: number): Uint8Array {
  return eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src, dst, proto }, l4));
}

test("masquerade: an endpoint's UDP leaves from the node address; the reply comes back translated", () => {
  const { h } = setup(false);
  const r = h.inject(fromEp1(EP1_4, OUT_OTHER, udp(EP1_4, OUT_OTHER, 5000, 53, new Uint8Array([1, 2, 3])), 17), EP1);
  assert.deepEqual(outcomes(r), ['forwarded=1']);
  assert.equal(named(r, 'natMasqueraded'), 1);
  const f = sent(h, r);
  assert.deepEqual([...f.subarray(26, 30)], [...NODE4]);
  const xport = (f[34] << 8) | f[35];
  assert.ok(xport === 40000 || xport === 40001, `port ${xport}`);
  assert.equal(csum(f, 14, 20), 0, 'IPv4 header checksum');
  // UDP checksum over the pseudo-header still verifies.
  const udpLen = f.length - 34;
  let s = 17 + udpLen;
  for (let i = 26; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  assert.equal(csum(f, 34, udpLen, s), 0, 'UDP checksum');
  const back = h.inject(fromUplink(OUT_OTHER, NODE4, udp(OUT_OTHER, NODE4, 53, xport, new Uint8Array([9])), 17), UP);
  assert.deepEqual(outcomes(back), ['forwarded=1']);
  assert.equal(named(back, 'natReversed'), 1);
  const g = sent(h, back);
  assert.deepEqual([...g.subarray(30, 34)], [...EP1_4]);
  assert.equal((g[36] << 8) | g[37], 5000);
  // To the node address without an entry: local delivery as before (not NAT's business).
  const other = h.inject(fromUplink(OUT_OTHER, NODE4, udp(OUT_OTHER, NODE4, 53, 9999, new Uint8Array([9])), 17), UP);
  assert.deepEqual(outcomes(other), ['dropLocalUnhandled=1']);
});

test('egress policy: redirected unchanged to the gateway node, or translated to the egress IP on the gateway', () => {
  const remote = setup(false);
  const pkt = fromEp1(EP1_4, OUT_SERVER, tcp(EP1_4, OUT_SERVER, 5555, 80, 0x02, new Uint8Array(0)), 6);
  const r = remote.h.inject(pkt, EP1);
  assert.deepEqual(outcomes(r), ['forwarded=1']);
  assert.equal(named(r, 'natRedirected'), 1);
  // The harness's node runs VXLAN: the packet travels to the gateway node inside the tunnel.
  assert.equal(named(r, 'vxlanEncapsulated'), 1);
  const f = sent(remote.h, r);
  assert.deepEqual([...f.subarray(30, 34)], [...ip(GATEWAY_NODE)], 'outer destination: the gateway node');
  const inner = 14 + 20 + 8 + 8 + 14;
  assert.deepEqual([...f.subarray(inner + 12, inner + 16)], [...EP1_4], 'inner source unchanged');
  assert.deepEqual([...f.subarray(inner + 16, inner + 20)], [...OUT_SERVER], 'inner destination unchanged');

  const { h } = setup(true);
  const s = h.inject(pkt, EP1);
  assert.deepEqual(outcomes(s), ['forwarded=1']);
  assert.equal(named(s, 'natTranslated'), 1);
  const g = sent(h, s);
  assert.deepEqual([...g.subarray(26, 30)], [...EGRESS4]);
  const xport = (g[34] << 8) | g[35];
  // The reply, and an ICMP error about the translated flow, come back to the endpoint.
  const synack = h.inject(
    fromUplink(OUT_SERVER, EGRESS4, tcp(OUT_SERVER, EGRESS4, 80, xport, 0x12, new Uint8Array(0)), 6),
    UP,
  );
  assert.deepEqual(outcomes(synack), ['forwarded=1']);
  assert.deepEqual([...sent(h, synack).subarray(30, 34)], [...EP1_4]);
  const quoted = g.subarray(14, 14 + 28);
  const err = h.inject(fromUplink(OUT_SERVER, EGRESS4, icmp4(3, 4, 1280, quoted), 1), UP);
  assert.deepEqual(outcomes(err), ['forwarded=1']);
  assert.equal(named(err, 'natIcmpErrors'), 1);
  const e = sent(h, err);
  assert.deepEqual([...e.subarray(30, 34)], [...EP1_4], 'outer destination');
  assert.deepEqual([...e.subarray(14 + 20 + 8 + 12, 14 + 20 + 8 + 16)], [...EP1_4], 'quoted source');
  assert.equal(csum(e, 34, e.length - 34), 0, 'ICMP checksum');
  // Unsolicited: no entry for this port.
  const u = h.inject(fromUplink(OUT_SERVER, EGRESS4, udp(OUT_SERVER, EGRESS4, 53, 40000, new Uint8Array([1])), 17), UP);
  assert.deepEqual(outcomes(u), ['dropNatUnsolicited=1']);
  // Ports: two per (egress IP, destination, protocol); the third flow is refused.
  for (const sport of [6001, 6002])
    assert.deepEqual(
      outcomes(h.inject(fromEp1(EP1_4, OUT_SERVER, udp(EP1_4, OUT_SERVER, sport, 53, new Uint8Array([1])), 17), EP1)),
      ['forwarded=1'],
    );
  assert.deepEqual(
    outcomes(h.inject(fromEp1(EP1_4, OUT_SERVER, udp(EP1_4, OUT_SERVER, 6003, 53, new Uint8Array([1])), 17), EP1)),
    ['dropNatPortsExhausted=1'],
  );
  // Later fragments cannot be translated (no ports to read).
  assert.deepEqual(outcomes(h.inject(fromEp1(EP1_4, OUT_SERVER, new Uint8Array(16), 17, { fragOff: 2 }), EP1)), [
    'dropNatLaterFragment=1',
  ]);
});

test('no gateway: a policy whose egress IP has no owner drops its traffic (counted)', () => {
  const h = new Harness();
  const table = NatTable.create({ capacity: 16, workers: 1 });
  const egress = EgressTable.create(16);
  const settings = NatSettings.create();
  settings.configure({ enabled: true, nodeIPv4: '198.18.0.1', nonMasqueradeCIDRs: [] });
  const policy = parsePolicy({
    apiVersion: 'cilium.io/v2alpha1',
    kind: 'CiliumEgressNATPolicy',
    metadata: { name: 'p' },
    spec: { egress: [{ podSelector: {} }], destinationCIDRs: ['198.18.200.0/24'], egressSourceIP: '198.18.0.200' },
  });
  egress.sync(
    compileEgress({
      policies: [policy],
      endpoints: [{ addresses: ['198.19.1.10'], labels: {} }],
      owners: new Map(),
      nodes: [],
      localNode: 'self',
    }).entries,
  );
  (h.dp as { nat: NatWorker | null }).nat = new NatWorker(
    { table: table.sab, egress: egress.sab, settings: settings.sab, local: LocalEgressIPs.create().sab },
    0,
  );
  assert.deepEqual(
    outcomes(h.inject(fromEp1(EP1_4, OUT_SERVER, udp(EP1_4, OUT_SERVER, 1, 2, new Uint8Array(1)), 17), EP1)),
    ['dropNatNoGateway=1'],
  );
  // IPv6 from the endpoint (no IPv6 node address configured): untouched, forwarded.
  const r = h.inject(
    eth(PORT_MACS[EP1], EP1_MAC, 0x86dd, ipv6(EP1_6, OUT_6, 17, 64, udp(EP1_6, OUT_6, 1, 2, new Uint8Array(4)))),
    EP1,
  );
  assert.equal(r.error, undefined);
  assert.equal(named(r, 'natMasqueraded'), 0);
});

test('random bytes after valid headers: every frame has exactly one outcome, nothing throws', () => {
  const { h } = setup(true);
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 8;
  };
  const bases = [
    fromEp1(EP1_4, OUT_SERVER, udp(EP1_4, OUT_SERVER, 5000, 53, new Uint8Array(20)), 17),
    fromEp1(EP1_4, OUT_SERVER, tcp(EP1_4, OUT_SERVER, 5000, 80, 0x02, new Uint8Array(0)), 6),
    fromUplink(
      OUT_SERVER,
      EGRESS4,
      icmp4(
        3,
        3,
        0,
        fromEp1(EGRESS4, OUT_SERVER, udp(EGRESS4, OUT_SERVER, 40000, 53, new Uint8Array(8)), 17).subarray(14),
      ),
      1,
    ),
    fromUplink(OUT_SERVER, EGRESS4, tcp(OUT_SERVER, EGRESS4, 80, 40001, 0x12, new Uint8Array(0)), 6),
    eth(PORT_MACS[EP1], EP1_MAC, 0x86dd, ipv6(EP1_6, OUT_6, 17, 64, udp(EP1_6, OUT_6, 7, 9, new Uint8Array(12)))),
  ];
  for (let i = 0; i < 5000; i++) {
    const b = bases[i % bases.length].slice();
    const flips = 1 + (rnd() % 4);
    // Mutate past the IP header's checksum-protected part half of the time, anywhere else otherwise.
    for (let k = 0; k < flips; k++) {
      const at = i & 1 ? 34 + (rnd() % Math.max(1, b.length - 34)) : 14 + (rnd() % (b.length - 14));
      b[at] = rnd() & 0xff;
    }
    const port = b[6] === NH_MAC[0] && b[11] === NH_MAC[5] ? UP : EP1;
    outcomes(h.inject(b.subarray(0, b.length - (rnd() % 3 === 0 ? rnd() % 16 : 0)), port));
    h.resetTx();
  }
});

test('announcements: gratuitous ARP and unsolicited NA with override and a valid checksum', () => {
  const m = new Uint8Array([2, 0, 0, 0, 0, 9]);
  const a = announceFrame(parseAddress('198.18.0.200')!, m);
  assert.equal(a.length, 60);
  assert.deepEqual([...a.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  assert.deepEqual([...a.subarray(28, 32)], [198, 18, 0, 200]);
  assert.deepEqual([...a.subarray(38, 42)], [198, 18, 0, 200]);
  const n = announceFrame(parseAddress('2001:db8:18::200')!, m);
  assert.equal(n[54], 136);
  assert.equal(n[58] & 0x20, 0x20);
  let s = 32 + 58;
  for (let i = 22; i < 54; i += 2) s += (n[i] << 8) | n[i + 1];
  assert.equal(csum(n, 54, 32, s), 0);
});
