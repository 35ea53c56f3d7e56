// The egress gateway in a VXLAN cluster: the selected endpoint's packets travel to the gateway
// node inside VXLAN (the node-to-node path), are translated there, and the replies come back to
// the endpoint's node through the tunnel too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT } from './harness.js';
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

test('egress gateway over VXLAN: redirected through the tunnel, from the egress IP, both families', {
  timeout: 120000,
}, async () => {
  await withTopology('egv', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const gw = await egressNode(t, 3, store, { ownIPs: [EGRESS4, EGRESS6] }, { mode: 'vxlan' });
    const n1 = await egressNode(t, 1, store, {}, { mode: 'vxlan' });
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    await waitServer(t, w);
    const file = join(t.dir, 'web.yaml');
    writeFileSync(file, policyYaml('egress-web', 'web', [EGRESS4, EGRESS6]));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', file, '--api', n1.agent.api]);
    const before = (await n1.agent.status()).totals.vxlanEncapsulated ?? 0;
    const r = await curlOutEventually(t, web1.ns, SERVER4);
    assert.equal(r.body, `outside saw ${EGRESS4}\n`);
    assert.equal(curlOut(t, web1.ns, SERVER6).body, `outside saw ${EGRESS6}\n`);
    const c1 = (await n1.agent.status()).totals;
    assert.ok((c1.natRedirected ?? 0) >= 6, `redirected ${c1.natRedirected}`);
    assert.ok((c1.vxlanEncapsulated ?? 0) - before >= 6, 'through the tunnel');
    const g = (await gw.agent.status()).totals;
    assert.ok((g.vxlanDecapsulated ?? 0) >= 6 && (g.natTranslated ?? 0) >= 6);
  });
});
