// Router examples over IPv4, each frame of the corpus on its own and checked by the oracle,
// then for its exact outcome: ARP, echo, forwarding to a learned neighbour, parking behind an
// ARP request (sent when the reply comes, dropped when none does, re-solicited once a round),
// TTL 1, and the routes that drop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  C,
  EP1,
  EP1_4,
  EP1_MAC,
  EP2,
  EP2_4,
  EP2_MAC,
  GW4,
  NH_MAC,
  PORT_MACS,
  UP,
  UP_4,
  csum,
  equalBytes,
} from '../harness.js';
import { ipv4Check, IPV4_OK } from '../../../src/wire/ipv4.js';
import { BASES } from './frames/corpus.js';
import { checkReceive } from './oracle/receive.js';
import { checkTick } from './oracle/tick.js';
import { g16 } from './reading/frame.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());
const h = session.h;

test('ARP request for the gateway: consumed, ARP reply on the same port', () => {
  for (const [name, port, addr] of [
    ['arp-request-gw', EP1, GW4],
    ['arp-request-uplink', UP, UP_4],
  ] as const) {
    const { r, outcome, gen, b } = session.receive(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.arpReplied], 1);
    assert.equal(gen.length, 1);
    const o = gen[0].off;
    assert.equal(gen[0].port, port);
    assert.equal(g16(b, o + 20), 2);
    assert.ok(equalBytes(b, o + 22, PORT_MACS[port], 0, 6) && equalBytes(b, o + 28, addr, 0, 4));
    session.finish();
  }
});

test('ARP reply for the gateway: consumed, neighbour learned', () => {
  const { outcome, r } = session.receive('arp-reply-ep2');
  assert.equal(outcome, 'consumed');
  assert.equal(r.delta[C.neighbourLearned], 1);
  assert.deepEqual(h.neighbour(EP2, 4, EP2_4), EP2_MAC);
  assert.equal(r.tx.length, 0);
  session.finish();
});

test('IPv4 echo to the router: consumed, reply with a valid checksum', () => {
  for (const [name, port, addr] of [
    ['echo4-gw', EP1, GW4],
    ['echo4-uplink-addr', UP, UP_4],
  ] as const) {
    const { r, outcome, b } = session.receive(name);
    assert.equal(outcome, 'consumed', name);
    assert.equal(r.delta[C.echoReplied], 1);
    assert.equal(r.tx.length, 1);
    const t = r.tx[0];
    assert.equal(t.off, r.rxOff);
    assert.equal(t.port, port);
    assert.equal(t.len, r.input.length);
    assert.equal(b[t.off + 34], 0, 'echo reply type');
    assert.equal(csum(b, t.off + 34, t.len - 34), 0, 'ICMP checksum');
    assert.equal(csum(b, t.off + 14, 20), 0, 'IPv4 header checksum');
    assert.ok(equalBytes(b, t.off + 26, addr, 0, 4), 'reply source');
    assert.ok(equalBytes(b, t.off, r.input, 6, 6), 'reply destination MAC');
    session.finish();
  }
});

test('IPv4 to a learned neighbour: forwarded with its MAC and TTL - 1', () => {
  for (const [name, port, m] of [
    ['echo4-ep2-to-ep1', EP1, EP1_MAC],
    ['udp4-ep2-to-ep1', EP1, EP1_MAC],
    ['tcp4-ep1-to-out', UP, NH_MAC],
    ['tcp4-out-to-ep1', EP1, EP1_MAC],
    ['udp4-options', UP, NH_MAC],
    ['udp4-frag-first', UP, NH_MAC],
    ['udp4-frag-later', UP, NH_MAC],
  ] as const) {
    const { r, outcome, b } = session.receive(name);
    assert.equal(outcome, 'forwarded', name);
    assert.equal(r.tx.length, 1, name);
    const t = r.tx[0];
    assert.equal(t.port, port, name);
    assert.ok(equalBytes(b, t.off, m, 0, 6), `${name}: dst MAC`);
    assert.equal(b[t.off + 22], r.input[22] - 1, `${name}: TTL`);
    assert.equal(ipv4Check(b, t.off + 14, t.len - 14), IPV4_OK, name);
    session.finish();
  }
});

