// The SNAT connection table with an injected clock: translations, reverse lookups, per-state
// timeouts, GC freeing ports, exhaustion and capacity refusal, ICMP errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NatTable,
  NatFlows,
  CT_HIT,
  CT_NEW,
  CT_NO_ENTRY,
  CT_PORTS_EXHAUSTED,
  CT_TABLE_FULL,
  CT_VERDICT_NAMES,
} from '../../src/nat/conntrack.js';
import {
  DEFAULT_TIMEOUTS,
  CT_STATE_NAMES,
  tcpNextState,
  tcpInitialState,
  TCP_SYN_SENT,
  TCP_SYN_RECV,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT,
  TCP_CLOSE_WAIT,
  TCP_TIME_WAIT,
  TCP_CLOSE,
  CT_NONE,
} from '../../src/nat/ct-state.js';
import { portSlice, sliceOwner, candidatePort } from '../../src/nat/port-alloc.js';
import {
  natRewriteSource,
  natRewriteDestination,
  natRewriteIcmpError,
  SIDE_DST,
  SIDE_SRC,
} from '../../src/nat/snat.js';
import { natParse, NAT_ICMP_ERROR, NAT_OK } from '../../src/nat/packet.js';
import { pkt, icmpError, ip } from './flows.js';
import { bytesWords } from './helpers.js';
import { formatIpv4 } from '../../src/wire/ipv4.js';

const EP = '198.19.1.10',
  EP2 = '198.19.1.11',
  REMOTE = '198.18.200.10',
  REMOTE2 = '198.18.200.11',
  EGRESS = '198.18.0.200';
const EGW = bytesWords(ip(EGRESS));
const T0 = 1_000_000;
const SYN = 0x02,
  ACK = 0x10,
  FIN = 0x01,
  RST = 0x04;

function setup(capacity = 1000, portMin = 32768, portMax = 60999, workers = 1): { t: NatTable; f: NatFlows } {
  const t = NatTable.create({ capacity, workers, portMin, portMax });
  return { t, f: new NatFlows(t.sab, 0) };
}

const name = (v: number) => CT_VERDICT_NAMES[v];

test(
  'a TCP flow: translation, same translation for later packets, reverse lookup, unsolicited and wrong-port ' +
    'replies',
  () => {
    const { t, f } = setup();
    const syn = pkt('tcp', EP, 40000, REMOTE, 80, SYN);
    assert.equal(name(f.outbound(syn.p, syn.b, EGW, 0, T0)), 'new');
    const port = f.xlate[4]!;
    assert.equal(f.xlate[0], EGW[0]);
    assert.ok(port >= 32768 && port <= 60999);
    assert.equal(name(f.outbound(syn.p, syn.b, EGW, 0, T0)), 'hit');
    assert.equal(f.xlate[4], port);
    natRewriteSource(syn.b, syn.p, f.xlate, 0, f.xlate[4]!);
    assert.equal(formatIpv4(syn.b, 12), EGRESS);

    const synack = pkt('tcp', REMOTE, 80, EGRESS, port, SYN | ACK);
    assert.equal(name(f.inbound(synack.p, synack.b, T0)), 'hit');
    assert.equal(formatIpv4(new Uint8Array(Int32Array.of(f.xlate[0]!).buffer).reverse(), 0), EP);
    assert.equal(f.xlate[4], 40000);
    assert.equal(CT_STATE_NAMES[f.state], 'SYN_RECV');
    natRewriteDestination(synack.b, synack.p, f.xlate, 0, f.xlate[4]!);
    assert.equal(formatIpv4(synack.b, 16), EP);

    const otherPort = pkt('tcp', REMOTE, 81, EGRESS, port, SYN | ACK);
    assert.equal(name(f.inbound(otherPort.p, otherPort.b, T0)), 'noEntry', 'a reply from another remote port');
    const unsolicited = pkt('tcp', REMOTE, 80, EGRESS, port + 1, SYN);
    assert.equal(name(f.inbound(unsolicited.p, unsolicited.b, T0)), 'noEntry');
    const rst = pkt('tcp', EP, 40001, REMOTE, 80, RST);
    assert.equal(name(f.outbound(rst.p, rst.b, EGW, 0, T0)), 'noEntry', 'an RST starts nothing');
    assert.equal(t.stats().connections, 1);
    assert.equal(t.stats().newFlows, 1);
    const [e] = t.entries(T0 + 5);
    assert.deepEqual(e, {
      family: 4,
      proto: 6,
      src: EP,
      sport: 40000,
      dst: REMOTE,
      dport: 80,
      xlateAddr: EGRESS,
      xlatePort: port,
      state: 'SYN_RECV',
      idleSec: 5,
      worker: 0,
    });
  },
);

