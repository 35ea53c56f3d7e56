// Address and prefix parsing for configuration and the control plane (allocates freely: never
// on the per-packet path).
import { parseIpv4, formatIpv4 } from './ipv4.js';
import { parseIpv6, formatIpv6 } from './ipv6.js';

export interface Address {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface Prefix extends Address {
  len: number;
}

export function parseAddress(text: string): Address | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
}

/** "198.18.0.0/24" or "2001:db8::/32"; a bare address is a host prefix. */
export function parsePrefix(text: string, opts: { allowHostBits: boolean }): Prefix | string {
  const slash = text.indexOf('/');
  const addr = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return `"${text}" is not an IPv4 or IPv6 address`;
  const max = addr.family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const t = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(t) || Number(t) > max) return `"${text}" has an invalid prefix length (0..${max})`;
    len = Number(t);
  }
  if (!opts.allowHostBits && !hostBitsClear(addr.bytes, len))
    return (
      `"${text}" has host bits set (did you mean ` +
      `${formatPrefix({ ...addr, bytes: maskBytes(addr.bytes, len), len })}?)`
    );
  return { ...addr, len };
}

export function maskBytes(bytes: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = bytes[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

export function hostBitsClear(bytes: Uint8Array, len: number): boolean {
  const m = maskBytes(bytes, len);
  return m.every((v, i) => v === bytes[i]);
}

export function formatAddress(a: Address): string {
  return a.family === 4 ? formatIpv4(a.bytes) : formatIpv6(a.bytes);
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p)}/${p.len}`;
}

export function prefixContains(p: Prefix, a: Address): boolean {
  if (p.family !== a.family) return false;
  const m = maskBytes(a.bytes, p.len);
  return m.every((v, i) => v === p.bytes[i]);
}

/** Link-local address from a MAC by modified EUI-64 (RFC 4291 appendix A). */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0] ^ 0x02;
  a[9] = mac[1];
  a[10] = mac[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3];
  a[14] = mac[4];
  a[15] = mac[5];
  return a;
}

/** True when inner lies entirely inside outer. */
export function prefixWithin(inner: Prefix, outer: Prefix): boolean {
  return inner.family === outer.family && inner.len >= outer.len && prefixContains(outer, inner);
}

/** True when the two prefixes share any address. */
export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && (a.len <= b.len ? prefixContains(a, b) : prefixContains(b, a));
}

/** The address `n` hosts into a prefix (n may exceed 2^32 only through BigInt). */
export function nthAddress(p: Prefix, n: bigint): Address {
  const bytes = Uint8Array.from(p.bytes);
  let carry = n;
  for (let i = bytes.length - 1; i >= 0 && carry > 0n; i--) {
    const v = BigInt(bytes[i]) + (carry & 0xffn);
    bytes[i] = Number(v & 0xffn);
    carry = (carry >> 8n) + (v >> 8n);
  }
  return { family: p.family, bytes };
}

/** Number of addresses in a prefix. */
export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt((p.family === 4 ? 32 : 128) - p.len);
}
