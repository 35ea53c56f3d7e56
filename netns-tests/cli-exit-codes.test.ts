// The CLI's exit codes with a live agent: a usage error (no NAME) is exit 2 with the same shape for
// every command, before the agent is asked; what the agent refuses is exit 1, one line; an agent
// that cannot start says why in one line, exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTopology, WEFT, toYaml } from './harness.js';

test('usage errors exit 2, runtime errors exit 1, with a live agent', { timeout: 60000 }, async () => {
  await withTopology('cx', async (t) => {
    const node = t.ns('node');
    const agent = await t.startAgent(node, {
      node: t.prefix,
      workers: 1,
      cpus: 'none',
      store: `dir:${join(t.dir, 'store')}`,
      lb: {},
    });
    const weft = (...args: string[]) => t.run('', ['node', WEFT, ...args, '--api', agent.api]);
    for (const cmd of ['endpoint', 'service']) {
      const r = weft(cmd, 'add');
      assert.equal(r.code, 2, `${cmd} add: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const usage = t.must('', ['node', WEFT, cmd, '--help']);
      assert.equal(r.stderr, `weft ${cmd} add: needs a NAME\n\n${usage}`);
    }
    const missing = weft('service', 'describe', 'nope');
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(missing.stderr, 'weft service describe: no service named "nope"\n');
    // Not a cluster node: refused before a namespace is made for it.
    const ep = `${t.prefix}-ep`;
    t.adopt(ep);
    const notCluster = weft('endpoint', 'add', 'ep', '--netns', ep);
    assert.equal(notCluster.code, 1, notCluster.stderr);
    assert.match(notCluster.stderr, /^weft endpoint add: [^\n]+\n$/);
    assert.notEqual(t.run('', ['ip', 'netns', 'exec', ep, 'true']).code, 0, 'no namespace made');
    assert.equal(await agent.stop(), 0, agent.output());

    const bad = join(t.dir, 'bad.yaml');
    writeFileSync(
      bad,
      toYaml({
        node: 'bad',
        api: join(t.dir, 'bad.sock'),
        workers: 1,
        cpus: 'none',
        gateway: { ipv4: '198.19.1.1' },
        ports: [{ name: 'e', kind: 'endpoint', netns: `${t.prefix}-nope`, ipv4: '198.19.1.10' }],
      }),
    );
    const start = t.run(node, ['node', WEFT, 'agent', '--config', bad], 20000);
    assert.equal(start.code, 1, start.stderr);
    assert.match(start.stderr, /^weft agent: [^\n]*network namespace "wt.*-nope" does not exist[^\n]*\n$/);
  });
});
