// Integrity of the L4 load balancer's path (DSR): the client on the underlay sends 512 MiB over
// TCP to a VIP (IPv4 and IPv6); the LB cuts the client's super-frames into segments and sends
// them through IPIP / IP6IP6 to the service's one backend, whose node decapsulates them. The
// backend's receiver gets the sender's sha256, on a backend node with offloads (a1 on n1) and on
// one whose endpoints have them off (b1 on n2: tcpdump -vv there and its kernel find no bad checksum).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, WEFT } from './harness.js';
import { lbTopology, VIP4, VIP6 } from './lb-topology.js';
import { bigFile, checkAgent, checkTransfer, portOffloads, type BigFile } from './integrity.js';

let file: BigFile;
before(async () => {
  file = await bigFile();
});
after(() => file?.remove());

test('LB (DSR): 512 MiB to a VIP, both families, backend endpoint offloads on and off', {
  timeout: 280000,
}, async (ctx) => {
  await withTopology('ilb', async (t) => {
    const { lbs, nodes, backends, client } = await lbTopology(t, `dir:${join(t.dir, 'store')}`, 1, {
      n2EndpointOffloads: 'off',
    });
    const [a1, , b1] = backends;
    assert.equal(await portOffloads(nodes[0].agent, 'a1'), process.env.WEFT_OFFLOADS !== 'off');
    assert.equal(await portOffloads(nodes[1].agent, 'b1'), false);
    // One service per (VIP, backend): port 5201 goes to a1, 5202 to b1.
    for (const [vip, port, ep] of [
      [VIP4, 5201, a1],
      [VIP4, 5202, b1],
      [VIP6, 5201, a1],
      [VIP6, 5202, b1],
    ] as const) {
      const v6 = vip.includes(':');
      t.must('', [
        'node',
        WEFT,
        'service',
        'add',
        `integ${v6 ? '6' : '4'}-${ep.name}`,
        '--vip',
        vip,
        '--port',
        String(port),
        '--protocol',
        'tcp',
        '--backend',
        v6 ? `[${ep.ipv6}]:${port}` : `${ep.ipv4}:${port}`,
        '--api',
        lbs[0].agent.api,
      ]);
    }
    for (const [port, ep, off] of [
      [5201, a1, false],
      [5202, b1, true],
    ] as const)
      for (const vip of [VIP4, VIP6])
        await checkTransfer(
          t,
          file,
          `LB ${vip.includes(':') ? 'IPv6' : 'IPv4'} client → ${vip} → ${ep.name} offloads ${off ? 'off' : 'on'}`,
          { recvNs: ep.ns, sendNs: client, host: vip, port, capture: off ? { iface: 'eth0' } : undefined },
          (l) => ctx.diagnostic(l),
        );
    for (const n of [...lbs, ...nodes]) await checkAgent(n.agent, n.name, (l) => ctx.diagnostic(l));
  });
});
