// Framing of the byte stream: requests split anywhere, several per connection, and every
// kind of broken or oversized input ending in one fatal error instead of a throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestReader, type UapiRequest } from '../../src/wireguard/uapi/request-reader.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ops = (rs: UapiRequest[]): unknown[] =>
  rs.map((r) => (r.op === 'fatal' ? { fatal: r.error.errno, message: r.error.message } : r));

test('get and set in sequence, split at every byte', () => {
  const text = 'get=1\n\nset=1\nlisten_port=1\nfwmark=2\n\nget=1\n\n';
  const whole = ops(new RequestReader().push(b(text)));
  assert.deepEqual(whole, [{ op: 'get' }, { op: 'set', lines: ['listen_port=1', 'fwmark=2'] }, { op: 'get' }]);
  const r = new RequestReader();
  const bytewise: UapiRequest[] = [];
  for (const ch of text) bytewise.push(...r.push(b(ch)));
  assert.deepEqual(ops(bytewise), whole);
  assert.equal(r.idle, true);
  assert.equal(r.end(), null, 'clean end between requests');
});

test('an empty set is a request with no lines', () => {
  assert.deepEqual(ops(new RequestReader().push(b('set=1\n\n'))), [{ op: 'set', lines: [] }]);
});

test('bytes are not decoded as UTF-8: invalid sequences reach the protocol as latin1 text', () => {
  const [req] = new RequestReader().push(Buffer.from([...b('set=1\nk\xff\xfe=v\n'), 0x0a]));
  assert.deepEqual(req, { op: 'set', lines: ['k\xff\xfe=v'] });
});

const fatal: Array<[string, string, number, RegExp]> = [
  ['unknown operation', 'put=1\n\n', 71, /unknown operation "put=1"/],
  ['get=2', 'get=2\n\n', 71, /unknown operation/],
  ['empty op line', '\n', 71, /unknown operation ""/],
  ['CRLF op', 'get=1\r\n\r\n', 71, /unknown operation/],
  ['get followed by a key', 'get=1\nlisten_port=1\n\n', 22, /get=1 must be followed by an empty line/],
];
for (const [name, text, errno, re] of fatal) {
  test(`fatal ${errno}: ${name}`, () => {
    const r = new RequestReader();
    const out = ops(r.push(b(text)));
    assert.equal(out.length, 1);
    const f = out[0] as { fatal: number; message: string };
    assert.equal(f.fatal, errno);
    assert.match(f.message, re);
    assert.deepEqual(r.push(b('get=1\n\n')), [], 'nothing more after a fatal error');
    assert.equal(r.end(), null);
  });
}

test('requests before a broken one are still delivered', () => {
  assert.deepEqual(
    ops(new RequestReader().push(b('get=1\n\nset=1\nfwmark=1\n\nbogus\n'))).map(
      (r) => (r as { op?: string }).op ?? 'fatal',
    ),
    ['get', 'set', 'fatal'],
  );
});

test('limits: line length, request bytes and lines per set are bounded without buffering the excess', () => {
  const limits = { maxRequestBytes: 200, maxLineBytes: 32, maxLines: 3 };
  let r = new RequestReader(limits);
  assert.deepEqual(r.push(b(`set=1\n${'x'.repeat(20)}`)), []);
  const [long] = ops(r.push(b('y'.repeat(20)))) as Array<{ fatal: number; message: string }>;
  assert.equal(long.fatal, 90);
  assert.match(long.message, /line longer than 32 bytes/);

  r = new RequestReader(limits);
  const [many] = ops(r.push(b('set=1\na=1\nb=2\nc=3\nd=4\n\n'))) as Array<{ fatal: number; message: string }>;
  assert.equal(many.fatal, 90);
  assert.match(many.message, /more than 3 lines/);

  r = new RequestReader({ ...limits, maxLines: 1000 });
  const out = ops(r.push(b(`set=1\n${'k=0123456789012345678901234\n'.repeat(10)}\n`))) as Array<{
    fatal: number;
    message: string;
  }>;
  assert.equal(out[0].fatal, 90);
  assert.match(out[0].message, /request longer than 200 bytes/);

  // A megabyte without a newline is refused at the first chunk past the line limit.
  r = new RequestReader();
  const [huge] = ops(r.push(Buffer.alloc(1 << 20, 0x41))) as Array<{ fatal: number }>;
  assert.equal(huge.fatal, 90);
});

test('the byte budget is per request: many small requests in one connection are fine', () => {
  const r = new RequestReader({ maxRequestBytes: 64, maxLineBytes: 32, maxLines: 4 });
  const out = r.push(b('set=1\nlisten_port=1\n\n'.repeat(100)));
  assert.equal(out.length, 100);
  assert.ok(out.every((x) => x.op === 'set'));
});

test('end of stream in the middle of a request is a protocol error (nothing is applied)', () => {
  for (const text of ['get=1\n', 'set=1\nlisten_port=1\n', 'set=1\nlisten_po', 'se']) {
    const r = new RequestReader();
    assert.deepEqual(r.push(b(text)), []);
    const e = r.end();
    assert.ok(e && e.op === 'fatal' && e.error.errno === 71, text);
  }
});
