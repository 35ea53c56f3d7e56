// Every subcommand answers the same way: a usage error is "weft CMD VERB: message", a blank line
// and the usage on stderr, exit 2, found before any agent is looked for; a runtime error (here:
// no agent behind the socket) is one line "weft CMD VERB: message", exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEFT = fileURLToPath(new URL('../../src/cli/weft.js', import.meta.url));
const FILTER = '198.18.0.0/24 0 198.18.100.1/32 80 TCP';
const POLICY = `apiVersion: cilium.io/v2alpha1
kind: CiliumEgressNATPolicy
metadata: { name: p }
spec:
  egress: [{ podSelector: { matchLabels: { app: web } } }]
  destinationCIDRs: [198.18.200.0/24]
  egressSourceIP: 198.18.0.200
`;
const SERVICE = 'name: web\nvip: 198.18.100.1\nport: 80\nbackends: [{ ip: 198.19.0.3 }]\n';

interface Case {
  /** "weft CMD VERB" as messages start. */
  prefix: string;
  /** Arguments with a usage mistake (no --api / --node: the mistake must be found first). */
  bad: string[];
  /** Arguments that are right (the socket is added), or undefined for commands needing no agent. */
  good?: string[];
}

function weft(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', timeout: 20000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('usage errors exit 2 before any agent is looked for, runtime errors exit 1', { timeout: 180000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  try {
    const policy = join(dir, 'policy.yaml');
    const services = join(dir, 'services.yaml');
    writeFileSync(policy, POLICY);
    writeFileSync(services, SERVICE);
    const cases: Case[] = [
      { prefix: 'weft agent', bad: ['agent', '--config', join(dir, 'node.yaml'), 'stray'] },
      { prefix: 'weft status', bad: ['status', 'stray'], good: ['status'] },
      { prefix: 'weft endpoint add', bad: ['endpoint', 'add'], good: ['endpoint', 'add', 'ep1', '--labels', 'a=b'] },
      { prefix: 'weft endpoint list', bad: ['endpoint', 'list', 'stray'], good: ['endpoint', 'list', '--json'] },
      {
        prefix: 'weft endpoint delete',
        bad: ['endpoint', 'delete', 'ep1', '--labels', 'a=b'],
        good: ['endpoint', 'delete', 'ep1'],
      },
      {
        prefix: 'weft service add',
        bad: ['service', 'add', '--vip', '198.18.100.1', '--port', '80'],
        good: ['service', 'add', 'web', '--vip', '198.18.100.1', '--port', '80', '--backend', '198.19.0.3'],
      },
      { prefix: 'weft service apply', bad: ['service', 'apply'], good: ['service', 'apply', '-f', services] },
      { prefix: 'weft service list', bad: ['service', 'list', 'stray'], good: ['service', 'list'] },
      {
        prefix: 'weft service describe',
        bad: ['service', 'describe', 'web', 'stray'],
        good: ['service', 'describe', 'web'],
      },
      { prefix: 'weft service delete', bad: ['service', 'delete', '--bad', 'web'], good: ['service', 'delete', 'web'] },
      { prefix: 'weft lb maglev', bad: ['lb', 'maglev', '--table-size', '251'] },
      { prefix: 'weft record', bad: ['record', FILTER, '--time-limit', 'soon'], good: ['record', FILTER] },
      { prefix: 'weft record list', bad: ['record', 'list', 'stray'], good: ['record', 'list'] },
      { prefix: 'weft record stop', bad: ['record', 'stop'], good: ['record', 'stop', '7'] },
      {
        prefix: 'weft egress apply',
        bad: ['egress', 'apply', 'stray', '-f', policy],
        good: ['egress', 'apply', '-f', policy],
      },
      { prefix: 'weft egress list', bad: ['egress', 'list', '-o', 'xml'], good: ['egress', 'list', '-o', 'yaml'] },
      { prefix: 'weft egress delete', bad: ['egress', 'delete'], good: ['egress', 'delete', 'p'] },
      {
        prefix: 'weft egress conntrack',
        bad: ['egress', 'conntrack', '--protocol', 'sctp'],
        good: ['egress', 'conntrack', '--protocol', 'udp', '--source', '198.18.0.10'],
      },
    ];
    const usage = new Map<string, string>();
    for (const c of cases) {
      const cmd = c.bad[0]!;
      if (!usage.has(cmd)) {
        const help = weft([cmd, '--help']);
        assert.equal(help.code, 0, `${cmd} --help`);
        assert.match(help.stdout, /^Usage/);
        usage.set(cmd, help.stdout);
      }
      const bad = weft(c.bad);
      const what = `weft ${c.bad.join(' ')}`;
      assert.equal(bad.code, 2, `${what}: ${bad.stderr}`);
      assert.equal(bad.stdout, '', what);
      const m = /^(weft [a-z]+(?: [a-z]+)?): ([^\n]+)\n\n([\s\S]*)$/.exec(bad.stderr);
      assert.ok(m, `${what}: message, blank line, usage: ${bad.stderr}`);
      assert.equal(m[1], c.prefix, what);
      assert.equal(m[3], usage.get(cmd), `${what}: the command's usage follows`);
      if (!c.good) continue;
      const sock = join(dir, 'none.sock');
      const run = weft([...c.good, '--api', sock]);
      const ran = `weft ${c.good.join(' ')} --api ${sock}`;
      assert.equal(run.code, 1, `${ran}: ${run.stderr}`);
      assert.equal(run.stdout, '', ran);
      assert.equal(run.stderr, `${c.prefix}: no agent is serving ${sock} (is weft agent running?)\n`, ran);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid input (a file, a filter, the config) is one line, exit 2; --help exits 0', { timeout: 60000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  try {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'name: web\nvip: 198.18.100.1\nport: 99999\nbackends: []\n');
    writeFileSync(join(dir, 'node.yaml'), 'node: n1\ncolour: blue\n');
    const cases: Array<[string[], string]> = [
      [
        ['service', 'apply', '-f', broken],
        `weft service apply: ${broken} document 1.port: must be a port number 1..65535, got 99999\n`,
      ],
      [['service', 'apply', '-f', `${dir}/missing.yaml`], `weft service apply: ${dir}/missing.yaml: cannot read: `],
      [['record', '198.18.0.0/24 0 198.18.100.1/32 80'], 'weft record: filter "198.18.0.0/24 0 198.18.100.1/32 80": '],
      [['agent', '--config', `${dir}/node.yaml`], `weft agent: config error: ${dir}/node.yaml.colour: unknown field`],
      [['lb', 'maglev', '--table-size', '1000', '198.19.1.1:80'], 'weft lb maglev: Maglev table size 1000 is not'],
    ];
    for (const [args, start] of cases) {
      const r = weft(args);
      assert.equal(r.code, 2, `weft ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(start), `weft ${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }
    assert.equal(weft(['service', 'add', '-h']).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
