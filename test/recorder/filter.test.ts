// Recorder filter syntax (hubble's "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO") and masks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseFilter,
  parseFilters,
  formatFilter,
  filterMask,
  maskName,
  maskSpecificity,
  RecorderError,
} from '../../src/recorder/filter.js';

test('valid filters parse and print back the same', () => {
  for (const t of [
    '198.18.7.0/24 0 198.18.100.1/32 80 TCP',
    '0.0.0.0/0 0 0.0.0.0/0 0 ANY',
    '198.18.0.0/15 5353 198.18.100.1/32 53 UDP',
    '198.18.7.7/32 0 198.18.100.1/32 0 ICMP',
    '2001:db8::/32 0 2001:db8:18:100::1/128 443 TCP',
    '2001:db8:7::/48 0 ::/0 0 ICMPv6',
  ])
    assert.equal(formatFilter(parseFilter(t)), t);
  // Case and spacing are forgiven.
  assert.equal(
    formatFilter(parseFilter('  198.18.7.0/24   0 198.18.100.1/32 80 tcp ')),
    '198.18.7.0/24 0 198.18.100.1/32 80 TCP',
  );
});

test('each malformed filter is refused with a message naming the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['198.18.7.0/24 0 198.18.100.1/32 80', /expected 5 fields/],
    ['198.18.7.0/24 0 198.18.100.1/32 80 TCP extra', /expected 5 fields/],
    ['198.18.7.1/24 0 198.18.100.1/32 80 TCP', /host bits set.*198\.18\.7\.0\/24/],
    ['198.18.7.0/33 0 198.18.100.1/32 80 TCP', /invalid prefix length/],
    ['198.18.7.0 0 198.18.100.1/32 80 TCP', /needs a prefix length/],
    ['198.18.300.0/24 0 198.18.100.1/32 80 TCP', /not an IPv4 or IPv6 address/],
    ['198.18.7.0/24 x 198.18.100.1/32 80 TCP', /source port "x"/],
    ['198.18.7.0/24 0 198.18.100.1/32 65536 TCP', /destination port "65536"/],
    ['198.18.7.0/24 0 198.18.100.1/32 80 SCTP', /protocol "SCTP"/],
    ['198.18.7.0/24 0 2001:db8::/32 80 TCP', /different address families/],
    ['198.18.7.0/24 0 198.18.100.1/32 0 ICMPv6', /does not go with IPv4/],
    ['2001:db8::/32 0 2001:db8::/32 0 ICMP', /does not go with IPv6/],
    ['198.18.7.0/24 0 198.18.100.1/32 8 ICMP', /ICMP has no ports/],
    [42, /must be a string/],
  ];
  for (const [t, re] of cases)
    assert.throws(
      () => parseFilter(t),
      (e: Error) => e instanceof RecorderError && re.test(e.message),
      String(t),
    );
});

test('a list needs one filter at least and no duplicates', () => {
  assert.throws(() => parseFilters([]), /at least one filter/);
  assert.throws(() => parseFilters('198.18.7.0/24 0 198.18.100.1/32 80 TCP'), /at least one filter/);
  assert.throws(
    () => parseFilters(['198.18.7.0/24 0 198.18.100.1/32 80 TCP', '198.18.7.0/24  0 198.18.100.1/32 80 tcp']),
    /given twice/,
  );
  assert.equal(
    parseFilters(['198.18.7.0/24 0 198.18.100.1/32 80 TCP', '198.18.7.0/24 0 198.18.100.1/32 80 UDP']).length,
    2,
  );
});

test('masks: filters differing only in addresses and ports share one; wildcards and lengths make new ones', () => {
  const m = (t: string): string => maskName(filterMask(parseFilter(t)));
  assert.equal(m('198.18.7.0/24 1 198.18.100.1/32 80 TCP'), m('198.18.9.0/24 2 198.18.100.2/32 443 UDP'));
  assert.notEqual(m('198.18.7.0/24 1 198.18.100.1/32 80 TCP'), m('198.18.7.0/24 0 198.18.100.1/32 80 TCP'));
  assert.notEqual(m('198.18.7.0/24 1 198.18.100.1/32 80 TCP'), m('198.18.7.0/24 1 198.18.100.1/32 80 ANY'));
  assert.notEqual(m('198.18.7.0/24 1 198.18.100.1/32 80 TCP'), m('198.18.7.0/25 1 198.18.100.1/32 80 TCP'));
  const spec = (t: string): number => maskSpecificity(filterMask(parseFilter(t)));
  assert.ok(spec('198.18.7.7/32 1 198.18.100.1/32 80 TCP') > spec('198.18.7.0/24 1 198.18.100.1/32 80 TCP'));
  assert.ok(spec('198.18.7.0/24 1 198.18.100.1/32 80 TCP') > spec('198.18.7.0/24 0 198.18.100.1/32 80 TCP'));
  assert.ok(spec('198.18.7.0/24 0 198.18.100.1/32 80 TCP') > spec('198.18.7.0/24 0 198.18.100.1/32 80 ANY'));
});