test('TCP state tracker follows flags in each direction', () => {
  assert.equal(tcpInitialState(SYN), TCP_SYN_SENT);
  assert.equal(tcpInitialState(ACK), TCP_ESTABLISHED, 'a mid-stream flow is picked up');
  assert.equal(tcpInitialState(RST | ACK), CT_NONE);
  const walk = (steps: Array<[number, boolean]>, from = TCP_SYN_SENT) =>
    steps.reduce((s, [fl, reply]) => tcpNextState(s, fl, reply), from);
  assert.equal(walk([[SYN | ACK, true]]), TCP_SYN_RECV);
  assert.equal(
    walk([
      [SYN | ACK, true],
      [ACK, false],
    ]),
    TCP_ESTABLISHED,
  );
  assert.equal(
    walk([
      [SYN | ACK, true],
      [ACK, false],
      [FIN | ACK, false],
    ]),
    TCP_FIN_WAIT,
  );
  assert.equal(
    walk([
      [SYN | ACK, true],
      [ACK, false],
      [FIN | ACK, false],
      [FIN | ACK, true],
    ]),
    TCP_TIME_WAIT,
  );
  assert.equal(walk([[FIN | ACK, true]], TCP_ESTABLISHED), TCP_CLOSE_WAIT);
  assert.equal(
    walk(
      [
        [FIN | ACK, true],
        [FIN | ACK, false],
      ],
      TCP_ESTABLISHED,
    ),
    TCP_TIME_WAIT,
  );
  assert.equal(walk([[RST, true]], TCP_ESTABLISHED), TCP_CLOSE);
  assert.equal(walk([[SYN, false]], TCP_TIME_WAIT), TCP_SYN_SENT, 'port reuse after TIME_WAIT');
  assert.equal(walk([[SYN, false]], TCP_ESTABLISHED), TCP_ESTABLISHED);
});

/** Drives a fresh table at T0; returns the flow's state and the last probed second a sweep keeps it. */
function survives(drive: (f: NatFlows) => void): { lastKept: number; state: string } {
  let state = '',
    lastKept = -1;
  for (const dt of [9, 10, 11, 29, 30, 31, 59, 60, 61, 119, 120, 121, 179, 180, 181, 21600, 21601]) {
    const { t, f } = setup();
    drive(f);
    state = t.entries(T0)[0]!.state;
    if (t.sweep(T0 + dt).expired !== 0) break;
    lastKept = dt;
  }
  return { lastKept, state };
}

