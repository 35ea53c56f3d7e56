// The router's ICMP errors: time exceeded for TTL / hop limit 1 from the gateway address,
// fragmentation needed (IPv4) and packet too big (IPv6) carrying the egress port's MTU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology, twoEndpoints } from './harness.js';

test('TTL 1 gets time exceeded; oversize DF gets frag-needed / packet-too-big with the MTU', {
  timeout: 60000,
}, async () => {
  await withTopology('icmp', async (t) => {
    const { ep1, agent } = await twoEndpoints(t, { mtu2: 1400 });

    const ttl4 = t.run(ep1, ['ping', '-c', '1', '-W', '2', '-t', '1', '198.19.1.20']);
    assert.match(ttl4.stdout, /From 198\.19\.1\.1 .*Time to live exceeded/);
    const ttl6 = t.run(ep1, ['ping', '-6', '-c', '1', '-W', '2', '-t', '1', '2001:db8:19:1::20']);
    assert.match(ttl6.stdout, /From 2001:db8:19:1::1 .*Time exceeded: Hop limit/);

    const big4 = t.run(ep1, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1450', '198.19.1.20']);
    assert.match(big4.stdout, /From 198\.19\.1\.1 .*Frag needed and DF set \(mtu = 1400\)/);
    const big6 = t.run(ep1, ['ping', '-6', '-c', '1', '-W', '2', '-M', 'do', '-s', '1450', '2001:db8:19:1::20']);
    assert.match(big6.stdout, /From 2001:db8:19:1::1 .*Packet too big: mtu=1400/);

    // A datagram that fits goes through at the new path MTU.
    assert.match(t.must(ep1, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1372', '198.19.1.20']), /1 received/);
    assert.match(
      t.must(ep1, ['ping', '-6', '-c', '1', '-W', '2', '-M', 'do', '-s', '1352', '2001:db8:19:1::20']),
      /1 received/,
    );

    const s = await agent.status();
    const drops = (name: string): number => s.workers.reduce((a, w) => a + (w.dropReasons[name] ?? 0), 0);
    assert.equal(drops('dropTtlExceeded'), 2);
    assert.equal(drops('dropTooBig'), 2);
  });
});
