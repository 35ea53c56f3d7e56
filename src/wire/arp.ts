// ARP for IPv4 over Ethernet (RFC 826). Only the htype/ptype/hlen/plen we route are valid.
import { get16, put16, copy } from './bytes.js';

export const ARP_LEN = 28;
export const ARP_OP = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

/** True when the ARP payload at o (len bytes available) is Ethernet/IPv4 and complete. */
export function arpValid(b: Uint8Array, o: number, len: number): boolean {
  return len >= ARP_LEN && get16(b, o) === 1 && get16(b, o + 2) === 0x0800 && b[o + 4] === 6 && b[o + 5] === 4;
}

export function arpOp(b: Uint8Array, o: number): number {
  return get16(b, o + ARP_OP);
}

/** Writes a complete ARP body (sha/spa from src arrays, tha/tpa likewise). */
export function writeArp(
  b: Uint8Array,
  o: number,
  op: number,
  sha: Uint8Array,
  shaOff: number,
  spa: Uint8Array,
  spaOff: number,
  tha: Uint8Array,
  thaOff: number,
  tpa: Uint8Array,
  tpaOff: number,
): void {
  put16(b, o, 1);
  put16(b, o + 2, 0x0800);
  b[o + 4] = 6;
  b[o + 5] = 4;
  put16(b, o + ARP_OP, op);
  copy(b, o + ARP_SHA, sha, shaOff, 6);
  copy(b, o + ARP_SPA, spa, spaOff, 4);
  copy(b, o + ARP_THA, tha, thaOff, 6);
  copy(b, o + ARP_TPA, tpa, tpaOff, 4);
}