test('timeouts per state (netfilter values; ESTABLISHED: Cilium 6 h)', () => {
  const out = (fl: number) => (f: NatFlows) => {
    const s = pkt('tcp', EP, 40000, REMOTE, 80, fl);
    f.outbound(s.p, s.b, EGW, 0, T0);
  };
  const back = (fl: number) => (f: NatFlows) => {
    const r = pkt('tcp', REMOTE, 80, EGRESS, f.xlate[4]!, fl);
    f.inbound(r.p, r.b, T0);
  };
  const seq =
    (...fs: Array<(f: NatFlows) => void>) =>
    (f: NatFlows) => {
      for (const x of fs) x(f);
    };
  const cases: Array<[string, (f: NatFlows) => void, number]> = [
    ['SYN_SENT', out(SYN), 120],
    ['SYN_RECV', seq(out(SYN), back(SYN | ACK)), 60],
    ['ESTABLISHED', seq(out(SYN), back(SYN | ACK), out(ACK)), 21600],
    ['FIN_WAIT', seq(out(SYN), back(SYN | ACK), out(ACK), out(FIN | ACK)), 120],
    ['CLOSE_WAIT', seq(out(SYN), back(SYN | ACK), out(ACK), back(FIN | ACK)), 120],
    ['TIME_WAIT', seq(out(SYN), back(SYN | ACK), out(ACK), back(FIN | ACK), out(FIN | ACK)), 120],
    ['CLOSE', seq(out(SYN), back(SYN | ACK), out(ACK), back(RST)), 10],
    [
      'UDP_UNREPLIED',
      (f) => {
        const s = pkt('udp', EP, 5353, REMOTE, 53);
        f.outbound(s.p, s.b, EGW, 0, T0);
      },
      30,
    ],
    [
      'UDP_REPLIED',
      (f) => {
        const s = pkt('udp', EP, 5353, REMOTE, 53);
        f.outbound(s.p, s.b, EGW, 0, T0);
        const r = pkt('udp', REMOTE, 53, EGRESS, f.xlate[4]!);
        assert.equal(f.inbound(r.p, r.b, T0), CT_HIT);
      },
      180,
    ],
    [
      'ICMP',
      (f) => {
        const s = pkt('echo', EP, 0x1234, REMOTE, 0);
        f.outbound(s.p, s.b, EGW, 0, T0);
      },
      30,
    ],
  ];
  for (const [state, drive, timeout] of cases) {
    const r = survives(drive);
    assert.equal(r.state, state);
    assert.equal(r.lastKept, timeout, `${state} kept until +${timeout} s, swept after`);
  }
  assert.equal(DEFAULT_TIMEOUTS.tcpEstablished, 21600);
});

test('activity refreshes the entry; an idle one is swept with its reply entry, which frees the port', () => {
  const { t, f } = setup(100, 40000, 40001); // two ports
  const a = pkt('udp', EP, 1000, REMOTE, 53),
    b = pkt('udp', EP, 1001, REMOTE, 53),
    c = pkt('udp', EP, 1002, REMOTE, 53);
  assert.equal(name(f.outbound(a.p, a.b, EGW, 0, T0)), 'new');
  const pa = f.xlate[4];
  assert.equal(name(f.outbound(b.p, b.b, EGW, 0, T0)), 'new');
  assert.notEqual(f.xlate[4], pa);
  assert.equal(name(f.outbound(c.p, c.b, EGW, 0, T0)), 'portsExhausted');
  // Ports are per (egress IP, remote address, protocol): another remote or protocol still gets one.
  const d = pkt('udp', EP, 1002, REMOTE2, 53),
    e = pkt('tcp', EP, 1002, REMOTE, 53, SYN);
  assert.equal(name(f.outbound(d.p, d.b, EGW, 0, T0)), 'new');
  assert.equal(name(f.outbound(e.p, e.b, EGW, 0, T0)), 'new');
  assert.equal(t.stats().portsExhausted, 1);
  // Keep flow a alive; b goes idle.
  assert.equal(name(f.outbound(a.p, a.b, EGW, 0, T0 + 25)), 'hit');
  assert.deepEqual(
    t.sweep(T0 + 31),
    { expired: 2, orphans: 0 },
    'b and d (UDP unreplied, 30 s); a was refreshed, e is SYN_SENT (120 s)',
  );
  assert.equal(name(f.outbound(c.p, c.b, EGW, 0, T0 + 31)), 'new', 'the freed port is handed out again');
  assert.equal(f.xlate[4] === pa, false);
});

