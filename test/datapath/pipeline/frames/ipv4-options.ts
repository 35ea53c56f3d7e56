// IPv4 options for the fragmentation seeds. Copied: router alert (0x94), stream ID (0x88),
// security (0x82); not copied: record route (7), timestamp (0x44).
import { bytes, concat } from '../../harness.js';

export const OPTS_MIXED = Uint8Array.of(0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 1, 0x88, 4, 0x12, 0x34);
export const OPTS_NOT_COPIED = Uint8Array.of(7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** 40 bytes: security (11), router alert (4), record route (23), NOP, EOL. */
export const OPTS_MAX = concat(
  Uint8Array.of(0x82, 11),
  bytes(9, 5),
  Uint8Array.of(0x94, 4, 0, 0, 7, 23, 4),
  new Uint8Array(20),
  Uint8Array.of(1, 0),
);
/** EOL, then bytes that would not parse as options (ignored). */
export const OPTS_EOL_JUNK = Uint8Array.of(0x94, 4, 0, 0, 0, 0xff, 2, 0x33);
/** Record route whose length byte runs past the header; a type byte without a length. */
export const OPTS_BAD = Uint8Array.of(0x94, 4, 0, 0, 7, 9, 4, 0, 0, 0, 0, 0);
export const OPTS_BAD_TAIL = Uint8Array.of(1, 1, 1, 0x83);
