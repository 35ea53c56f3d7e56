// The pcap file format, byte for byte (what tcpdump -w writes on a little-endian machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcapFileHeader, writePcapRecordHeader } from '../../src/recorder/pcap.js';

test('file header: microsecond magic, version 2.4, UTC, snaplen, Ethernet', () => {
  assert.equal(
    pcapFileHeader(262144).toString('hex'),
    'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + '00000400' + '01000000',
  );
  assert.equal(pcapFileHeader(64).toString('hex').slice(32, 40), '40000000');
});

test('record header: seconds, microseconds, captured and original lengths', () => {
  const b = Buffer.alloc(16);
  writePcapRecordHeader(b, 0, 1_764_000_000, 123456, 64, 1514);
  assert.equal(b.toString('hex'), '00812469' + '40e20100' + '40000000' + 'ea050000');
});
