// Egress gateway failover (issue 6): the egress IP is owned by a primary gateway and a standby.
// Killing the primary's agent (SIGKILL: no goodbye, its lease just stops being renewed) makes
// the standby take the IP when the lease expires: gratuitous ARP / unsolicited NA move the
// firewall's neighbour entry, every node's egress table points at the standby, and new
// connections from app=web succeed within 2 s of the lease's expiry, still from the egress IP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT, sleep, waitExit } from './harness.js';
import { addEndpoint } from './cluster.js';
import {
  outsideWorld,
  egressNode,
  waitServer,
  policyYaml,
  curlOut,
  curlOutEventually,
  EGRESS4,
  EGRESS6,
  SERVER4,
  SERVER6,
} from './egress-topology.js';

const TTL = 2;

test("egress gateway failover: the standby takes the egress IP within 2 s of the primary's lease expiry", {
  timeout: 180000,
}, async () => {
  await withTopology('egf', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const primary = await egressNode(t, 3, store, { ownIPs: [EGRESS4, EGRESS6] }, { leaseTTL: TTL });
    const standby = await egressNode(t, 4, store, { standbyFor: [EGRESS4, EGRESS6] }, { leaseTTL: TTL });
    const n1 = await egressNode(t, 1, store, {}, { leaseTTL: TTL });
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    await waitServer(t, w);
    const file = join(t.dir, 'web.yaml');
    writeFileSync(file, policyYaml('egress-web', 'web', [EGRESS4, EGRESS6]));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', file, '--api', n1.agent.api]);

    const r = await curlOutEventually(t, web1.ns, SERVER4);
    assert.equal(r.body, `outside saw ${EGRESS4}\n`);
    assert.equal(curlOut(t, web1.ns, SERVER6).body, `outside saw ${EGRESS6}\n`);
    const held = (s: unknown): string[] => (s as { egress: { held: string[] } }).egress.held;
    assert.deepEqual(held(await primary.agent.status()), [EGRESS6, EGRESS4].sort());
    assert.deepEqual(held(await standby.agent.status()), []);

    // The primary dies without revoking anything: its lease expires TTL seconds after its last
    // renewal (renewed every TTL/3), so at most TTL seconds after the kill.
    primary.agent.proc.kill('SIGKILL');
    const killed = Date.now();
    await waitExit(primary.agent.proc, 5000);
    const expiresBy = killed + TTL * 1000;
    let ok4 = 0;
    let body = '';
    while (Date.now() - killed < 15000) {
      const c = curlOut(t, web1.ns, SERVER4, 1);
      if (c.code === 0) {
        ok4 = Date.now();
        body = c.body;
        break;
      }
      await sleep(100);
    }
    assert.ok(ok4 > 0, 'no connection through the standby within 15 s');
    const late = ok4 - expiresBy;
    process.stdout.write(
      `new connection through the standby ${ok4 - killed} ms after the kill (${late} ms after the lease's latest ` +
        `expiry)\n`,
    );
    assert.ok(late <= 2000, `new connections resumed ${late} ms after the lease expired`);
    assert.equal(body, `outside saw ${EGRESS4}\n`);
    let r6 = curlOut(t, web1.ns, SERVER6, 2);
    for (let i = 0; i < 10 && r6.code !== 0; i++) r6 = curlOut(t, web1.ns, SERVER6, 2);
    assert.equal(r6.body, `outside saw ${EGRESS6}\n`);
    assert.deepEqual(held(await standby.agent.status()), [EGRESS6, EGRESS4].sort());
    const st = (await standby.agent.status()).totals;
    assert.ok((st.natTranslated ?? 0) > 0, 'the standby translates now');
  });
});
