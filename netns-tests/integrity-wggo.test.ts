// Integrity of the WireGuard dataplane against wireguard-go (the topology of wg-dataplane.test.ts):
// 512 MiB over TCP from behind wireguard-go to the Weft node's endpoint and from the endpoint to
// behind wireguard-go (Weft cuts the endpoint's super-frames into segments before encrypting them),
// IPv4 and IPv6, with the endpoint's port offloads on, then off (toward it, tcpdump -vv in the
// endpoint and its kernel find no bad checksum). Each receiver gets the sender's sha256.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { withTopology } from './harness.js';
import { wgKeys, wgNodeConfig, startGo } from './wg-setup.js';
import { bigFile, checkAgent, checkTransfer, portOffloads, type BigFile } from './integrity.js';

let file: BigFile;
before(async () => {
  file = await bigFile();
});
after(() => file?.remove());

for (const off of [false, true]) {
  test(`WireGuard with wireguard-go: 512 MiB, both families, endpoint offloads ${off ? 'off' : 'on'}`, {
    timeout: 140000,
  }, async (ctx) => {
    await withTopology('iwgo', async (t) => {
      const node = t.ns('node');
      const ep = t.ns('ep');
      const gons = t.ns('go');
      const wgIf = `${t.prefix}w`.slice(0, 15);
      const goIf = 'wggo0';
      const { key: weftKey, pub: weftPub } = wgKeys(t, 'weft');
      const { file: goKeyFile, pub: goPub } = wgKeys(t, 'go');
      let go: { stop: () => Promise<void> } | undefined;
      try {
        const agent = await t.startAgent(
          node,
          wgNodeConfig(t, {
            ep,
            uplinks: [
              {
                name: 'up0',
                kind: 'uplink',
                netns: gons,
                ifname: 'up0',
                addresses: ['198.18.0.1/24', '2001:db8:18::1/64'],
                peerAddresses: ['198.18.0.2/24', '2001:db8:18::2/64'],
              },
            ],
            wgIf,
            privateKey: weftKey,
            addresses: ['198.18.60.1/24', '2001:db8:60::1/64'],
            epOffloads: off ? 'off' : undefined,
          }),
        );
        assert.equal(await portOffloads(agent, 'ep'), !off && process.env.WEFT_OFFLOADS !== 'off');
        t.must('', [
          'wg',
          'set',
          wgIf,
          'peer',
          goPub,
          'allowed-ips',
          '198.18.60.2/32,2001:db8:60::2/128',
          'endpoint',
          '198.18.0.2:51820',
        ]);
        go = startGo(t, gons, goIf, goKeyFile, weftPub);
        assert.match(t.must(gons, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '198.19.1.10'], 30000), /2 received/);
        const note = (l: string): void => ctx.diagnostic(l);
        const mode = `endpoint offloads ${off ? 'off' : 'on'}`;
        for (const host of ['198.19.1.10', '2001:db8:19:1::10'])
          await checkTransfer(
            t,
            file,
            `wireguard-go → Weft ${host.includes(':') ? 'IPv6' : 'IPv4'} ${mode}`,
            { recvNs: ep, sendNs: gons, host, port: 5201, capture: off ? { iface: 'eth0' } : undefined },
            note,
          );
        // The other way, once: the endpoint's offloads change nothing on that side of the tunnel.
        if (!off)
          for (const host of ['198.18.60.2', '2001:db8:60::2'])
            await checkTransfer(
              t,
              file,
              `Weft → wireguard-go ${host.includes(':') ? 'IPv6' : 'IPv4'} ${mode}`,
              { recvNs: gons, sendNs: ep, host, port: 5202 },
              note,
            );
        await checkAgent(agent, 'node', note);
      } finally {
        await go?.stop();
      }
    });
  });
}
