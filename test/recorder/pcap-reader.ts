// A minimal classic-pcap reader for the tests (not a test file).
import assert from 'node:assert/strict';

export interface PcapRecord {
  sec: number;
  usec: number;
  capLen: number;
  origLen: number;
  data: Uint8Array;
}

export function readPcap(buf: Buffer): { snaplen: number; linktype: number; records: PcapRecord[] } {
  assert.equal(buf.readUInt32LE(0), 0xa1b2c3d4, 'microsecond pcap magic');
  assert.equal(buf.readUInt16LE(4), 2);
  assert.equal(buf.readUInt16LE(6), 4);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < buf.length) {
    assert.ok(at + 16 <= buf.length, 'truncated record header');
    const capLen = buf.readUInt32LE(at + 8);
    assert.ok(at + 16 + capLen <= buf.length, 'truncated record');
    records.push({
      sec: buf.readUInt32LE(at),
      usec: buf.readUInt32LE(at + 4),
      capLen,
      origLen: buf.readUInt32LE(at + 12),
      data: Uint8Array.from(buf.subarray(at + 16, at + 16 + capLen)),
    });
    at += 16 + capLen;
  }
  return { snaplen: buf.readUInt32LE(16), linktype: buf.readUInt32LE(20), records };
}
