// IPv4 fragmentation (RFC 791 §3.2), modelled: which options later fragments copy, and how a
// packet must be cut for a path MTU (or which dropFragment* counter it gets instead).
import { g16 } from '../reading/frame.js';

/**
 * The options of an IPv4 header (hdr: the whole header) that later fragments carry: those
 * with the copied flag (0x80), padded with EOL to a multiple of 4; null when the walk meets
 * an option whose length byte is missing, below 2 or past the header.
 */
function copiedOptions(hdr: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  let p = 20;
  while (p < hdr.length) {
    const type = hdr[p];
    if (type === 0) break;
    if (type === 1) {
      p += 1;
      continue;
    }
    if (p + 1 >= hdr.length || hdr[p + 1] < 2 || p + hdr[p + 1] > hdr.length) return null;
    if (type & 0x80) out.push(...hdr.subarray(p, p + hdr[p + 1]));
    p += hdr[p + 1];
  }
  while (out.length % 4) out.push(0);
  return Uint8Array.from(out);
}

export interface PlannedFragment {
  /** Position of its data in the packet's payload. */
  pos: number;
  len: number;
  hlen: number;
  /** The flags / fragment offset word. */
  word: number;
}

export type FragVerdict =
  | 'fragmented'
  | 'dropFragmentBadOptions'
  | 'dropFragmentOffsetOverflow'
  | 'dropFragmentNoSlots';

/** The model's verdict, the fragments it cuts, and the options the later ones carry. */
export interface FragmentPlan {
  verdict: FragVerdict;
  frags: PlannedFragment[];
  later: Uint8Array;
}

/** How the IPv4 packet in `input` (a frame) must be cut for an MTU, with genFree generated slots left. */
export function planFragments(input: Uint8Array, mtu: number, genFree: number): FragmentPlan {
  const hl = (input[14] & 15) * 4;
  const total = g16(input, 16);
  const w = g16(input, 20);
  const later = copiedOptions(input.subarray(14, 14 + hl));
  if (later === null) return { verdict: 'dropFragmentBadOptions', frags: [], later: new Uint8Array(0) };
  const frags: PlannedFragment[] = [];
  const data = total - hl;
  for (let pos = 0; pos < data; ) {
    const hlen = frags.length === 0 ? hl : 20 + later.length;
    const room = Math.floor((mtu - hlen) / 8) * 8;
    const len = Math.min(room, data - pos);
    const last = pos + len === data;
    frags.push({ pos, len, hlen, word: (w & 0x8000) | (last ? w & 0x2000 : 0x2000) | ((w & 0x1fff) + pos / 8) });
    pos += len;
  }
  let verdict: FragVerdict = 'fragmented';
  if (frags.some((f) => (w & 0x1fff) + f.pos / 8 > 0x1fff)) verdict = 'dropFragmentOffsetOverflow';
  else if (frags.length > genFree) verdict = 'dropFragmentNoSlots';
  return { verdict, frags, later };
}

/** The outcomes of a frame that reached fragmentation. */
export const FRAG_OUTCOMES = new Set<string>([
  'fragmented',
  'dropFragmentBadOptions',
  'dropFragmentOffsetOverflow',
  'dropFragmentNoSlots',
]);
