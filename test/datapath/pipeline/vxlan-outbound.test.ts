// VXLAN examples, out through the tunnel: the outer headers byte for byte (prepended in the
// headroom, no copy), inner families over either underlay, a VTEP parked behind an NS or behind
// the gateway, and the path MTU less the encapsulation (frag needed, fragments, too big).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  EP1,
  LINUX_VX_MAC,
  NH_MAC,
  PORT_LL,
  PORT_MACS,
  UP,
  UP_4,
  UP_6,
  VTEP_B4,
  VTEP_B_MAC,
  VTEP_C6,
  VTEP_D4,
  VTEP_E4,
  VTEP_MAC,
  csum,
  equalBytes,
  hex,
  icmp6,
} from '../harness.js';
import { naBody, v6 } from './frames/builders.js';
import { BASES } from './frames/corpus.js';
import { VTEP_C_MAC } from './frames/tunnel-bases.js';
import { checkReceive } from './oracle/receive.js';
import { checkTick } from './oracle/tick.js';
import { g16, g32 } from './reading/frame.js';
import { outer4 } from './reading/vxlan.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('to a remote pod: IPv4 underlay, outer headers prepended in the headroom, inner MACs and TTL', () => {
  const { r, outcome, b } = session.receive('udp4-ep1-to-pod-b');
  assert.equal(outcome, 'forwarded');
  assert.equal(r.delta[C.vxlanEncapsulated], 1);
  const t = r.tx[0];
  assert.equal(t.port, UP);
  assert.equal(t.off, r.rxOff - 50, 'no copy: the offset moved back by 50');
  assert.equal(t.len, r.input.length + 50);
  const got = outer4(b, t.off);
  const total = t.len - 14;
  assert.deepEqual(
    { ...got, sport: 0 },
    {
      dstMac: hex(VTEP_B_MAC),
      srcMac: hex(PORT_MACS[UP]),
      ip: hex(Uint8Array.of(0x08, 0x00, 0x45, 0x00, total >> 8, total & 255, 0, 0, 0x40, 0x00, 64, 17)),
      src: hex(UP_4),
      dst: hex(VTEP_B4),
      sport: 0,
      dport: 8472,
      udpLen: total - 20,
      udpCsum: 0,
      vx: '0800000000000200',
    },
  );
  assert.ok(got.sport >= 32768 && got.sport <= 60999);
  assert.equal(csum(b, t.off + 14, 20), 0, 'outer IPv4 header checksum');
  const i = t.off + 50;
  assert.ok(
    equalBytes(b, i, LINUX_VX_MAC, 0, 6) && equalBytes(b, i + 6, VTEP_MAC, 0, 6),
    "inner MACs: the route's inner MAC, our VXLAN MAC",
  );
  assert.equal(b[i + 22], 63, 'inner TTL decremented');
  assert.equal(csum(b, i + 14, 20), 0, 'inner IPv4 checksum still valid');
  session.finish();
  // The same flow always takes the same source port; another flow may not.
  const again = session.receive('udp4-ep1-to-pod-b');
  assert.equal(g16(again.b, again.r.tx[0].off + 34), got.sport);
  session.finish();
});

