// Golden bytes: every rewrite produces exactly the frame scapy built from scratch (checksums
// included), and every hostile frame gets its named verdict (test/fixtures/nat/gen_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatPacket, natParse, NAT_VERDICT_NAMES, NAT_ICMP_ERROR } from '../../src/nat/packet.js';
import {
  natRewriteSource,
  natRewriteDestination,
  natRewriteIcmpError,
  SIDE_SRC,
  SIDE_DST,
} from '../../src/nat/snat.js';
import { REWRITES, hex, toHex, addrWords, badChecksums } from './helpers.js';

const ETH = 14;

test('fixture covers every operation and both families', () => {
  for (const op of ['src', 'dst', 'icmp-dst', 'icmp-src', 'none']) {
    for (const f of [4, 6])
      assert.ok(
        REWRITES.some((c) => c.op === op && c.family === f),
        `${op} IPv${f}`,
      );
  }
});

for (const c of REWRITES) {
  test(`golden: ${c.name}`, () => {
    const b = hex(c.in);
    const p = new NatPacket();
    const v = natParse(b, ETH, b.length - ETH, p);
    const want = c.op === 'icmp-dst' || c.op === 'icmp-src' ? 'icmpError' : c.verdict;
    assert.equal(NAT_VERDICT_NAMES[v], want);
    if (c.op === 'none') return;
    assert.deepEqual(badChecksums(b, p, v === NAT_ICMP_ERROR), [], 'input checksums');
    const w = addrWords(c.addr!);
    switch (c.op) {
      case 'src':
        natRewriteSource(b, p, w, 0, c.port!);
        break;
      case 'dst':
        natRewriteDestination(b, p, w, 0, c.port!);
        break;
      case 'icmp-dst':
        natRewriteIcmpError(b, p, SIDE_DST, w, 0, c.port!);
        break;
      case 'icmp-src':
        natRewriteIcmpError(b, p, SIDE_SRC, w, 0, c.port!);
        break;
    }
    assert.equal(toHex(b), c.out);
  });
}
