// The L4 load balancer's datapath (src/datapath/lb.ts) in the in-process harness, with LB
// tables programmed: DSR over IPIP / IP6IP6 toward Maglev-chosen backends, L4 xlate, PMTU,
// fragments, no backend; and the backend side's IPIP decapsulation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Harness,
  type StepResult,
  OUTCOME_IDX,
  COUNTER_NAMES,
  C,
  UP,
  EP1,
  PORT_MACS,
  NH_MAC,
  EP1_MAC,
  NH_6,
  UP_4,
  UP_6,
  EP1_4,
  EP1_6,
  ip,
  eth,
  ipv4,
  ipv6,
  tcp,
  udp,
  csum,
  bytes,
  concat,
  hex,
} from './harness.js';
import { LbTables, LbReader, fillServiceKey } from '../../src/lb/tables.js';
import { maglevSeed, MAGLEV_DEFAULT_SEED } from '../../src/lb/maglev.js';
import { lbFlowHash } from '../../src/datapath/lb.js';
import { SVC_FLAG_L4_XLATE, BACKEND_ADDR } from '../../src/tables/layout.js';
import { parseAddress, type Address } from '../../src/wire/addr.js';

const addr = (s: string): Address => parseAddress(s)!;
const SEED = maglevSeed(MAGLEV_DEFAULT_SEED);

const VIP4 = ip('198.51.100.10');
const VIP6 = ip('2001:db8:100::10');
const CLIENT4 = ip('203.0.113.7');
const CLIENT6 = ip('2001:db8:77::7');
const BACKENDS4 = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
const BACKENDS6 = ['2001:db8:200::1', '2001:db8:200::2', '2001:db8:200::3'];

const lb = new LbTables({ maxServices: 16, maxBackends: 64, tableSize: 251 });
lb.upsert(
  { vip: addr('198.51.100.10'), port: 80, proto: 6 },
  0,
  BACKENDS4.map((a) => ({ addr: addr(a), port: 80, weight: 1 })),
  SEED,
);
lb.upsert(
  { vip: addr('198.51.100.10'), port: 53, proto: 17 },
  SVC_FLAG_L4_XLATE,
  BACKENDS4.map((a) => ({ addr: addr(a), port: 5353, weight: 1 })),
  SEED,
);
lb.upsert(
  { vip: addr('198.51.100.10'), port: 443, proto: 6 },
  SVC_FLAG_L4_XLATE,
  BACKENDS4.map((a) => ({ addr: addr(a), port: 8443, weight: 1 })),
  SEED,
);
lb.upsert({ vip: addr('198.51.100.10'), port: 81, proto: 6 }, 0, [], SEED);
lb.upsert(
  { vip: addr('2001:db8:100::10'), port: 80, proto: 6 },
  0,
  BACKENDS6.map((a) => ({ addr: addr(a), port: 80, weight: 1 })),
  SEED,
);

const h = new Harness({ lb: new LbReader(lb.sabs) });
h.settings.setLbSourcePrefix(4, ip('192.0.2.0'), 24);
h.settings.setLbSourcePrefix(6, ip('2001:db8:300::'), 64);
/** An independent reader: the backend the test expects. */
const oracle = new LbReader(lb.sabs);

function expectedBackend(
  family: 4 | 6,
  vip: Uint8Array,
  client: Uint8Array,
  sport: number,
  dport: number,
  proto: number,
): Uint8Array {
  fillServiceKey(oracle.key, family, vip, 0, dport, proto);
  assert.ok(oracle.findService());
  assert.ok(oracle.pickBackend(lbFlowHash(client, 0, client.length, sport, dport, proto)) >= 0);
  const out = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = 0; i < out.length; i++) out[i] = (oracle.backend[BACKEND_ADDR + (i >> 2)] >>> (24 - 8 * (i & 3))) & 255;
  return out;
}

function step(frame: Uint8Array, port = UP): { r: StepResult; outcome: string; frames: Uint8Array[] } {
  h.reset();
  h.learn(UP, 6, NH_6, NH_MAC);
  const r = h.inject(frame, port);
  assert.equal(r.error, undefined);
  const moved = OUTCOME_IDX.filter((i) => r.delta[i] !== 0);
  assert.equal(moved.length, 1, `outcomes: ${JSON.stringify(Harness.named(r.delta))}`);
  assert.equal(r.delta[moved[0]], 1);
  const b = h.dp.arena.bytes;
  return { r, outcome: COUNTER_NAMES[moved[0]], frames: r.tx.map((t) => b.slice(t.off, t.off + t.len)) };
}

