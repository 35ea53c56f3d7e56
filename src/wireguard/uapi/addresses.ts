// Allowed IPs and endpoints as the UAPI writes them. Allowed IPs are stored canonical (host
// bits cleared, as WireGuard masks them), so one prefix has one spelling and one owner.
import { parseIpv4, formatIpv4 } from '../../wire/ipv4.js';
import { parseIpv6, formatIpv6 } from '../../wire/ipv6.js';
import { maskBytes } from '../../wire/addr.js';
import { Errno, UapiError, quote } from './errors.js';

export interface IpPrefix {
  readonly family: 4 | 6;
  /** Network address, host bits zero. */
  readonly bytes: Uint8Array;
  readonly len: number;
  /** Canonical text, e.g. "198.18.70.0/24"; also the key of the device's prefix index. */
  readonly text: string;
}

export interface Endpoint {
  readonly family: 4 | 6;
  readonly address: Uint8Array;
  readonly port: number;
  /** "198.18.0.9:51871" or "[2001:db8::9]:51871". */
  readonly text: string;
}

/** IPv6 text as Go's netip prints it: RFC 5952, with IPv4-mapped addresses dotted. */
export function formatIp(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return formatIpv4(bytes);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? `::ffff:${formatIpv4(bytes, 12)}` : formatIpv6(bytes);
}

function parseIp(text: string): { family: 4 | 6; bytes: Uint8Array } | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : null;
  return v6 ? { family: 6, bytes: v6 } : null;
}

/** "198.18.70.5/24" → 198.18.70.0/24. The length is required, as in the protocol. */
export function parseAllowedIp(text: string): IpPrefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new UapiError(Errno.EINVAL, `allowed_ip: ${quote(text)} has no prefix length`);
  const addr = parseIp(text.slice(0, slash));
  if (!addr) throw new UapiError(Errno.EINVAL, `allowed_ip: ${quote(text)} is not an IPv4 or IPv6 prefix`);
  const lenText = text.slice(slash + 1);
  const max = addr.family === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max) {
    throw new UapiError(Errno.EINVAL, `allowed_ip: ${quote(text)} has an invalid prefix length (0..${max})`);
  }
  return makePrefix(addr.family, addr.bytes, Number(lenText));
}

export function makePrefix(family: 4 | 6, bytes: Uint8Array, len: number): IpPrefix {
  const net = maskBytes(bytes, len);
  return { family, bytes: net, len, text: `${formatIp(family, net)}/${len}` };
}

/** "IPv4:port" or "[IPv6]:port". Zones are refused: the dataplane has no use for them. */
export function parseEndpoint(text: string): Endpoint {
  let host: string;
  let portText: string;
  let family: 4 | 6;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      throw new UapiError(Errno.EINVAL, `endpoint: ${quote(text)} is not [IPv6]:port`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    family = 6;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new UapiError(Errno.EINVAL, `endpoint: ${quote(text)} has no port`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    family = 4;
  }
  if (host.includes('%'))
    throw new UapiError(Errno.EINVAL, `endpoint: ${quote(text)} has a zone, which is not supported`);
  const bytes = family === 4 ? parseIpv4(host) : parseIpv6(host);
  if (!bytes) {
    const hint = family === 4 && host.includes(':') ? ' (IPv6 endpoints are written [address]:port)' : '';
    throw new UapiError(
      Errno.EINVAL,
      `endpoint: ${quote(text)} is not an IP${family === 4 ? 'v4' : 'v6'} address and port${hint}`,
    );
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new UapiError(Errno.EINVAL, `endpoint: ${quote(text)} has an invalid port (0..65535)`);
  return makeEndpoint(family, bytes, Number(portText));
}

export function makeEndpoint(family: 4 | 6, address: Uint8Array, port: number): Endpoint {
  const ip = formatIp(family, address);
  return { family, address: new Uint8Array(address), port, text: family === 4 ? `${ip}:${port}` : `[${ip}]:${port}` };
}
