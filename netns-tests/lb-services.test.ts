// Services on LB agents: apply from YAML, list, describe, delete through the CLI; two LB
// agents on the same store hold the same services and build the same Maglev tables; a bad
// file changes nothing. (The DSR datapath has its own tests.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { withTopology, sleep, WEFT, type AgentHandle } from './harness.js';
import { fabric } from './cluster.js';

test('services: apply, list, describe, delete; two LB agents agree', { timeout: 60000 }, async () => {
  await withTopology('lbs', async (t) => {
    const fab = fabric(t);
    const store = `dir:${join(t.dir, 'store')}`;
    const agents: AgentHandle[] = [];
    for (const i of [1, 2]) {
      const ns = t.ns(`lb${i}`);
      agents.push(
        await t.startAgent(ns, {
          node: `lb${i}`,
          store,
          workers: 1,
          lb: { tableSize: 1021 },
          ports: [
            {
              name: 'up0',
              kind: 'uplink',
              netns: fab,
              bridge: 'br0',
              ifname: `lb${i}up`,
              addresses: [`198.18.0.${i}/24`],
            },
          ],
        }),
      );
    }
    const weft = (i: number, ...args: string[]) =>
      t.run('', ['node', WEFT, 'service', ...args, '--api', agents[i].api], 15000);
    const file = join(t.dir, 'svc.yaml');
    writeFileSync(
      file,
      `kind: Service
metadata: { name: web }
spec:
  vip: 198.18.100.1
  port: 80
  backends:
    - { ip: 198.19.0.3, port: 8080 }
    - { ip: 198.19.1.3, port: 8080 }
    - { ip: 198.19.1.4, port: 8080, weight: 0 }
---
kind: Service
metadata: { name: web6 }
spec: { vip: "2001:db8:18:100::1", port: 80, protocol: TCP, backends: [{ ip: "2001:db8:19::3" }] }
`,
    );
    assert.equal(weft(0, 'apply', '-f', file).code, 0);
    const list = weft(0, 'list').stdout;
    assert.match(
      list,
      new RegExp(
        String.raw`web\s+198\.18\.100\.1\s+80\s+TCP\s+none\s+0\s+0\s+` +
          String.raw`198\.19\.0\.3:8080\(0\) 198\.19\.1\.3:8080\(0\) 198\.19\.1\.4:8080@0\(0\)`,
      ),
    );
    assert.match(list, /web6\s+2001:db8:18:100::1\s+80\s+TCP/);
    // The other agent sees the same services from the store and builds the same table.
    let other = '';
    for (let i = 0; i < 30 && !other.includes('web6'); i++) {
      await sleep(100);
      other = weft(1, 'list').stdout;
    }
    assert.equal(other, list);
    const d0 = JSON.parse(weft(0, 'describe', 'web', '--json').stdout) as { slots: Record<string, number> };
    const d1 = JSON.parse(weft(1, 'describe', 'web', '--json').stdout) as { slots: Record<string, number> };
    assert.deepEqual(d0.slots, d1.slots);
    assert.deepEqual(
      Object.values(d0.slots).sort((a, b) => a - b),
      [0, 510, 511],
      'weight 0 drains; the rest split M = 1021',
    );

    // A file with one bad document applies nothing.
    const bad = join(t.dir, 'bad.yaml');
    writeFileSync(
      bad,
      'kind: Service\nmetadata: { name: ok }\nspec: { vip: 198.18.100.2, port: 80, backends: [] }\n---\nkind: ' +
        'Service\nmetadata: { name: broken }\nspec: { vip: 198.18.100.3, port: 99999, backends: [] }\n',
    );
    const r = weft(0, 'apply', '-f', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /document 2\.spec\.port: must be a port number 1\.\.65535, got 99999/);
    assert.doesNotMatch(weft(0, 'list').stdout, /\bok\b/);

    assert.equal(weft(1, 'delete', 'web').code, 0);
    for (let i = 0; i < 30 && /\bweb\s/.test(weft(0, 'list').stdout); i++) await sleep(100);
    assert.doesNotMatch(weft(0, 'list').stdout, /\bweb\s/);
    assert.match(weft(0, 'describe', 'web').stderr, /no service named "web"/);
  });
});