test('GC frees ports: exhausted, swept, then new flows succeed again on the freed ports', () => {
  const { t, f } = setup(100, 40000, 40001);
  const flows = [0, 1, 2].map((i) => pkt('tcp', i === 2 ? EP2 : EP, 1000 + i, REMOTE, 443, SYN));
  assert.equal(name(f.outbound(flows[0]!.p, flows[0]!.b, EGW, 0, T0)), 'new');
  assert.equal(name(f.outbound(flows[1]!.p, flows[1]!.b, EGW, 0, T0)), 'new');
  assert.equal(name(f.outbound(flows[2]!.p, flows[2]!.b, EGW, 0, T0)), 'portsExhausted');
  // The existing flows keep working meanwhile.
  assert.equal(name(f.outbound(flows[0]!.p, flows[0]!.b, EGW, 0, T0 + 60)), 'hit');
  assert.deepEqual(t.sweep(T0 + 121), { expired: 1, orphans: 0 }, 'flow 1 idle past SYN_SENT; flow 0 refreshed at +60');
  assert.equal(name(f.outbound(flows[2]!.p, flows[2]!.b, EGW, 0, T0 + 121)), 'new');
  assert.equal(t.map.size(), 4, 'two connections, two entries each');
  assert.deepEqual(t.sweep(T0 + 1000), { expired: 2, orphans: 0 });
  assert.equal(t.map.size(), 0, 'nothing left behind');
  assert.equal(t.stats().expired, 3);
});

test('a full table refuses new flows with a reason; existing flows continue', () => {
  const { t, f } = setup(3);
  for (let i = 0; i < 3; i++) {
    const s = pkt('udp', EP, 2000 + i, REMOTE, 53);
    assert.equal(name(f.outbound(s.p, s.b, EGW, 0, T0)), 'new');
  }
  const s = pkt('udp', EP, 2003, REMOTE, 53);
  assert.equal(f.outbound(s.p, s.b, EGW, 0, T0), CT_TABLE_FULL);
  assert.equal(t.stats().tableFull, 1);
  assert.equal(t.stats().connections, 3);
  const old = pkt('udp', EP, 2001, REMOTE, 53);
  assert.equal(f.outbound(old.p, old.b, EGW, 0, T0 + 1), CT_HIT);
  const reply = pkt('udp', REMOTE, 53, EGRESS, f.xlate[4]!);
  assert.equal(f.inbound(reply.p, reply.b, T0 + 1), CT_HIT);
  assert.equal(f.xlate[4], 2001);
  t.sweep(T0 + 31); // flows 0 and 2 expire (unreplied); flow 1 replied at +1 stays
  assert.equal(t.stats().connections, 1);
  assert.equal(f.outbound(s.p, s.b, EGW, 0, T0 + 31), CT_NEW);
});

test('ICMP echo ids, ICMP errors in both directions, IPv6', () => {
  const { f } = setup();
  const echo = pkt('echo', EP, 0x1234, REMOTE, 0);
  assert.equal(f.outbound(echo.p, echo.b, EGW, 0, T0), CT_NEW);
  const id = f.xlate[4]!;
  const echoReply = pkt('echoReply', REMOTE, 0, EGRESS, id);
  assert.equal(f.inbound(echoReply.p, echoReply.b, T0), CT_HIT);
  assert.equal(f.xlate[4], 0x1234);
  const stray = pkt('echoReply', EP, 0, REMOTE, 7);
  assert.equal(f.outbound(stray.p, stray.b, EGW, 0, T0), CT_NO_ENTRY, 'an echo reply starts nothing');

  // A router's time exceeded about the translated UDP datagram.
  const udp = pkt('udp', EP, 5000, REMOTE, 53);
  assert.equal(f.outbound(udp.p, udp.b, EGW, 0, T0), CT_NEW);
  natRewriteSource(udp.b, udp.p, f.xlate, 0, f.xlate[4]!);
  const err = icmpError('198.18.0.254', EGRESS, udp);
  assert.equal(f.icmpErrorInbound(err.p, err.b), CT_HIT);
  assert.equal(f.xlate[4], 5000);
  natRewriteIcmpError(err.b, err.p, SIDE_DST, f.xlate, 0, f.xlate[4]!);
  assert.equal(formatIpv4(err.b, 16), EP);
  assert.equal(natParse(err.b, 0, err.b.length, err.p), NAT_ICMP_ERROR);
  assert.equal(err.p.innerSport, 5000);
  // The endpoint's port unreachable about a reply it got.
  const reply = pkt('udp', REMOTE, 53, EP, 5000);
  const epErr = icmpError(EP, REMOTE, reply);
  assert.equal(f.icmpErrorOutbound(epErr.p, epErr.b), CT_HIT);
  natRewriteIcmpError(epErr.b, epErr.p, SIDE_SRC, f.xlate, 0, f.xlate[4]!);
  assert.equal(formatIpv4(epErr.b, 12), EGRESS);
  const unknown = icmpError('198.18.0.254', EGRESS, pkt('udp', EGRESS, 40000, REMOTE, 53));
  assert.equal(f.icmpErrorInbound(unknown.p, unknown.b), CT_NO_ENTRY);

  // IPv6: same machinery.
  const e6 = bytesWords(ip('2001:db8:18::200'));
  const tcp6 = pkt('tcp', '2001:db8:19:1::a', 40000, '2001:db8:18:200::10', 443, SYN);
  assert.equal(f.outbound(tcp6.p, tcp6.b, e6, 0, T0), CT_NEW);
  const p6 = f.xlate[4]!;
  assert.deepEqual([...f.xlate.subarray(0, 4)], [...e6]);
  const back6 = pkt('tcp', '2001:db8:18:200::10', 443, '2001:db8:18::200', p6, SYN | ACK);
  assert.equal(natParse(back6.b, 0, back6.b.length, back6.p), NAT_OK);
  assert.equal(f.inbound(back6.p, back6.b, T0), CT_HIT);
  assert.equal(f.xlate[4], 40000);
  assert.deepEqual([...f.xlate.subarray(0, 4)], [...bytesWords(ip('2001:db8:19:1::a'))]);
});

