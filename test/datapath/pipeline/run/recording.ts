// The harness of the node's own config records everything (IPv4 and IPv6, both capture points,
// 128 bytes) into a small ring that fills up: classification and capture run on every hostile
// frame too, and must neither throw nor change an outcome or a byte of any frame.
import assert from 'node:assert/strict';
import { C, Harness } from '../../harness.js';
import { RecorderTables, RecorderReader } from '../../../../src/recorder/tables.js';

function recordingEverything(): RecorderReader {
  const tables = new RecorderTables({ maxFilters: 16, workers: 1, ringBytes: 1 << 16 });
  tables.setCaptureLength(0, 128);
  const any = (bytes: Uint8Array) => ({
    src: { bytes, len: 0 },
    srcPort: 0,
    dst: { bytes, len: 0 },
    dstPort: 0,
    proto: 0,
  });
  tables.addFilter(0, any(new Uint8Array(4)), 0);
  tables.addFilter(1, any(new Uint8Array(16)), 0);
  const mask = (family: 4 | 6) => ({
    family,
    srcLen: 0,
    dstLen: 0,
    srcPortAny: true,
    dstPortAny: true,
    protoAny: true,
  });
  tables.publishMasks([
    { id: 0, mask: mask(4) },
    { id: 1, mask: mask(6) },
  ]);
  return new RecorderReader(tables.sabs, 0);
}

/** A harness of the test node that records every frame. */
export function recordingHarness(): Harness {
  return new Harness({ recorder: recordingEverything() });
}

/** After the mutated-frame runs: enough frames classified to fill the ring, and capture went on after. */
export function assertRecorderFilled(h: Harness): void {
  assert.ok(
    h.dp.ctr[C.recorderCaptured] > 100 && h.dp.ctr[C.recorderLost] > 1000,
    'the recorder ran on the frames, up to a full ring and on',
  );
}