function syn4(
  sport: number,
  dport = 80,
  o: { df?: boolean; data?: Uint8Array; mf?: boolean; fragOff?: number } = {},
): Uint8Array {
  const seg = tcp(CLIENT4, VIP4, sport, dport, 0x02, o.data ?? new Uint8Array(0));
  return eth(
    PORT_MACS[UP],
    NH_MAC,
    0x0800,
    ipv4({ src: CLIENT4, dst: VIP4, proto: 6, df: o.df ?? true, mf: o.mf, fragOff: o.fragOff }, seg),
  );
}

function syn6(sport: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return eth(PORT_MACS[UP], NH_MAC, 0x86dd, ipv6(CLIENT6, VIP6, 6, 64, tcp(CLIENT6, VIP6, sport, 80, 0x02, data)));
}

const g16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

function pseudo(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = proto + len;
  for (const a of [src, dst]) for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1];
  return s;
}

test(
  'IPv4: TCP SYNs to the VIP go to the Maglev-chosen backends inside IPIP, outer source stable per client ' + 'socket',
  () => {
    const sources = new Set<string>();
    const backends = new Set<string>();
    for (let sport = 40000; sport < 40016; sport++) {
      const input = syn4(sport);
      const { r, outcome, frames } = step(input);
      assert.equal(outcome, 'forwarded');
      assert.equal(r.delta[C.lbForwarded], 1);
      assert.equal(frames.length, 1);
      assert.equal(r.tx[0].port, UP);
      const f = frames[0];
      assert.deepEqual(f.subarray(0, 6), NH_MAC);
      assert.deepEqual(f.subarray(6, 12), PORT_MACS[UP]);
      assert.equal(g16(f, 12), 0x0800);
      assert.equal(f[14], 0x45);
      assert.equal(csum(f, 14, 20), 0, 'outer checksum');
      assert.equal(f[23], 4, 'protocol IPIP');
      assert.equal(f[22], 64, 'outer TTL');
      assert.equal(g16(f, 20) & 0x4000, 0x4000, 'outer DF copied from the inner DF');
      assert.equal(g16(f, 16), 20 + input.length - 14);
      assert.deepEqual(f.subarray(30, 34), expectedBackend(4, VIP4, CLIENT4, sport, 80, 6));
      assert.deepEqual(f.subarray(26, 29), ip('192.0.2.0').subarray(0, 3), 'outer source inside 192.0.2.0/24');
      assert.equal(hex(f.subarray(34)), hex(input.subarray(14)), 'inner packet untouched');
      sources.add(hex(f.subarray(26, 30)));
      backends.add(hex(f.subarray(30, 34)));
      // The same client socket again: the same outer source and backend.
      const again = step(input).frames[0];
      assert.deepEqual(again.subarray(26, 34), f.subarray(26, 34));
    }
    assert.ok(sources.size >= 12, `only ${sources.size} outer sources for 16 client sockets`);
    assert.ok(backends.size >= 2, 'all client sockets on one backend');
  },
);

test('IPv6: TCP SYNs to the VIP go inside IP6IP6, outer source in the /64', () => {
  const sources = new Set<string>();
  for (let sport = 50000; sport < 50008; sport++) {
    const input = syn6(sport);
    const { r, outcome, frames } = step(input);
    assert.equal(outcome, 'forwarded');
    assert.equal(r.delta[C.lbForwarded], 1);
    const f = frames[0];
    assert.deepEqual(f.subarray(0, 6), NH_MAC);
    assert.equal(g16(f, 12), 0x86dd);
    assert.equal(f[14] >>> 4, 6);
    assert.equal(f[20], 41, 'next header IPv6');
    assert.equal(f[21], 64, 'outer hop limit');
    assert.equal(g16(f, 18), input.length - 14);
    assert.deepEqual(f.subarray(38, 54), expectedBackend(6, VIP6, CLIENT6, sport, 80, 6));
    assert.deepEqual(f.subarray(22, 30), ip('2001:db8:300::').subarray(0, 8));
    assert.equal(hex(f.subarray(54)), hex(input.subarray(14)), 'inner packet untouched');
    sources.add(hex(f.subarray(22, 38)));
    assert.deepEqual(step(input).frames[0].subarray(22, 54), f.subarray(22, 54));
  }
  assert.equal(sources.size, 8);
});

