// The NAT decision per leaving packet: egress policy (redirect / SNAT here / drop without a
// gateway), masquerade to the node address, nothing for cluster destinations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatSettings, NAT_DECIDE_NAMES } from '../../src/nat/masquerade.js';
import {
  EGRESS_VALUE_WORDS,
  EV_FLAGS,
  EV_EGRESS_IP,
  EV_GATEWAY,
  EGRESS_LOCAL,
  EGRESS_NO_GATEWAY,
} from '../../src/nat/egress-table.js';
import { ip } from './flows.js';
import { bytesWords } from './helpers.js';

const CONFIG = {
  enabled: true,
  nodeIPv4: '198.18.0.1',
  nodeIPv6: '2001:db8::1',
  nonMasqueradeCIDRs: ['198.19.0.0/16', '2001:db8:19::/48', '198.18.0.0/24'],
};

function decide(
  s: NatSettings,
  dst: string,
  fromEndpoint: boolean,
  egress: Int32Array | null,
): { verdict: string; out: Int32Array } {
  const d = ip(dst),
    out = new Int32Array(4);
  const v = s.decide(
    d.length === 4 ? 4 : 6,
    d,
    0,
    fromEndpoint,
    egress ? 24 : -1,
    egress ?? new Int32Array(EGRESS_VALUE_WORDS),
    out,
  );
  return { verdict: NAT_DECIDE_NAMES[v]!, out };
}

function egressValue(flags: number): Int32Array {
  const v = new Int32Array(EGRESS_VALUE_WORDS);
  v[EV_FLAGS] = flags;
  v.set(bytesWords(ip('198.18.0.200')), EV_EGRESS_IP);
  v.set(bytesWords(ip('198.18.0.3')), EV_GATEWAY);
  return v;
}

test('masquerade to the node address, per family, only for local endpoints and outside destinations', () => {
  const s = NatSettings.create();
  s.configure(CONFIG);
  const w = NatSettings.attach(s.sab);
  let r = decide(w, '198.18.200.10', true, null);
  assert.equal(r.verdict, 'masquerade');
  assert.deepEqual([...r.out], [...bytesWords(ip('198.18.0.1'))]);
  r = decide(w, '2001:db8:200::10', true, null);
  assert.equal(r.verdict, 'masquerade');
  assert.deepEqual([...r.out], [...bytesWords(ip('2001:db8::1'))]);
  assert.equal(decide(w, '198.19.7.7', true, null).verdict, 'none', 'pod CIDR');
  assert.equal(decide(w, '198.18.0.3', true, null).verdict, 'none', 'a node address');
  assert.equal(decide(w, '2001:db8:19:5::1', true, null).verdict, 'none');
  assert.equal(decide(w, '198.18.200.10', false, null).verdict, 'none', 'not from a local endpoint');
  s.configure({ ...CONFIG, enabled: false });
  assert.equal(decide(w, '198.18.200.10', true, null).verdict, 'none', 'masquerade off');
  s.configure({ ...CONFIG, nodeIPv6: undefined });
  assert.equal(decide(w, '198.18.200.10', true, null).verdict, 'masquerade');
  assert.equal(decide(w, '2001:db8:200::10', true, null).verdict, 'none', 'no IPv6 node address');
});

test(
  'egress policy first: redirect to the gateway, SNAT on the gateway, drop without one; never for cluster ' +
    'destinations',
  () => {
    const s = NatSettings.create();
    s.configure(CONFIG);
    let r = decide(s, '198.18.200.10', true, egressValue(0));
    assert.equal(r.verdict, 'redirect');
    assert.deepEqual([...r.out], [...bytesWords(ip('198.18.0.3'))]);
    r = decide(s, '198.18.200.10', false, egressValue(EGRESS_LOCAL));
    assert.equal(r.verdict, 'snatEgress', 'redirected traffic arriving at the gateway');
    assert.deepEqual([...r.out], [...bytesWords(ip('198.18.0.200'))]);
    assert.equal(decide(s, '198.18.200.10', true, egressValue(EGRESS_NO_GATEWAY)).verdict, 'dropNoGateway');
    assert.equal(
      decide(s, '198.19.1.1', true, egressValue(0)).verdict,
      'none',
      'a policy CIDR covering the cluster does not redirect cluster traffic',
    );
  },
);

test('configuration errors name the field; nothing changes then', () => {
  const s = NatSettings.create();
  s.configure(CONFIG);
  assert.throws(() => s.configure({ ...CONFIG, nodeIPv4: '2001:db8::1' }), {
    message: 'masquerade.nodeIPv4: "2001:db8::1" is not an IPv4 address',
  });
  assert.throws(
    () => s.configure({ ...CONFIG, nonMasqueradeCIDRs: ['198.19.0.1/16'] }),
    /masquerade\.nonMasqueradeCIDRs\[0\]: "198\.19\.0\.1\/16" has host bits set/,
  );
  assert.throws(
    () => s.configure({ ...CONFIG, nonMasqueradeCIDRs: Array.from({ length: 9 }, (_, i) => `198.18.${i}.0/24`) }),
    /nonMasqueradeCIDRs\[8\]: more than 8 IPv4 CIDRs/,
  );
  assert.equal(decide(s, '198.18.200.10', true, null).verdict, 'masquerade');
  assert.equal(decide(s, '198.19.1.1', true, null).verdict, 'none');
});
