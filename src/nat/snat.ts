// Packet rewrites of the SNAT gateway and of masquerading, in place over a frame parsed by
// natParse, with incremental checksums (RFC 1624) and no allocation:
//
//   natRewriteSource       original direction: source address and port (echo id) := the
//                          translation (egress IP or node address, allocated port)
//   natRewriteDestination  reply direction: destination address and port (echo id) := the
//                          endpoint's original address and port
//   natRewriteIcmpError    an ICMP error about a translated flow: the outer address on one
//                          side and the quoted packet's address and port on the other
//
// The new address comes as big-endian 32-bit words (as the conntrack table stores it; IPv4
// uses the first word). Checksums patched: the IPv4 header checksum for an IPv4 address; the
// TCP / UDP / ICMPv6 checksum (pseudo-header: the address, and the port); the ICMPv4 checksum
// (the identifier only: no pseudo-header). A zero UDP checksum over IPv4 ("none") stays zero.
// For an ICMP error, the quoted IPv4 header checksum and the quoted L4 checksum (when the quote
// reaches it) are patched for the inner change, and the outer ICMP checksum, which covers the
// whole quote, for every word that changed inside it (plus, for ICMPv6, the outer address in
// its pseudo-header). A checksum that was wrong before stays exactly as wrong: receivers
// still drop what they would have dropped.
// The caller passes only packets natParse accepted (NAT_OK / NAT_ICMP_ERROR respectively).
import { get16 } from '../wire/bytes.js';
import { IPV4_CSUM } from '../wire/ipv4.js';
import { type NatPacket, CSUM_TCP, CSUM_UDP, CSUM_ICMP6 } from './packet.js';
import { writeAddr, writeWord, patchChecksum, patchUdpChecksum, patchPartialChecksum } from './csum.js';

export const SIDE_SRC = 0;
export const SIDE_DST = 1;

/** Patches an L4 checksum of kind at off for delta (address part addrDelta, port part portDelta). */
function patchL4(b: Uint8Array, kind: number, off: number, v4: boolean, addrDelta: number, portDelta: number): number {
  if (off < 0) return 0;
  if (kind === CSUM_TCP || kind === CSUM_ICMP6) return patchChecksum(b, off, addrDelta + portDelta);
  if (kind === CSUM_UDP) return patchUdpChecksum(b, off, addrDelta + portDelta, v4);
  return patchChecksum(b, off, portDelta); // ICMPv4: no pseudo-header
}

function rewrite(
  b: Uint8Array,
  p: NatPacket,
  addrOff: number,
  portOff: number,
  w: Int32Array,
  at: number,
  port: number,
  partial: boolean,
): void {
  const v4 = p.family === 4;
  const ad = writeAddr(b, addrOff, v4 ? 4 : 16, w, at);
  if (v4) patchChecksum(b, p.ipOff + IPV4_CSUM, ad);
  const pd = portOff >= 0 ? writeWord(b, portOff, port) : 0;
  if (partial && p.csumOff >= 0) patchPartialChecksum(b, p.csumOff, ad);
  else patchL4(b, p.csumKind, p.csumOff, v4, ad, pd);
}

/**
 * Original direction: source := (address w[at..], port). For an echo request the port is the
 * identifier. partial: the L4 checksum is left to the device (it holds the pseudo-header sum).
 */
export function natRewriteSource(
  b: Uint8Array,
  p: NatPacket,
  w: Int32Array,
  at: number,
  port: number,
  partial = false,
): void {
  rewrite(b, p, p.srcOff, p.sportOff, w, at, port, partial);
}

/** Reply direction: destination := (address w[at..], port). For an echo reply the port is the identifier. */
export function natRewriteDestination(
  b: Uint8Array,
  p: NatPacket,
  w: Int32Array,
  at: number,
  port: number,
  partial = false,
): void {
  rewrite(b, p, p.dstOff, p.dportOff, w, at, port, partial);
}

/**
 * ICMP error about a translated flow. outerSide SIDE_DST (an error coming back from outside,
 * about a packet we translated on its way out): outer destination, quoted source and quoted
 * source port := (address, port). outerSide SIDE_SRC (an error the endpoint sends about a
 * reply we reverse-translated): outer source, quoted destination and quoted destination port.
 * The quoted port is left alone when the quote has none on that side (an echo reply quoted
 * as "source").
 */
export function natRewriteIcmpError(
  b: Uint8Array,
  p: NatPacket,
  outerSide: number,
  w: Int32Array,
  at: number,
  port: number,
): void {
  const v4 = p.family === 4,
    nb = v4 ? 4 : 16;
  const outerOff = outerSide === SIDE_DST ? p.dstOff : p.srcOff;
  const innerAddrOff = outerSide === SIDE_DST ? p.innerSrcOff : p.innerDstOff;
  const innerPortOff = outerSide === SIDE_DST ? p.innerSportOff : p.innerDportOff;
  // Quoted packet first: its changes (and the changes of its checksums) are part of the quote.
  let quoted = writeAddr(b, innerAddrOff, nb, w, at);
  const innerAddrDelta = quoted;
  if (v4) quoted += patchChecksum(b, p.innerIpOff + IPV4_CSUM, innerAddrDelta);
  const pd = innerPortOff >= 0 ? writeWord(b, innerPortOff, port) : 0;
  quoted += pd;
  quoted += patchL4(b, p.innerCsumKind, p.innerCsumOff, v4, innerAddrDelta, pd);
  // Outer header and the ICMP checksum over the quote (and, for ICMPv6, the pseudo-header).
  const od = writeAddr(b, outerOff, nb, w, at);
  if (v4) patchChecksum(b, p.ipOff + IPV4_CSUM, od);
  patchChecksum(b, p.csumOff, p.csumKind === CSUM_ICMP6 ? quoted + od : quoted);
}

/** Reads the address at off (4 or 16 bytes) into big-endian words w[at..] (for conntrack keys). */
export function addrToWords(b: Uint8Array, off: number, family: number, w: Int32Array, at: number): void {
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < 4; i++) {
    w[at + i] = i < n ? (get16(b, off + 4 * i) << 16) | get16(b, off + 4 * i + 2) : 0;
  }
}
