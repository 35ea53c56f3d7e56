// The corpus itself: every hand-built frame is valid by construction, and every tunnel frame
// ends in the outcome it was built for (each malformed one in its own drop counter).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { C } from '../harness.js';
import { ipv4Check, IPV4_OK } from '../../../src/wire/ipv4.js';
import { BASES } from './frames/corpus.js';
import { g16 } from './reading/frame.js';
import { recordingHarness } from './run/recording.js';
import { Session } from './run/session.js';

const session = new Session(recordingHarness());

test('every hand-built frame is valid by construction', () => {
  for (const base of BASES) {
    const f = base.frame;
    if (g16(f, 12) === 0x0800) assert.equal(ipv4Check(f, 14, f.length - 14), IPV4_OK, base.name);
    if (g16(f, 12) === 0x86dd) assert.equal(54 + g16(f, 18), f.length, base.name);
  }
});

/** Each tunnel frame of the corpus and its outcome. */
const VX_EXPECT: [string, string][] = [
  ['udp4-ep1-to-pod-b', 'forwarded'],
  ['tcp6-ep1-to-pod-b', 'forwarded'],
  ['udp4-ep1-to-pod-c', 'pendingQueued'],
  ['echo6-ep1-to-pod-c', 'pendingQueued'],
  ['udp4-ep2-to-pod-d', 'forwarded'],
  ['udp4-ep1-to-pod-e', 'pendingQueued'],
  ['udp4-1450-df-to-pod-b', 'forwarded'],
  ['udp4-1451-df-to-pod-b', 'dropTooBig'],
  ['udp4-1451-nodf-to-pod-b', 'fragmented'],
  ['udp4-1500-opts-nodf-to-pod-c', 'fragmented'],
  ['vx4-udp4-big-b-to-ep2', 'fragmented'],
  ['vx4-udp4-big-df-b-to-ep2', 'dropTooBig'],
  ['vx4-udp4-big-b-to-pod-c', 'fragmented'],
  ['udp6-1431-to-pod-c', 'dropTooBig'],
  ['udp4-ttl1-to-pod-b', 'dropTtlExceeded'],
  ['vx4-udp4-b-to-ep1', 'forwarded'],
  ['vx4-udp6-b-to-ep1', 'forwarded'],
  ['vx4-echo-b-to-gw', 'consumed'],
  ['vx4-arp-b-gw', 'consumed'],
  ['vx4-ns-b-gw6', 'consumed'],
  ['vx4-udp4-b-ttl1', 'dropTtlExceeded'],
  ['vx4-udp4-b-to-ep2', 'pendingQueued'],
  ['vx4-udp4-b-to-pod-d', 'forwarded'],
  ['vx4-udp4-b-unreachable', 'dropNoRoute'],
  ['vx4-udp4-b-csum-to-ep1', 'forwarded'],
  ['vx4-udp4-b-to-gw-addr', 'forwarded'],
  ['vx6-udp4-c-to-ep1', 'forwarded'],
  ['vx6-echo6-c-to-gw', 'consumed'],
  ['vx4-bad-vni', 'dropVxlanBadVni'],
  ['vx4-no-i-flag', 'dropVxlanBadFlags'],
  ['vx4-inner-mac', 'dropVxlanInnerMac'],
  ['vx4-inner-group-src', 'dropVxlanInnerMac'],
  ['vx4-inner-lldp', 'dropVxlanInnerEthertype'],
  ['vx4-inner-short', 'dropVxlanMalformed'],
  ['vx4-udp-len', 'dropVxlanMalformed'],
  ['vx4-bad-csum', 'dropVxlanBadChecksum'],
  ['vx6-zero-csum', 'dropVxlanBadChecksum'],
  ['vx4-on-endpoint', 'dropLocalUnhandled'],
  ['vx4-port-4789', 'dropLocalUnhandled'],
  ['vx4-nested', 'dropLocalUnhandled'],
];

test('every tunnel frame of the corpus ends in its outcome (and every malformed one in its drop counter)', () => {
  const names = BASES.filter((x) => x.name.startsWith('vx') || x.name.includes('-pod-')).map((x) => x.name);
  assert.deepEqual([...names].sort(), VX_EXPECT.map(([n]) => n).sort(), 'VX_EXPECT covers the tunnel bases');
  const wrong: string[] = [];
  for (const [name, expected] of VX_EXPECT) {
    const { outcome, r } = session.receive(name);
    if (outcome !== expected) wrong.push(`${name}: ${outcome}, expected ${expected}`);
    // Decapsulated unless the VXLAN checks drop it or it is not for the VXLAN endpoint at all.
    const forVxlan = name !== 'vx4-on-endpoint' && name !== 'vx4-port-4789';
    const decap = name.startsWith('vx') && !expected.startsWith('dropVxlan') && forVxlan ? 1 : 0;
    if (r.delta[C.vxlanDecapsulated] !== decap) {
      wrong.push(`${name}: vxlanDecapsulated ${r.delta[C.vxlanDecapsulated]}, expected ${decap}`);
    }
    session.finish();
  }
  assert.deepEqual(wrong, []);
});

after(() => session.logSummary('corpus'));
