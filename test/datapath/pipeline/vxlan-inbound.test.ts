// VXLAN examples, in from the tunnel: decapsulated and routed in place; echo, ARP, NS and
// ICMP errors answered back through the tunnel; frames a Linux vxlan device sent; and the
// shared settings that switch VXLAN off or change its VNI and port for the workers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  EP1,
  EP1_MAC,
  GW4,
  GW6,
  LINUX_VX_MAC,
  POD_B4,
  PORT_MACS,
  TUNNEL_PORT,
  UP,
  UP_4,
  UP_6,
  VTEP_B4,
  VTEP_B_MAC,
  VTEP_C6,
  VTEP_MAC,
  VX_PORT,
  VX_VNI,
  equalBytes,
  hex,
} from '../harness.js';
import { BASES } from './frames/corpus.js';
import { LINUX_VX_4, LINUX_VX_LL } from './frames/tunnel-bases.js';
import { g16 } from './reading/frame.js';
import { outer4 } from './reading/vxlan.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('from a remote node: decapsulated, routed to the endpoint with TTL - 1, in place', () => {
  const { r, outcome, b } = session.receive('vx4-udp4-b-to-ep1');
  assert.equal(outcome, 'forwarded');
  assert.equal(r.delta[C.vxlanDecapsulated], 1);
  const t = r.tx[0];
  assert.equal(t.port, EP1);
  assert.equal(t.off, r.rxOff + 50, 'the inner frame where it was received');
  assert.equal(t.len, r.input.length - 50);
  assert.ok(equalBytes(b, t.off, EP1_MAC, 0, 6) && equalBytes(b, t.off + 6, PORT_MACS[EP1], 0, 6));
  assert.equal(b[t.off + 22], 63);
  session.finish();
  const v6u = session.receive('vx6-udp4-c-to-ep1');
  assert.equal(v6u.outcome, 'forwarded');
  assert.equal(v6u.r.tx[0].off, v6u.r.rxOff + 70);
  session.finish();
});

test(
  'answers through the tunnel: echo, ARP and NS for our addresses, ICMP errors, ' +
    'go back encapsulated to the sender',
  () => {
    const echo = session.receive('vx4-echo-b-to-gw');
    assert.equal(echo.outcome, 'consumed');
    let t = echo.r.tx[0];
    assert.equal(t.port, UP);
    assert.equal(t.off, echo.r.rxOff, 'the reply is encapsulated where the request was');
    const e = outer4(echo.b, t.off);
    assert.deepEqual(
      [e.dstMac, e.src, e.dst, e.dport, e.vx],
      [hex(VTEP_B_MAC), hex(UP_4), hex(VTEP_B4), 8472, '0800000000000200'],
    );
    assert.equal(echo.b[t.off + 50 + 34], 0, 'inner echo reply');
    assert.ok(equalBytes(echo.b, t.off + 50, LINUX_VX_MAC, 0, 6) && equalBytes(echo.b, t.off + 56, VTEP_MAC, 0, 6));
    session.finish();
    const a = session.receive('vx4-arp-b-gw');
    assert.equal(a.outcome, 'consumed');
    assert.equal(a.r.delta[C.arpReplied], 1);
    t = a.r.tx[0];
    const i = t.off + 50;
    assert.equal(g16(a.b, i + 12), 0x0806);
    assert.equal(g16(a.b, i + 20), 2);
    assert.ok(
      equalBytes(a.b, i + 22, VTEP_MAC, 0, 6) && equalBytes(a.b, i + 28, GW4, 0, 4),
      'our gateway is at our VXLAN MAC',
    );
    assert.ok(equalBytes(a.b, i + 38, LINUX_VX_4, 0, 4));
    assert.equal(h.neighbour(TUNNEL_PORT, 4, LINUX_VX_4), null, 'nothing learned from inside the tunnel');
    session.finish();
    const n = session.receive('vx4-ns-b-gw6');
    assert.equal(n.outcome, 'consumed');
    assert.equal(n.r.delta[C.ndpReplied], 1);
    const ni = n.r.tx[0].off + 50;
    assert.equal(n.b[ni + 54], 136);
    assert.ok(equalBytes(n.b, ni + 62, GW6, 0, 16) && equalBytes(n.b, ni + 80, VTEP_MAC, 0, 6));
    assert.ok(equalBytes(n.b, ni + 38, LINUX_VX_LL, 0, 16), 'NA to the soliciting address');
    session.finish();
    const ttl = session.receive('vx4-udp4-b-ttl1');
    assert.equal(ttl.outcome, 'dropTtlExceeded');
    const ti = ttl.r.tx[0].off + 50;
    assert.equal(ttl.b[ti + 34], 11);
    assert.ok(
      equalBytes(ttl.b, ti + 26, GW4, 0, 4) && equalBytes(ttl.b, ti + 30, POD_B4, 0, 4),
      'from the gateway address to the remote pod',
    );
    session.finish();
    const e6 = session.receive('vx6-echo6-c-to-gw');
    assert.equal(e6.outcome, 'consumed');
    const o6 = e6.r.tx[0].off;
    assert.equal(g16(e6.b, o6 + 12), 0x86dd);
    assert.ok(equalBytes(e6.b, o6 + 22, UP_6, 0, 16) && equalBytes(e6.b, o6 + 38, VTEP_C6, 0, 16));
    assert.notEqual(g16(e6.b, o6 + 60), 0, 'UDP checksum over IPv6');
    session.finish();
  },
);

