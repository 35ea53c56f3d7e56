// The per-source token bucket: burst 5, 20 per second, sources independent, IPv6 by /64,
// bounded memory with the least recently seen source evicted, idle buckets swept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/wireguard/ratelimiter.js';

const v4 = (x: number): Uint8Array => Uint8Array.of(198, 18, 63, x);
const v6 = (host: number, net = 1): Uint8Array =>
  Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, net, 0, 0, 0, 0, 0, 0, 0, 0, 0, host);

test('burst of 5, then 20 per second', () => {
  const r = new RateLimiter();
  const at0 = Array.from({ length: 8 }, () => r.allow(v4(1), 0));
  assert.deepEqual(at0, [true, true, true, true, true, false, false, false]);
  assert.ok(!r.allow(v4(1), 49));
  assert.ok(r.allow(v4(1), 50), 'one token per 50 ms');
  assert.ok(!r.allow(v4(1), 60));
  // Over one second at 100 per second, about 20 get through.
  let n = 0;
  for (let t = 1000; t < 2000; t += 10) if (r.allow(v4(1), t)) n++;
  assert.ok(n >= 20 && n <= 25, String(n));
});

test('sources are independent; IPv6 hosts of one /64 share a bucket', () => {
  const r = new RateLimiter();
  for (let i = 0; i < 5; i++) assert.ok(r.allow(v4(1), 0));
  assert.ok(!r.allow(v4(1), 0));
  assert.ok(r.allow(v4(2), 0));
  for (let i = 0; i < 5; i++) assert.ok(r.allow(v6(i), 0));
  assert.ok(!r.allow(v6(99), 0), 'same /64');
  assert.ok(r.allow(v6(1, 2), 0), 'another /64');
});

test('memory is bounded: the least recently seen source is evicted', () => {
  const r = new RateLimiter(3);
  for (let i = 0; i < 5; i++) r.allow(v4(1), 0); // v4(1) exhausted
  r.allow(v4(2), 0);
  r.allow(v4(3), 0);
  assert.ok(!r.allow(v4(1), 1), 'still limited, and now the most recently seen');
  r.allow(v4(4), 1); // evicts v4(2)
  assert.equal(r.size, 3);
  assert.ok(!r.allow(v4(1), 2), 'v4(1) kept its state');
  for (let i = 10; i < 1000; i++) r.allow(v4(i % 250), 3);
  assert.ok(r.size <= 3);
});

test('buckets that refilled are swept', () => {
  const r = new RateLimiter();
  for (let i = 0; i < 100; i++) r.allow(v4(i), 0);
  assert.equal(r.size, 100);
  r.sweep(10000);
  assert.equal(r.size, 0);
});
