// UDP header view (RFC 768).
import { get16 } from './bytes.js';

export const UDP_HLEN = 8;
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LEN = 4;
export const UDP_CSUM = 6;

/** The UDP length must cover the header and fit in what the IP header says it carries. */
export function udpLengthValid(b: Uint8Array, o: number, l4avail: number): boolean {
  if (l4avail < UDP_HLEN) return false;
  const len = get16(b, o + UDP_LEN);
  return len >= UDP_HLEN && len <= l4avail;
}