test('port slices: disjoint, cover the range, owners found; a range smaller than the workers is refused', () => {
  for (const [lo, hi, n] of [
    [32768, 60999, 2],
    [40000, 40004, 3],
    [1, 65535, 7],
    [10, 10, 1],
  ] as const) {
    const seen = new Set<number>();
    for (let w = 0; w < n; w++) {
      const s = portSlice(lo, hi, w, n);
      for (let i = 0; i < s.count; i++) {
        const port = candidatePort(s, 0, i);
        assert.ok(!seen.has(port));
        seen.add(port);
        assert.equal(sliceOwner(lo, hi, n, port), w);
      }
    }
    assert.equal(seen.size, hi - lo + 1);
  }
  assert.throws(() => portSlice(40000, 40001, 0, 3), /has 2 ports, fewer than the 3 workers/);
  assert.throws(
    () => NatTable.create({ capacity: 10, workers: 3, portMin: 40000, portMax: 40001 }),
    /fewer than the 3 workers/,
  );
  const { f } = setup(10, 40000, 40009, 2);
  assert.deepEqual({ ...f.portSlice }, { first: 40000, count: 5, tries: 5 });
  assert.equal(name(CT_PORTS_EXHAUSTED), 'portsExhausted');
  assert.equal(name(CT_NO_ENTRY), 'noEntry');
});

test('an orphaned reply entry (its original gone) is removed after the grace period, freeing its port', () => {
  const { t, f } = setup(10, 40000, 40000); // one port
  const a = pkt('udp', EP, 3000, REMOTE, 53);
  assert.equal(f.outbound(a.p, a.b, EGW, 0, T0), CT_NEW);
  // Simulate a worker stopped between the two inserts: only the reply entry remains.
  let orig: Int32Array | null = null;
  t.map.forEach((k) => {
    if (k[0]! >>> 16 === 0) orig = k;
  });
  assert.ok(t.map.delete(orig!, 0));
  const b = pkt('udp', EP, 3001, REMOTE, 53);
  assert.equal(f.outbound(b.p, b.b, EGW, 0, T0 + 1), CT_PORTS_EXHAUSTED, 'the orphan still holds the only port');
  assert.deepEqual(t.sweep(T0 + 5), { expired: 0, orphans: 0 }, 'within the grace period');
  assert.deepEqual(t.sweep(T0 + 11), { expired: 0, orphans: 1 });
  assert.equal(t.map.size(), 0);
  assert.equal(f.outbound(b.p, b.b, EGW, 0, T0 + 11), CT_NEW);
  assert.equal(f.xlate[4], 40000);
});
