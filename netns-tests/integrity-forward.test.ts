// Integrity of the frame path: one agent, two endpoints; a 512 MiB TCP transfer ep1 → ep2 on
// IPv4 and on IPv6 arrives with the sender's sha256, with every TAP's offloads on (super-frames
// leave whole) and with ep2's port `offloads: off` (Weft cuts them into segments and finishes
// every checksum: tcpdump -vv in ep2 and ep2's kernel find none bad).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology, twoEndpoints } from './harness.js';
import { bigFile, checkAgent, checkTransfer, portOffloads, type BigFile } from './integrity.js';

let file: BigFile;
before(async () => {
  file = await bigFile();
});
after(() => file?.remove());

for (const off of [false, true]) {
  test(`forward: 512 MiB ep1 → ep2, both families, ep2 offloads ${off ? 'off' : 'on'}`, {
    timeout: 140000,
  }, async (ctx) => {
    await withTopology('ifw', async (t) => {
      const { ep1, ep2, agent } = await twoEndpoints(t, off ? { offloads2: 'off' } : {});
      assert.equal(await portOffloads(agent, 'ep2'), !off && process.env.WEFT_OFFLOADS !== 'off');
      for (const host of ['198.19.1.20', '2001:db8:19:1::20'])
        await checkTransfer(
          t,
          file,
          `forward ${host.includes(':') ? 'IPv6' : 'IPv4'} ep2 offloads ${off ? 'off' : 'on'}`,
          { recvNs: ep2, sendNs: ep1, host, port: 5201, capture: off ? { iface: 'eth0' } : undefined },
          (l) => ctx.diagnostic(l),
        );
      await checkAgent(agent, 'node', (l) => ctx.diagnostic(l));
    });
  });
}