test(
  'frames captured from a Linux vxlan device: ARP/NS for the gateway answered through the tunnel, ' +
    'echo replies delivered',
  () => {
    const expect: Record<string, string> = {
      'arp-request': 'consumed',
      ns: 'consumed',
      'echo-reply': 'forwarded',
      'echo6-reply': 'forwarded',
      'mld-report': 'dropMulticastIgnored',
    };
    const linux = BASES.filter((x) => x.name.startsWith('linux-'));
    assert.equal(linux.length, 10);
    const wrong: string[] = [];
    for (const base of linux) {
      const kind = base.name.replace(/^linux-v[46]-/, '');
      const { r, outcome, b } = session.receive(base.name);
      if (outcome !== expect[kind]) wrong.push(`${base.name}: ${outcome}, expected ${expect[kind]}`);
      if (r.delta[C.vxlanDecapsulated] !== 1) wrong.push(`${base.name}: not decapsulated`);
      if (outcome === 'forwarded' && (r.tx[0].port !== EP1 || !equalBytes(b, r.tx[0].off, EP1_MAC, 0, 6))) {
        wrong.push(`${base.name}: not delivered to the endpoint`);
      }
      if (outcome === 'consumed' && (r.tx.length !== 1 || r.tx[0].port !== UP || r.delta[C.vxlanEncapsulated] !== 1)) {
        wrong.push(`${base.name}: no answer through the tunnel`);
      }
      session.finish();
    }
    assert.deepEqual(wrong, []);
  },
);

test('the shared settings switch VXLAN off and change the VNI for the workers', () => {
  try {
    h.settings.setVxlan(false, VX_VNI, VX_PORT);
    assert.equal(session.receive('udp4-ep1-to-pod-b').outcome, 'dropVxlanDisabled');
    session.finish();
    assert.equal(session.receive('vx4-udp4-b-to-ep1').outcome, 'dropLocalUnhandled');
    session.finish();
    h.settings.setVxlan(true, 3, VX_PORT);
    assert.equal(session.receive('vx4-udp4-b-to-ep1').outcome, 'dropVxlanBadVni');
    session.finish();
    const { r, outcome } = session.receive('vx4-bad-vni');
    assert.equal(outcome, 'forwarded', 'the VNI-3 frame is ours now');
    assert.equal(r.delta[C.vxlanDecapsulated], 1);
    h.resetTx();
    h.settings.setVxlan(true, VX_VNI, 4789);
    const p = session.receive('vx4-port-4789');
    assert.equal(p.outcome, 'forwarded');
    h.resetTx();
  } finally {
    h.settings.setVxlan(true, VX_VNI, VX_PORT);
    session.finish();
  }
});

after(() => session.logSummary('VXLAN in'));
