// Ethernet II header view. VLAN tags are not parsed: tagged frames are dropped by the caller.
import { get16, put16, copy } from './bytes.js';

export const ETH_HLEN = 14;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export function ethType(b: Uint8Array, o: number): number {
  return get16(b, o + ETH_TYPE);
}

export function isBroadcast(b: Uint8Array, macOff: number): boolean {
  return (b[macOff] & b[macOff + 1] & b[macOff + 2] & b[macOff + 3] & b[macOff + 4] & b[macOff + 5]) === 0xff;
}

/** Group bit set: broadcast and multicast. */
export function isGroup(b: Uint8Array, macOff: number): boolean {
  return (b[macOff] & 1) === 1;
}

export function writeEthernet(
  b: Uint8Array,
  o: number,
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  type: number,
): void {
  copy(b, o + ETH_DST, dst, dstOff, 6);
  copy(b, o + ETH_SRC, src, srcOff, 6);
  put16(b, o + ETH_TYPE, type);
}

/** IPv6 multicast MAC 33:33 + low 32 bits of the group address (RFC 2464 §7). */
export function writeIpv6MulticastMac(b: Uint8Array, macOff: number, group: Uint8Array, groupOff: number): void {
  b[macOff] = 0x33;
  b[macOff + 1] = 0x33;
  copy(b, macOff + 2, group, groupOff + 12, 4);
}

// Control-plane helpers (allocate; never on the fast path).

export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`invalid MAC address "${text}"`);
  return Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array, o = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[o + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}