test('L4 xlate: the inner destination port becomes the backend port, checksums verify', () => {
  const input = syn4(40001, 443, { data: bytes(100, 3) });
  const { r, outcome, frames } = step(input);
  assert.equal(outcome, 'forwarded');
  assert.equal(r.delta[C.lbL4Xlated], 1);
  const f = frames[0];
  const inner = f.subarray(34);
  const l4 = inner.subarray(20);
  assert.equal(g16(l4, 2), 8443);
  assert.equal(csum(l4, 0, l4.length, pseudo(CLIENT4, VIP4, 6, l4.length)), 0, 'TCP checksum after the rewrite');
  assert.equal(hex(inner.subarray(0, 20)), hex(input.subarray(14, 34)), 'inner IP header untouched');
  // UDP with a checksum, and UDP with checksum 0 (stays 0 over IPv4).
  const dgram = udp(CLIENT4, VIP4, 1234, 53, bytes(30, 4));
  const u = step(
    eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 17 }, dgram)),
  ).frames[0].subarray(54);
  assert.equal(g16(u, 2), 5353);
  assert.equal(csum(u, 0, u.length, pseudo(CLIENT4, VIP4, 17, u.length)), 0, 'UDP checksum after the rewrite');
  const zero = dgram.slice();
  zero[6] = 0;
  zero[7] = 0;
  const z = step(
    eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 17 }, zero)),
  ).frames[0].subarray(54);
  assert.equal(g16(z, 2), 5353);
  assert.equal(g16(z, 6), 0);
});

test('PMTU: DF IPv4 above MTU - 20 gets frag needed from the VIP with MTU - 20', () => {
  const input = syn4(40002, 80, { data: bytes(1460 - 20 + 1, 5) }); // inner 1481 bytes
  const { r, outcome, frames } = step(input);
  assert.equal(outcome, 'dropTooBig');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  const f = frames[0];
  assert.equal(r.tx[0].port, UP);
  assert.deepEqual(f.subarray(0, 6), NH_MAC);
  assert.deepEqual(f.subarray(26, 30), VIP4, 'from the VIP');
  assert.deepEqual(f.subarray(30, 34), CLIENT4);
  assert.equal(f[34], 3);
  assert.equal(f[35], 4);
  assert.equal(g16(f, 40), 1480);
  assert.equal(csum(f, 34, f.length - 34), 0);
  assert.equal(hex(f.subarray(42)), hex(input.subarray(14, 14 + f.length - 42)), 'quotes the original packet');
  // Exactly MTU - 20 passes.
  assert.equal(step(syn4(40002, 80, { data: bytes(1440, 5) })).outcome, 'forwarded');
});

test('PMTU: IPv6 above MTU - 40 gets packet too big from the VIP with MTU - 40', () => {
  const input = syn6(50001, bytes(1401, 6)); // inner 40 + 20 + 1401 = 1461
  const { r, outcome, frames } = step(input);
  assert.equal(outcome, 'dropTooBig');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  const f = frames[0];
  assert.deepEqual(f.subarray(22, 38), VIP6, 'from the VIP');
  assert.deepEqual(f.subarray(38, 54), CLIENT6);
  assert.equal(f[54], 2);
  assert.equal(g16(f, 58) * 65536 + g16(f, 60), 1460);
  assert.equal(hex(f.subarray(62)), hex(input.subarray(14, 14 + f.length - 62)));
  assert.equal(step(syn6(50001, bytes(1400, 6))).outcome, 'forwarded');
});

test('non-DF IPv4 above MTU - 20 is fragmented, every fragment inside IPIP with the same outer source', () => {
  const input = syn4(40003, 80, { df: false, data: bytes(1460, 7) }); // inner 1500
  const { r, outcome, frames } = step(input);
  assert.equal(outcome, 'fragmented');
  assert.equal(r.delta[C.fragmentsSent], 2);
  assert.equal(frames.length, 2);
  for (const f of frames) {
    assert.equal(f[23], 4);
    assert.equal(g16(f, 20) & 0x4000, 0, 'outer DF clear');
    assert.ok(f.length - 14 <= 1500);
    assert.equal(csum(f, 14, 20), 0);
    assert.equal(csum(f, 34, 20), 0, 'inner fragment header checksum');
    assert.deepEqual(f.subarray(26, 34), frames[0].subarray(26, 34));
  }
  assert.equal(g16(frames[0], 34 + 6) & 0x2000, 0x2000, 'first fragment has MF');
});