test('IPv4 to an unknown neighbour: parked, one ARP request', () => {
  for (const name of ['echo4-ep1-to-ep2', 'udp4-ep1-to-ep2']) {
    const { r, outcome, gen, b } = session.receive(name);
    assert.equal(outcome, 'pendingQueued', name);
    assert.equal(r.delta[C.neighbourRequests], 1);
    assert.equal(gen.length, 1);
    assert.equal(gen[0].port, EP2);
    assert.equal(g16(b, gen[0].off + 12), 0x0806);
    assert.ok(equalBytes(b, gen[0].off + 38, EP2_4, 0, 4), 'ARP target');
    assert.equal(h.dp.pending.count, 1);
    session.finish();
  }
});

test('parked frame is sent once the ARP reply arrives, and dropped when nobody answers', () => {
  h.reset();
  const hist: string[] = [];
  const base = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!;
  let step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ h, step, history: hist }), 'pendingQueued');
  h.resetTx();
  // A second frame for the same neighbour waits without a new solicitation.
  step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ h, step, history: hist }), 'pendingQueued');
  assert.equal(step.delta[C.neighbourRequests], 0);
  h.resetTx();
  step = h.inject(BASES.find((x) => x.name === 'arp-reply-ep2')!.frame, EP2);
  assert.equal(checkReceive({ h, step, history: hist }), 'consumed');
  h.resetTx();
  step = h.tick(1);
  checkTick({ h, step, history: hist });
  assert.equal(step.delta[C.pendingSent], 2);
  for (const t of step.tx) assert.ok(equalBytes(h.dp.arena.bytes, t.off, EP2_MAC, 0, 6));
  h.repatternReleased(step.released);
  session.finish();
  // Nobody answers: dropped after PENDING_TIMEOUT_MS.
  h.reset();
  step = h.inject(base.frame, EP1);
  assert.equal(checkReceive({ h, step, history: hist }), 'pendingQueued');
  h.resetTx();
  step = h.tick(1500);
  checkTick({ h, step, history: hist });
  assert.equal(step.released.length, 0);
  h.resetTx();
  step = h.tick(1600);
  checkTick({ h, step, history: hist });
  assert.equal(step.delta[C.dropPendingTimeout], 1);
  h.repatternReleased(step.released);
  session.finish();
});

test('IPv4 TTL 1: dropTtlExceeded and an ICMP time exceeded', () => {
  const { r, outcome, gen, b } = session.receive('udp4-ttl1');
  assert.equal(outcome, 'dropTtlExceeded');
  assert.equal(r.delta[C.icmpErrorsSent], 1);
  assert.equal(gen.length, 1);
  const o = gen[0].off;
  assert.equal(gen[0].port, EP1);
  assert.equal(b[o + 34], 11);
  assert.equal(b[o + 35], 0);
  assert.ok(equalBytes(b, o + 26, GW4, 0, 4) && equalBytes(b, o + 30, EP1_4, 0, 4));
  assert.equal(csum(b, o + 34, gen[0].len - 34), 0);
  session.finish();
  // ... but never about an ICMP error.
  const e = session.receive('icmp4-error-ttl1');
  assert.equal(e.outcome, 'dropTtlExceeded');
  assert.equal(e.r.tx.length, 0);
  session.finish();
});

test('IPv4 fragment to the router, blackhole and unreachable routes', () => {
  assert.equal(session.receive('echo4-frag-to-gw').outcome, 'dropLocalUnhandled');
  session.finish();
  const bh = session.receive('udp4-blackhole');
  assert.equal(bh.outcome, 'dropBlackhole');
  assert.equal(bh.r.tx.length, 0);
  session.finish();
  const un = session.receive('udp4-unreachable');
  assert.equal(un.outcome, 'dropNoRoute');
  assert.equal(un.gen.length, 1);
  assert.equal(un.b[un.gen[0].off + 34], 3);
  assert.equal(un.b[un.gen[0].off + 35], 1);
  session.finish();
});

test('servicePending solicits each waiting neighbour once per round', () => {
  h.reset();
  const hist: string[] = [];
  const f = BASES.find((x) => x.name === 'udp4-ep1-to-ep2')!.frame;
  for (let i = 0; i < 10; i++) {
    const step = h.inject(f, EP1);
    assert.equal(checkReceive({ h, step, history: hist }), 'pendingQueued');
    assert.equal(step.delta[C.neighbourRequests], i === 0 ? 1 : 0, 'parkFrame solicits once');
    h.resetTx();
  }
  const step = h.tick(1500);
  checkTick({ h, step, history: hist });
  const requests = step.delta[C.neighbourRequests];
  h.resetTx();
  session.finish();
  assert.equal(requests, 1, `${requests} ARP requests for 198.19.1.20 in one re-solicit round`);
});

after(() => session.logSummary('router IPv4 examples'));
