// Integrity of the cluster path with VXLAN between the nodes: a 512 MiB TCP transfer
// from an endpoint on one node to endpoints on two others, on IPv4 and IPv6, arrives with the
// sender's sha256; toward the node whose endpoints have offloads off, tcpdump -vv in the receiving
// endpoint and its kernel find no bad checksum (netns-tests/integrity.ts, clusterIntegrity).
import { test, before, after } from 'node:test';
import { withTopology } from './harness.js';
import { bigFile, clusterIntegrity, type BigFile } from './integrity.js';

let file: BigFile;
before(async () => {
  file = await bigFile();
});
after(() => file?.remove());

test('vxlan: 512 MiB across nodes, both families, receiving endpoint offloads on and off', {
  timeout: 280000,
}, async (ctx) => {
  await withTopology('ivx', (t) => clusterIntegrity(t, file, 'vxlan', (l) => ctx.diagnostic(l)));
});