test('IPv6 pods over the IPv4 underlay, IPv4 pods over the IPv6 underlay (parked, NS, sent when the NA comes)', () => {
  const six = session.receive('tcp6-ep1-to-pod-b');
  assert.equal(six.outcome, 'forwarded');
  const t6 = six.r.tx[0];
  assert.equal(t6.off, six.r.rxOff - 50);
  assert.equal(g16(six.b, t6.off + 50 + 12), 0x86dd, 'inner IPv6');
  assert.equal(six.b[t6.off + 50 + 21], 63, 'inner hop limit decremented');
  session.finish();
  h.reset();
  const hist: string[] = [];
  const base = BASES.find((x) => x.name === 'udp4-ep1-to-pod-c')!;
  let step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ h, step, history: hist }), 'pendingQueued');
  const ns = step.tx.filter((d) => h.isGenerated(d.off));
  assert.equal(ns.length, 1);
  assert.equal(ns[0].port, UP);
  assert.ok(equalBytes(h.dp.arena.bytes, ns[0].off + 62, VTEP_C6, 0, 16), 'NS for the remote VTEP');
  const q = h.dp.pending;
  const slot = step.parked[0];
  const po = q.frameOff(slot);
  const b = h.dp.arena.bytes;
  assert.equal(q.len[slot], base.frame.length + 70);
  assert.equal(g16(b, po + 12), 0x86dd);
  assert.ok(equalBytes(b, po + 22, UP_6, 0, 16) && equalBytes(b, po + 38, VTEP_C6, 0, 16), 'outer IPv6 addresses');
  assert.equal(b[po + 20], 17);
  assert.equal(b[po + 21], 64);
  assert.equal(g16(b, po + 54 + 2), 8472);
  assert.ok(
    equalBytes(b, po + 70, VTEP_MAC, 0, 6),
    "no inner MAC on the route: our VXLAN MAC (every Weft node's default)",
  );
  h.resetTx();
  const na = icmp6(VTEP_C6, PORT_LL[UP], 136, 0, naBody(VTEP_C6, VTEP_C_MAC));
  step = h.inject(v6(UP, VTEP_C_MAC, VTEP_C6, PORT_LL[UP], 58, 255, na), UP);
  assert.equal(checkReceive({ h, step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ h, step, history: hist });
  assert.equal(step.delta[C.pendingSent], 1);
  assert.ok(equalBytes(h.dp.arena.bytes, step.tx[0].off, VTEP_C_MAC, 0, 6), "sent to the VTEP's MAC");
  h.repatternReleased(step.released);
  session.finish();
});

test('a VTEP behind the gateway: outer destination the VTEP, Ethernet destination the gateway', () => {
  const { r, outcome, b } = session.receive('udp4-ep2-to-pod-d');
  assert.equal(outcome, 'forwarded');
  const t = r.tx[0];
  assert.ok(equalBytes(b, t.off, NH_MAC, 0, 6));
  assert.ok(equalBytes(b, t.off + 30, VTEP_D4, 0, 4));
  session.finish();
  const e = session.receive('udp4-ep1-to-pod-e');
  assert.equal(e.outcome, 'pendingQueued');
  assert.equal(e.gen.length, 1);
  assert.equal(g16(e.b, e.gen[0].off + 12), 0x0806);
  assert.ok(equalBytes(e.b, e.gen[0].off + 38, VTEP_E4, 0, 4), 'ARP for the on-link VTEP');
  session.finish();
});

test(
  'PMTU: 1450 bytes fit a 1500 uplink over IPv4, 1451 get frag needed 1450; ' + 'IPv6 underlay: packet too big 1430',
  () => {
    assert.equal(session.receive('udp4-1450-df-to-pod-b').outcome, 'forwarded');
    session.finish();
    const big = session.receive('udp4-1451-df-to-pod-b');
    assert.equal(big.outcome, 'dropTooBig');
    const o = big.gen[0].off;
    assert.equal(big.gen[0].port, EP1);
    assert.equal(big.b[o + 34], 3);
    assert.equal(big.b[o + 35], 4);
    assert.equal(g16(big.b, o + 40), 1450);
    session.finish();
    const nodf = session.receive('udp4-1451-nodf-to-pod-b');
    assert.equal(nodf.outcome, 'fragmented');
    assert.equal(nodf.r.delta[C.fragmentsSent], 2);
    assert.equal(nodf.r.delta[C.vxlanEncapsulated], 2);
    // Inner fragments of 20 + 1424 and 20 + 7 bytes, each in 50 bytes of encapsulation, to VTEP B.
    assert.deepEqual(
      nodf.r.tx.map((t) => [t.port, t.len]),
      [
        [UP, 14 + 1444 + 50],
        [UP, 14 + 27 + 50],
      ],
    );
    for (const t of nodf.r.tx) {
      assert.ok(equalBytes(nodf.b, t.off, VTEP_B_MAC, 0, 6) && equalBytes(nodf.b, t.off + 30, VTEP_B4, 0, 4));
    }
    assert.equal(g16(nodf.b, nodf.r.tx[0].off + 34), g16(nodf.b, nodf.r.tx[1].off + 34), 'one outer source port');
    assert.deepEqual(
      nodf.r.tx.map((t) => g16(nodf.b, t.off + 50 + 20)),
      [0x2000, 178],
    );
    session.finish();
    const p6 = session.receive('udp6-1431-to-pod-c');
    assert.equal(p6.outcome, 'dropTooBig');
    assert.equal(p6.b[p6.gen[0].off + 54], 2);
    assert.equal(g32(p6.b, p6.gen[0].off + 58), 1430);
    session.finish();
  },
);

after(() => session.logSummary('VXLAN out'));