test('later fragments to a VIP: dropLbFragment; truncated L4: dropL4Truncated; no backend: dropLbNoBackend', () => {
  assert.equal(
    step(eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 6, fragOff: 185 }, bytes(64, 8))))
      .outcome,
    'dropLbFragment',
  );
  const frag6 = eth(
    PORT_MACS[UP],
    NH_MAC,
    0x86dd,
    ipv6(CLIENT6, VIP6, 44, 64, concat(Uint8Array.of(6, 0, 0, (185 << 3) & 0xff, 0, 0, 0, 1), bytes(64, 8))),
  );
  assert.equal(step(frag6).outcome, 'dropLbFragment');
  assert.equal(
    step(
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x0800,
        ipv4(
          { src: CLIENT4, dst: VIP4, proto: 6 },
          bytes(12, 9).map((x, i) => (i === 2 ? 0 : i === 3 ? 80 : x)),
        ),
      ),
    ).outcome,
    'dropL4Truncated',
  );
  assert.equal(
    step(eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 6 }, bytes(3, 9)))).outcome,
    'dropL4Truncated',
  );
  assert.equal(step(syn4(40004, 81)).outcome, 'dropLbNoBackend');
  // A port without a service, and another protocol: routed as usual (default route, forwarded untouched).
  const other = step(syn4(40005, 82));
  assert.equal(other.outcome, 'forwarded');
  assert.equal(other.r.delta[C.lbForwarded], 0);
  assert.equal(other.frames[0][23], 6);
});

test('backend side: IPIP / IP6IP6 to the uplink address is decapsulated and the inner packet routed', () => {
  const inner4 = ipv4(
    { src: CLIENT4, dst: EP1_4, proto: 6, ttl: 30 },
    tcp(CLIENT4, EP1_4, 40000, 80, 0x02, new Uint8Array(0)),
  );
  const outer4 = eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: ip('192.0.2.77'), dst: UP_4, proto: 4 }, inner4));
  const a = step(outer4);
  assert.equal(a.outcome, 'forwarded');
  assert.equal(a.r.delta[C.ipipDecapsulated], 1);
  assert.equal(a.r.tx[0].port, EP1);
  const f = a.frames[0];
  assert.deepEqual(f.subarray(0, 6), EP1_MAC);
  assert.equal(g16(f, 12), 0x0800);
  assert.equal(f.length, 14 + inner4.length);
  assert.equal(f[22], 29, 'inner TTL decremented');
  assert.equal(csum(f, 14, 20), 0);
  assert.equal(hex(f.subarray(34)), hex(inner4.subarray(20)));
  const inner6 = ipv6(CLIENT6, EP1_6, 6, 30, tcp(CLIENT6, EP1_6, 40000, 80, 0x02, new Uint8Array(0)));
  const outer6 = eth(PORT_MACS[UP], NH_MAC, 0x86dd, ipv6(ip('2001:db8:300::5'), UP_6, 41, 64, inner6));
  const b6 = step(outer6);
  assert.equal(b6.outcome, 'forwarded');
  assert.equal(b6.r.delta[C.ipipDecapsulated], 1);
  assert.equal(b6.r.tx[0].port, EP1);
  assert.equal(b6.frames[0][21], 29);
  assert.equal(hex(b6.frames[0].subarray(22)), hex(inner6.subarray(8)));
  // Inner version not matching the protocol.
  assert.equal(
    step(eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: ip('192.0.2.77'), dst: UP_4, proto: 4 }, inner6))).outcome,
    'dropIpipMalformed',
  );
  // From an endpoint port: not decapsulated.
  assert.equal(
    step(eth(PORT_MACS[EP1], EP1_MAC, 0x0800, ipv4({ src: EP1_4, dst: ip('198.19.1.1'), proto: 4 }, inner4)), EP1)
      .outcome,
    'dropLocalUnhandled',
  );
});
