// Recorder filters in hubble's record syntax: "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO".
// Control plane only (allocates freely). A filter is matched by a masked lookup: its mask is
// the pair of prefix lengths plus which of the source port, destination port and protocol
// are wildcards, so every filter sharing a mask lives in one probe of one hash table.
import { parsePrefix, formatPrefix, type Prefix } from '../wire/addr.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 } from '../wire/ipv4.js';

export class RecorderError extends Error {}

/** Protocol numbers a filter may name; 0 = ANY. */
export const FILTER_PROTOCOLS: Record<string, number> = {
  TCP: IPPROTO_TCP,
  UDP: IPPROTO_UDP,
  ICMP: IPPROTO_ICMP,
  ICMPV4: IPPROTO_ICMP,
  ICMPV6: IPPROTO_ICMPV6,
  ANY: 0,
};

export interface Filter {
  src: Prefix;
  srcPort: number;
  dst: Prefix;
  dstPort: number;
  /** IP protocol number, 0 = any. */
  proto: number;
}

/** What makes two filters share a hash table: family, prefix lengths and wildcards. */
export interface FilterMask {
  family: 4 | 6;
  srcLen: number;
  dstLen: number;
  srcPortAny: boolean;
  dstPortAny: boolean;
  protoAny: boolean;
}

function port(text: string, what: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new RecorderError(`filter "${whole}": ${what} "${text}" is not a port (0..65535, 0 = any)`);
  return Number(text);
}

function prefix(text: string, what: string, whole: string): Prefix {
  // A bare address would silently mean /32 or /128: hubble requires the length, so do we.
  if (!text.includes('/'))
    throw new RecorderError(`filter "${whole}": ${what} "${text}" needs a prefix length (e.g. ${text}/32)`);
  const p = parsePrefix(text, { allowHostBits: false });
  if (typeof p === 'string') throw new RecorderError(`filter "${whole}": ${what} ${p}`);
  return p;
}

export function parseFilter(text: unknown): Filter {
  if (typeof text !== 'string') throw new RecorderError(`a filter must be a string, got ${JSON.stringify(text)}`);
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new RecorderError(
      `filter "${text}": expected 5 fields "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO", got ${parts.length}`,
    );
  const src = prefix(parts[0], 'source prefix', text);
  const srcPort = port(parts[1], 'source port', text);
  const dst = prefix(parts[2], 'destination prefix', text);
  const dstPort = port(parts[3], 'destination port', text);
  const protoName = parts[4].toUpperCase();
  if (!(protoName in FILTER_PROTOCOLS))
    throw new RecorderError(`filter "${text}": protocol "${parts[4]}" is not one of TCP, UDP, ICMP, ICMPv6, ANY`);
  const proto = FILTER_PROTOCOLS[protoName];
  if (src.family !== dst.family)
    throw new RecorderError(`filter "${text}": source and destination prefixes are of different address families`);
  if ((proto === IPPROTO_ICMP && src.family === 6) || (proto === IPPROTO_ICMPV6 && src.family === 4)) {
    throw new RecorderError(
      `filter "${text}": ${parts[4]} does not go with IPv${src.family} prefixes (use ICMP for IPv4, ICMPv6 for IPv6)`,
    );
  }
  if ((proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) && (srcPort !== 0 || dstPort !== 0)) {
    throw new RecorderError(`filter "${text}": ICMP has no ports (use 0)`);
  }
  return { src, srcPort, dst, dstPort, proto };
}

export function formatFilter(f: Filter): string {
  const name =
    Object.keys(FILTER_PROTOCOLS).find((k) => FILTER_PROTOCOLS[k] === f.proto && k !== 'ICMPV4') ?? String(f.proto);
  const proto = name === 'ICMPV6' ? 'ICMPv6' : name;
  return `${formatPrefix(f.src)} ${f.srcPort} ${formatPrefix(f.dst)} ${f.dstPort} ${proto}`;
}

export function filterMask(f: Filter): FilterMask {
  return {
    family: f.src.family,
    srcLen: f.src.len,
    dstLen: f.dst.len,
    srcPortAny: f.srcPort === 0,
    dstPortAny: f.dstPort === 0,
    protoAny: f.proto === 0,
  };
}

export function maskName(m: FilterMask): string {
  const any = (wild: boolean): string => (wild ? '*' : 'p');
  return `v${m.family}/${m.srcLen}/${m.dstLen}/${any(m.srcPortAny)}/${any(m.dstPortAny)}/${any(m.protoAny)}`;
}

/** Most specific first: longer prefixes, then fewer wildcards. */
export function maskSpecificity(m: FilterMask): number {
  const scale = m.family === 4 ? 4 : 1; // compare v4 and v6 lengths on one scale
  return (m.srcLen + m.dstLen) * scale * 8 + (m.srcPortAny ? 0 : 2) + (m.dstPortAny ? 0 : 2) + (m.protoAny ? 0 : 1);
}

/** Parses a list of filter strings; duplicates within the list are an error. */
export function parseFilters(list: unknown): Filter[] {
  if (!Array.isArray(list) || list.length === 0) throw new RecorderError('a recording needs at least one filter');
  const seen = new Set<string>();
  return list.map((t) => {
    const f = parseFilter(t);
    const k = formatFilter(f);
    if (seen.has(k)) throw new RecorderError(`filter "${String(t).trim()}" is given twice`);
    seen.add(k);
    return f;
  });
}
