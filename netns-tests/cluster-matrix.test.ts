// Two nodes with two endpoints each, in every combination of node-to-node mode (direct,
// VXLAN) and store (embedded directory, etcd): endpoint to endpoint on one node and across
// nodes, IPv4 and IPv6, ping and HTTP to a real server in the endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology } from './harness.js';
import { startNode, addEndpoint, startEtcd, waitEtcd, pingOk, httpServer, curl, ETCD_ADDR } from './cluster.js';

for (const mode of ['direct', 'vxlan'] as const) {
  for (const storeKind of ['dir', 'etcd'] as const) {
    test(`cluster ${mode} on ${storeKind}: same-node and cross-node, v4 and v6, ping and HTTP`, {
      timeout: 90000,
    }, async () => {
      await withTopology(`m${mode[0]}${storeKind[0]}`, async (t) => {
        let store = `dir:${join(t.dir, 'store')}`;
        if (storeKind === 'etcd') {
          const etcd = startEtcd(t, join(t.dir, 'etcd'));
          await waitEtcd(t, etcd.ns);
          store = `etcd://${ETCD_ADDR}:2379`;
        }
        const mgmt = storeKind === 'etcd';
        const n1 = await startNode(t, 1, { store, mode, mgmt });
        const n2 = await startNode(t, 2, { store, mode, mgmt });
        const eps = [
          addEndpoint(t, n1, 'a1'),
          addEndpoint(t, n1, 'a2'),
          addEndpoint(t, n2, 'b1'),
          addEndpoint(t, n2, 'b2'),
        ];
        const [a1, a2, b1, b2] = eps;
        for (const ep of eps) httpServer(t, ep);
        for (const [from, to] of [
          [a1, a2],
          [b2, b1],
          [a1, b1],
          [b2, a2],
        ] as const) {
          pingOk(t, from.ns, to.ipv4);
          pingOk(t, from.ns, to.ipv6);
          assert.equal(curl(t, from.ns, to.ipv4), `hello from ${to.name}\n`);
          assert.equal(curl(t, from.ns, to.ipv6), `hello from ${to.name}\n`);
        }
      });
    });
  }
}
