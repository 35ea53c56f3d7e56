// Integrity of the egress gateway's path (SNAT): endpoints selected by a dual-stack policy download
// 512 MiB over TCP from a server outside the firewall (IPv4 and IPv6). The server's super-frames
// reach the gateway node, are translated back (destination egress IP → endpoint) and cross to the
// endpoint's node; the receiver gets the sender's sha256 on a node with offloads (web1 on n1) and on
// one whose endpoints have them off (web2 on n2: tcpdump -vv there and its kernel find no bad
// checksum). Then web1 uploads the file to the server through the translation the other way.
import { test, before, after } from 'node:test';
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
  curlOutEventually,
  EGRESS4,
  EGRESS6,
  SERVER4,
  SERVER6,
} from './egress-topology.js';
import { bigFile, checkAgent, checkTransfer, portOffloads, type BigFile } from './integrity.js';

let file: BigFile;
before(async () => {
  file = await bigFile();
});
after(() => file?.remove());

test('egress gateway (SNAT): 512 MiB down and up, both families, receiving endpoint offloads on and off', {
  timeout: 280000,
}, async (ctx) => {
  await withTopology('ieg', async (t) => {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t);
    const gw = await egressNode(t, 3, store, { ownIPs: [EGRESS4, EGRESS6] });
    const n1 = await egressNode(t, 1, store);
    const n2 = await egressNode(t, 2, store, {}, { endpointOffloads: 'off' });
    const web1 = addEndpoint(t, n1, 'web1', 'app=web');
    const web2 = addEndpoint(t, n2, 'web2', 'app=web');
    assert.equal(await portOffloads(n1.agent, 'web1'), process.env.WEFT_OFFLOADS !== 'off');
    assert.equal(await portOffloads(n2.agent, 'web2'), false);
    await waitServer(t, w);
    const policy = join(t.dir, 'web.yaml');
    writeFileSync(policy, policyYaml('egress-web', 'web', [EGRESS4, EGRESS6]));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', policy, '--api', n1.agent.api]);
    // The policy has reached both nodes: the server sees the egress IP.
    for (const ep of [web1, web2])
      for (const [server, egress] of [
        [SERVER4, EGRESS4],
        [SERVER6, EGRESS6],
      ])
        assert.equal((await curlOutEventually(t, ep.ns, server)).body, `outside saw ${egress}\n`);

    const note = (l: string): void => ctx.diagnostic(l);
    for (const [ep, off, port] of [
      [web1, false, 5201],
      [web2, true, 5202],
    ] as const)
      for (const server of [SERVER4, SERVER6])
        await checkTransfer(
          t,
          file,
          `egress ${server.includes(':') ? 'IPv6' : 'IPv4'} download ${server} → ${ep.name} ` +
            `offloads ${off ? 'off' : 'on'}`,
          {
            recvNs: ep.ns,
            sendNs: w.out,
            host: server,
            port,
            listener: 'sender',
            capture: off ? { iface: 'eth0' } : undefined,
          },
          note,
        );
    for (const server of [SERVER4, SERVER6])
      await checkTransfer(
        t,
        file,
        `egress ${server.includes(':') ? 'IPv6' : 'IPv4'} upload web1 → ${server}`,
        { recvNs: w.out, sendNs: web1.ns, host: server, port: 5203 },
        note,
      );
    for (const n of [gw, n1, n2]) await checkAgent(n.agent, n.name, note);
    const g = (await gw.agent.status()).totals;
    note(`gw: natTranslated ${g.natTranslated ?? 0}, natReversed ${g.natReversed ?? 0}`);
    assert.ok((g.natReversed ?? 0) > 10000, 'the downloads were translated back at the gateway');
  });
});
