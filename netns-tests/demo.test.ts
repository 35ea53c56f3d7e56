// The README's first command works: scripts/demo --once brings the default topology up,
// shows traffic and status, and tears it down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './harness.js';

test('scripts/demo --once shows traffic and status, then cleans up', { timeout: 180000 }, () => {
  const r = spawnSync(join(REPO, 'scripts', 'demo'), ['--once'], { encoding: 'utf8', timeout: 170000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  assert.equal((out.match(/hello from demo-ep2 through the Weft dataplane/g) ?? []).length, 2, 'curl over IPv4 and IPv6');
  assert.match(out, /3 packets transmitted, 3 received/);
  assert.match(out, /Health:\s+ok/);
  assert.match(out, /receiver/);
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(left, /demo-(node|ep1|ep2)/, 'namespaces torn down');
});
