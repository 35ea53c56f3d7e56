// UDP header view (RFC 768).
import { get16, put16 } from './bytes.js';
import { sum16, finish, pseudoSum4, pseudoSum6 } from './checksum.js';
import { IPPROTO_UDP } from './ipv4.js';

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

/** Writes an 8-byte header; the checksum is left to the caller (0 means "none" over IPv4). */
export function writeUdpHeader(
  b: Uint8Array,
  o: number,
  srcPort: number,
  dstPort: number,
  len: number,
  csum: number,
): void {
  put16(b, o + UDP_SRC_PORT, srcPort);
  put16(b, o + UDP_DST_PORT, dstPort);
  put16(b, o + UDP_LEN, len);
  put16(b, o + UDP_CSUM, csum);
}

/**
 * The UDP checksum of the datagram at o (len bytes, as its length field says) verifies through
 * the IPv4 pseudo header of the packet at ipOff. Zero means "no checksum" over IPv4 (RFC 768).
 */
export function udpChecksumOk4(b: Uint8Array, ipOff: number, o: number, len: number): boolean {
  if (get16(b, o + UDP_CSUM) === 0) return true;
  return finish(sum16(b, o, len, pseudoSum4(b, ipOff, IPPROTO_UDP, len))) === 0;
}

/** Same over IPv6, where a zero checksum is not allowed (RFC 8200 §8.1; no RFC 6936 mode here). */
export function udpChecksumOk6(b: Uint8Array, ipOff: number, o: number, len: number): boolean {
  if (get16(b, o + UDP_CSUM) === 0) return false;
  return finish(sum16(b, o, len, pseudoSum6(b, ipOff, IPPROTO_UDP, len))) === 0;
}
