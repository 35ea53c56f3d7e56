// Two endpoints behind one agent: ping both ways on both families, TCP and UDP with
// iperf3, and tcpdump inside an endpoint namespace sees the frames on its TAP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology, twoEndpoints, sleep } from './harness.js';

test('endpoints reach each other through the router (ping, iperf3, tcpdump)', { timeout: 90000 }, async () => {
  await withTopology('fwd', async (t) => {
    const { ep1, ep2, agent } = await twoEndpoints(t);
    const cap = t.spawn(ep2, ['tcpdump', '-n', '-l', '-i', 'eth0', '-c', '4', 'icmp and host 198.19.1.10']);
    await sleep(1000);
    for (const [from, to] of [
      [ep1, '198.19.1.20'],
      [ep2, '198.19.1.10'],
      [ep1, '2001:db8:19:1::20'],
      [ep2, '2001:db8:19:1::10'],
    ]) {
      const out = t.must(from, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], 20000);
      assert.match(out, /3 packets transmitted, 3 received/, `ping ${to} from ${from}`);
    }
    // The TTL seen by the receiver proves the packets were routed (one hop), not bridged.
    assert.match(t.must(ep1, ['ping', '-c', '1', '-W', '2', '198.19.1.20']), /ttl=63/);
    assert.match(t.must(ep1, ['ping', '-c', '1', '-W', '2', '2001:db8:19:1::20']), /ttl=63/);

    for (let i = 0; i < 50 && !/4 packets captured/.test(cap.output()); i++) await sleep(100);
    assert.match(cap.output(), /198\.19\.1\.10 > 198\.19\.1\.20: ICMP echo request/, 'tcpdump in ep2 saw the requests');
    assert.match(cap.output(), /4 packets captured/);

    t.spawn(ep2, ['iperf3', '-s', '-1']);
    await sleep(500);
    const tcp = JSON.parse(t.must(ep1, ['iperf3', '-c', '198.19.1.20', '-t', '2', '-J'], 30000)) as {
      end: { sum_received: { bytes: number } };
    };
    assert.ok(tcp.end.sum_received.bytes > 1_000_000, `TCP moved ${tcp.end.sum_received.bytes} bytes`);

    t.spawn(ep2, ['iperf3', '-s', '-1']);
    await sleep(500);
    const udp = JSON.parse(
      t.must(ep1, ['iperf3', '-c', '2001:db8:19:1::20', '-u', '-b', '20M', '-t', '2', '-J'], 30000),
    ) as { end: { sum: { packets: number; lost_packets: number } } };
    assert.ok(udp.end.sum.packets > 1000, 'UDP datagrams were sent');
    assert.ok(
      udp.end.sum.lost_packets / udp.end.sum.packets < 0.01,
      `UDP loss ${udp.end.sum.lost_packets}/${udp.end.sum.packets} at 20 Mbit/s`,
    );

    const s = await agent.status();
    assert.equal(s.health, 'ok');
    assert.ok(s.totals.forwarded > 1000);
  });
});
