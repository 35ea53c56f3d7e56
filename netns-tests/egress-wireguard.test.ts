// The egress gateway in a cluster with WireGuard encryption: the selected endpoint's packets
// travel to the gateway node inside the node-to-node WireGuard tunnel (the gateway is that
// node's peer, whatever the packets' outside destination), are translated there, and reach
// the outside from the egress IP; the underlay between the nodes carries only UDP 51871. A
// namespaceSelector picks endpoints by their namespace (weft endpoint add --namespace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, WEFT, sleep } from './harness.js';
import { addEndpoint, startNode, fabric } from './cluster.js';
import {
  outsideWorld,
  waitServer,
  policyYaml,
  curlOut,
  curlOutEventually,
  OUTSIDE_ROUTES,
  EGRESS4,
  EGRESS6,
  SERVER4,
  SERVER6,
} from './egress-topology.js';

test('egress gateway over WireGuard: redirected through the tunnel, from the egress IP, both families', {
  timeout: 120000,
}, async () => {
  await withTopology('egw', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const node = (i: number, egress: Record<string, unknown>) =>
      startNode(
        t,
        i,
        { store, workers: 1 },
        { encryption: 'wireguard' },
        { routes: OUTSIDE_ROUTES, egress, wireguard: { interface: `${t.prefix}${i}`.slice(-15) } },
      );
    const gw = await node(3, { ownIPs: [EGRESS4, EGRESS6] });
    const n1 = await node(1, {});
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    await waitServer(t, w);
    const file = join(t.dir, 'web.yaml');
    writeFileSync(file, policyYaml('egress-web', 'web', [EGRESS4, EGRESS6]));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', file, '--api', n1.agent.api]);
    const cap = t.spawn(fabric(t), ['tcpdump', '-n', '-l', '-i', 'br0', 'host 198.18.0.11 and host 198.18.0.13']);
    await sleep(800);
    const r = await curlOutEventually(t, web1.ns, SERVER4);
    assert.equal(r.body, `outside saw ${EGRESS4}\n`);
    assert.equal(curlOut(t, web1.ns, SERVER6).body, `outside saw ${EGRESS6}\n`);

    // namespaceSelector: an endpoint of namespace "prod" (whatever its labels) is selected by a
    // policy matching kubernetes.io/metadata.name=prod; the same labels in "default" are not.
    const prodNs = `${t.prefix}-prod1`;
    t.adopt(prodNs);
    t.must(
      '',
      [
        'node',
        WEFT,
        'endpoint',
        'add',
        'prod1',
        '--netns',
        prodNs,
        '--labels',
        'app=batch',
        '--namespace',
        'prod',
        '--api',
        n1.agent.api,
      ],
      20000,
    );
    const devNs = `${t.prefix}-dev1`;
    t.adopt(devNs);
    t.must(
      '',
      ['node', WEFT, 'endpoint', 'add', 'dev1', '--netns', devNs, '--labels', 'app=batch', '--api', n1.agent.api],
      20000,
    );
    const nsFile = join(t.dir, 'prod.yaml');
    writeFileSync(
      nsFile,
      `apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: egress-prod }
spec:
  egress:
  - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: prod } }
  destinationCIDRs: [ 198.18.200.0/24 ]
  egressSourceIP: ${EGRESS4}
`,
    );
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', nsFile, '--api', n1.agent.api]);
    const p = await curlOutEventually(t, prodNs, SERVER4);
    assert.equal(p.body, `outside saw ${EGRESS4}\n`, 'namespace prod: from the egress IP');
    assert.notEqual(curlOut(t, devNs, SERVER4).body, `outside saw ${EGRESS4}\n`, 'namespace default: not selected');
    await sleep(300);
    cap.proc.kill('SIGINT');
    await sleep(300);
    const c1 = (await n1.agent.status()).totals;
    assert.ok((c1.natRedirected ?? 0) >= 6, `redirected ${c1.natRedirected}`);
    assert.ok((c1.wgSent ?? 0) >= 6, `through the tunnel: ${c1.wgSent}`);
    const g = (await gw.agent.status()).totals;
    assert.ok((g.wgDecrypted ?? 0) >= 6 && (g.natTranslated ?? 0) >= 6);
    const lines = cap
      .output()
      .split('\n')
      .filter((l) => / IP /.test(l));
    assert.ok(lines.length > 6);
    assert.deepEqual(
      lines.filter((l) => !/\.51871 > 198\.18\.0\.1[13]\.51871: UDP/.test(l)).slice(0, 3),
      [],
      'only WireGuard between n1 and the gateway',
    );
  });
});
