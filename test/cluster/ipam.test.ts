// IPAM on a real (directory) store: pod CIDRs never overlap, addresses are never handed
// out twice, released ones come back, exhaustion is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/control/store/store.js';
import { claimPodCidr, claimAddress, releaseAddress, gatewayOf, IpamError } from '../../src/control/cluster/ipam.js';
import { parsePrefix, formatPrefix, formatAddress, type Prefix } from '../../src/wire/addr.js';

function p(text: string): Prefix {
  const r = parsePrefix(text, { allowHostBits: false });
  if (typeof r === 'string') throw new Error(r);
  return r;
}

test('pod CIDRs: distinct per node, stable per node, configured ones checked for overlap', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wtipam-'));
  const store = await openStore(`dir:${dir}`);
  try {
    const cluster = p('198.19.0.0/16');
    const a = await claimPodCidr(store, 'n1', cluster, 24);
    const b = await claimPodCidr(store, 'n2', cluster, 24);
    assert.notEqual(formatPrefix(a), formatPrefix(b));
    assert.equal(formatPrefix(await claimPodCidr(store, 'n1', cluster, 24)), formatPrefix(a), 'a node keeps its CIDR');
    await assert.rejects(
      claimPodCidr(store, 'n3', cluster, 24, p('198.19.0.0/23')),
      (e: Error) => e instanceof IpamError && /overlaps 198\.19\.0\.0\/24 of node n1/.test(e.message),
    );
    const v6 = await claimPodCidr(store, 'n1', p('2001:db8:19::/48'), 64);
    assert.equal(formatPrefix(v6), '2001:db8:19::/64');
    assert.equal(formatAddress(gatewayOf(v6)), '2001:db8:19::1');
    const tiny = p('198.19.200.0/30');
    assert.ok(await claimPodCidr(store, 'x1', tiny, 31));
    assert.ok(await claimPodCidr(store, 'x2', tiny, 31));
    await assert.rejects(claimPodCidr(store, 'x3', tiny, 31), /198\.19\.200\.0\/30 has no free \/31 left for node x3/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('addresses: unique, skip network/gateway/broadcast, released ones reused, exhaustion named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wtipam-'));
  const store = await openStore(`dir:${dir}`);
  try {
    const cidr = p('198.19.7.0/29'); // .2 .. .6 usable
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(formatAddress(await claimAddress(store, 'n1', cidr, `ep${i}`)));
    assert.deepEqual(got, ['198.19.7.2', '198.19.7.3', '198.19.7.4', '198.19.7.5', '198.19.7.6']);
    await assert.rejects(
      claimAddress(store, 'n1', cidr, 'ep5'),
      /pod CIDR 198\.19\.7\.0\/29 is exhausted \(5 addresses in use\)/,
    );
    await releaseAddress(store, 'n1', (await import('../../src/wire/addr.js')).parseAddress('198.19.7.4')!);
    assert.equal(formatAddress(await claimAddress(store, 'n1', cidr, 'ep6')), '198.19.7.4');
    // Two claimers racing for the same CIDR never get the same address.
    const race = await Promise.all(
      Array.from({ length: 2 }, (_, i) => claimAddress(store, 'n2', p('198.19.8.0/24'), `r${i}`)),
    );
    assert.notEqual(formatAddress(race[0]), formatAddress(race[1]));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
