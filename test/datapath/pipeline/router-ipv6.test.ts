// Router examples over IPv6: echo to the gateway and to the link-local address, NS answered
// with an NA (DAD included), NA learned, forwarding (parked behind an NS when the neighbour is
// unknown), hop limit 1, too big, routes that drop, too many extension headers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  EP1,
  EP1_6,
  EP1_MAC,
  EP2,
  EP2_6,
  EP2_MAC,
  GW6,
  NH_6,
  NH_MAC,
  PORT_LL,
  UP,
  equalBytes,
  ip,
} from '../harness.js';
import { g32, icmp6Ok } from './reading/frame.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('IPv6 echo to the gateway and to the port link-local address: consumed, valid reply', () => {
  for (const name of ['echo6-gw', 'echo6-ll']) {
    const { r, outcome, b } = session.receive(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.echoReplied], 1);
    const t = r.tx[0];
    assert.equal(t.off, r.rxOff);
    assert.equal(t.port, EP1);
    assert.equal(b[t.off + 54], 129);
    assert.ok(icmp6Ok(b, t.off + 14, t.off + 54, t.len - 54), `${name}: checksum`);
    session.finish();
  }
});

test('NS for the gateway: consumed, NA with the gateway as target', () => {
  for (const [name, port, target, solicited] of [
    ['ns-gw', EP1, GW6, true],
    ['ns-gw-unicast', EP1, GW6, true],
    ['ns-dad-gw', EP2, GW6, false],
    ['ns-uplink-ll', UP, PORT_LL[UP], true],
  ] as const) {
    const { r, outcome, gen, b } = session.receive(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.ndpReplied], 1, name);
    assert.equal(gen.length, 1);
    const o = gen[0].off;
    assert.equal(gen[0].port, port);
    assert.equal(b[o + 54], 136);
    assert.ok(equalBytes(b, o + 62, target, 0, 16), `${name}: target`);
    assert.equal((b[o + 58] & 0x40) !== 0, solicited, `${name}: S flag`);
    assert.ok(icmp6Ok(b, o + 14, o + 54, gen[0].len - 54), `${name}: checksum`);
    if (!solicited) assert.ok(equalBytes(b, o + 38, ip('ff02::1'), 0, 16), 'DAD answer goes to all-nodes');
    if (name === 'ns-gw') assert.deepEqual(h.neighbour(EP1, 6, EP1_6), EP1_MAC);
    session.finish();
  }
});

test('NA: consumed, neighbour learned', () => {
  const { outcome } = session.receive('na-ep2');
  assert.equal(outcome, 'consumed');
  assert.deepEqual(h.neighbour(EP2, 6, EP2_6), EP2_MAC);
  session.finish();
  assert.equal(session.receive('na-uplink-gw').outcome, 'consumed');
  assert.deepEqual(h.neighbour(UP, 6, NH_6), NH_MAC);
  session.finish();
});

test('IPv6 forwarding: learned neighbour → forwarded, unknown → parked + NS', () => {
  for (const [name, port] of [
    ['udp6-ext-to-ep1', EP1],
    ['udp6-ep2-to-ep1', EP1],
    ['tcp6-out-to-ep1', EP1],
    ['udp6-8-ext-to-ep1', EP1],
  ] as const) {
    const { r, outcome, b } = session.receive(name);
    assert.equal(outcome, 'forwarded', name);
    const t = r.tx[0];
    assert.equal(t.port, port);
    assert.ok(equalBytes(b, t.off, EP1_MAC, 0, 6));
    assert.equal(b[t.off + 21], 63);
    session.finish();
  }
  for (const [name, port, nh] of [
    ['udp6-ext-to-out', UP, NH_6],
    ['echo6-ep1-to-ep2', EP2, EP2_6],
    ['udp6-frag-later', UP, NH_6],
  ] as const) {
    const { outcome, gen, b } = session.receive(name);
    assert.equal(outcome, 'pendingQueued', name);
    assert.equal(gen.length, 1);
    assert.equal(gen[0].port, port);
    assert.equal(b[gen[0].off + 54], 135);
    assert.ok(equalBytes(b, gen[0].off + 62, nh, 0, 16), `${name}: NS target`);
    session.finish();
  }
});

test('IPv6 hop limit 1, too big, blackhole, unreachable', () => {
  const t = session.receive('udp6-hop1');
  assert.equal(t.outcome, 'dropTtlExceeded');
  assert.equal(t.b[t.gen[0].off + 54], 3);
  assert.ok(icmp6Ok(t.b, t.gen[0].off + 14, t.gen[0].off + 54, t.gen[0].len - 54));
  assert.ok(equalBytes(t.b, t.gen[0].off + 22, GW6, 0, 16), 'error from the gateway address');
  session.finish();
  const p = session.receive('udp6-big-to-ep2');
  assert.equal(p.outcome, 'dropTooBig');
  assert.equal(p.b[p.gen[0].off + 54], 2);
  assert.equal(g32(p.b, p.gen[0].off + 58), 1400);
  assert.ok(icmp6Ok(p.b, p.gen[0].off + 14, p.gen[0].off + 54, p.gen[0].len - 54));
  assert.ok(p.gen[0].len - 14 <= 1280, 'PTB fits the IPv6 minimum MTU');
  session.finish();
  assert.equal(session.receive('udp6-blackhole').outcome, 'dropBlackhole');
  session.finish();
  const u = session.receive('udp6-unreachable');
  assert.equal(u.outcome, 'dropNoRoute');
  assert.equal(u.b[u.gen[0].off + 54], 1);
  session.finish();
});

test('IPv6 with 9 extension headers: dropIpv6TooManyExtHeaders', () => {
  assert.equal(session.receive('udp6-9-ext-to-ep1').outcome, 'dropIpv6TooManyExtHeaders');
  session.finish();
});

after(() => session.logSummary('router IPv6 examples'));
