// The README's first command works: scripts/demo --once brings the two-node cluster up,
// shows traffic on one node and across nodes and the status, and tears it down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './harness.js';

test('scripts/demo --once shows traffic and status, then cleans up', { timeout: 180000 }, () => {
  const r = spawnSync(join(REPO, 'scripts', 'demo'), ['--once'], { encoding: 'utf8', timeout: 170000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  assert.equal(
    (out.match(/hello from b1 on node n2 through the Weft dataplane/g) ?? []).length,
    2,
    'curl across nodes over IPv4 and IPv6',
  );
  assert.equal((out.match(/3 packets transmitted, 3 received/g) ?? []).length, 3, 'three pings');
  assert.match(out, /ttl=62/);
  assert.match(
    out,
    /interface: wg-n1[\s\S]*endpoint: 198\.18\.0\.12:51871[\s\S]*latest handshake: /,
    'n1 and n2 peered over WireGuard',
  );
  assert.match(out, /Cluster nodes:/);
  const spread = [...out.matchAll(/^\s+(\d+) (a1|b1)$/gm)].map((m) => Number(m[1]));
  assert.equal(spread.length, 2, 'the LB spread the 30 connections over a1 and b1');
  assert.equal(spread[0] + spread[1], 30);
  assert.match(out, /recording \d+: 12 packets, .* \(packet-limit\)/, 'the recorder stopped at its packet limit');
  assert.match(
    out,
    /IP 198\.18\.50\.\d+ > 198\.19\.\d+\.\d+: IP 198\.18\.0\.100\.\d+ > 198\.18\.100\.1\.80:/,
    'tcpdump shows an IPIP packet from the recording',
  );
  assert.match(out, /Health:\s+ok/);
  assert.match(out, /outside saw 198\.18\.0\.200\n/, 'the egress gateway let app=web through from the egress IP');
  assert.match(out, /g1 \(app=db[^\n]*\n\s+curl: \(7\)/, 'the firewall refused the masqueraded app=db endpoint');
  assert.match(
    out,
    /TCP\s+198\.19\.\d+\.\d+:\d+\s+198\.18\.200\.10:80\s+198\.18\.0\.200:\d+/,
    'weft egress conntrack shows the translation',
  );
  assert.match(out, /receiver/);
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(left, /demo-/, 'namespaces torn down');
});
