// Bounded NAT state (issue 6): a gateway with a tiny port range (4 ports, one worker). Four
// connections held open take every port toward the server; a fifth new flow is dropped and
// counted (dropNatPortsExhausted) while the held connections keep working; once they close and
// their short timeouts pass, the sweeper frees the ports and new flows succeed again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT, REPO, sleep } from './harness.js';
import { addEndpoint } from './cluster.js';
import {
  outsideWorld,
  egressNode,
  waitServer,
  policyYaml,
  curlOut,
  curlOutEventually,
  EGRESS4,
  SERVER4,
} from './egress-topology.js';

const CLIENT = join(REPO, 'netns-tests', 'tools', 'egress_client.py');

test('egress gateway port exhaustion: new flows dropped and counted, existing ones work, ports come back after the ' +
  'timeout', {
  timeout: 180000,
}, async () => {
  await withTopology('egx', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const gw = await egressNode(t, 3, store, {
      ownIPs: [EGRESS4],
      portMin: 40000,
      portMax: 40003,
      timeouts: { tcpFinWait: 2, tcpCloseWait: 2, tcpTimeWait: 2, tcpClose: 2, tcpSynSent: 3 },
    });
    const n1 = await egressNode(t, 1, store);
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    await waitServer(t, w);
    const file = join(t.dir, 'web.yaml');
    writeFileSync(file, policyYaml('egress-web', 'web', [EGRESS4], ['198.18.200.0/24']));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', file, '--api', n1.agent.api]);
    const r = await curlOutEventually(t, web1.ns, SERVER4);
    assert.equal(r.body, `outside saw ${EGRESS4}\n`);
    // Let that connection's entry expire so that all four ports are free.
    const stats = async (): Promise<{ connections: number; portsExhausted: number }> =>
      (
        (await gw.agent.status()) as unknown as {
          egress: { conntrack: { connections: number; portsExhausted: number } };
        }
      ).egress.conntrack;
    for (let i = 0; i < 50 && (await stats()).connections > 0; i++) await sleep(200);
    assert.equal((await stats()).connections, 0, 'the first connection was swept');

    const hold = t.spawn(web1.ns, ['python3', CLIENT, 'hold', '4', SERVER4, '80', '6']);
    for (let i = 0; i < 50 && !/open \d/.test(hold.output()); i++) await sleep(100);
    assert.match(hold.output(), /open 4/, hold.output());
    const dropsBefore = (await gw.agent.status()).totals.dropNatPortsExhausted ?? 0;
    const fifth = curlOut(t, web1.ns, SERVER4, 2);
    assert.notEqual(fifth.code, 0, `a fifth flow got a port: ${fifth.body}`);
    const dropsAfter = (await gw.agent.status()).totals.dropNatPortsExhausted ?? 0;
    assert.ok(dropsAfter > dropsBefore, `dropNatPortsExhausted ${dropsBefore} -> ${dropsAfter}`);
    assert.ok((await stats()).portsExhausted > 0);
    // The held connections still work (a request on one of them after the refusal).
    for (let i = 0; i < 100 && !/HTTP\/1\.0 200|get failed/.test(hold.output()); i++) await sleep(100);
    assert.match(hold.output(), /HTTP\/1\.0 200 OK/, hold.output());
    // Closed: FIN states time out after 2 s, the sweeper runs every second.
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      await sleep(250);
      ok = curlOut(t, web1.ns, SERVER4, 1).code === 0;
    }
    assert.ok(ok, 'new flows succeed again once the ports are freed');
  });
});
