// Loads the scapy-crafted reference frames (test/fixtures/wire/frames.json, made by
// gen_fixtures.py) and the field values scapy reported for them. Offsets are absolute.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface EthInfo {
  dst: string;
  src: string;
  type: number;
}
export interface ArpInfo {
  off: number;
  hwtype: number;
  ptype: number;
  hwlen: number;
  plen: number;
  op: number;
  hwsrc: string;
  psrc: string;
  hwdst: string;
  pdst: string;
}
export interface Ipv4Info {
  off: number;
  version: number;
  ihl: number;
  hlen: number;
  options_len: number;
  tos: number;
  len: number;
  id: number;
  DF: boolean;
  MF: boolean;
  frag: number;
  ttl: number;
  proto: number;
  chksum: number;
  src: string;
  dst: string;
  l4_off: number;
}
export interface ExtHeader {
  nh: number;
  off: number;
  len: number;
}
export interface Ipv6Info {
  off: number;
  version: number;
  tc: number;
  fl: number;
  plen: number;
  nh: number;
  hlim: number;
  src: string;
  dst: string;
  ext: ExtHeader[];
  l4_off: number;
  l4_proto: number;
  fragment: boolean;
  later_fragment: boolean;
  pseudo_dst: string;
}
export interface UdpInfo {
  off: number;
  sport: number;
  dport: number;
  len: number;
  chksum: number;
}
export interface TcpInfo {
  off: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  dataofs: number;
  hlen: number;
  flags: number;
  window: number;
  chksum: number;
}
export interface IcmpInfo {
  off: number;
  type: number;
  code: number;
  chksum: number;
  id?: number;
  seq?: number;
  nexthopmtu?: number;
  quote_off?: number;
  quote?: { ihl: number; len: number; proto: number; chksum: number; src: string; dst: string; bytes: number };
}
export interface NdOption {
  type: number;
  len: number;
  off: number;
  lladdr?: string;
}
export interface Icmpv6Info {
  off: number;
  type: number;
  code: number;
  chksum: number;
  id?: number;
  seq?: number;
  mtu?: number;
  quote_off?: number;
  quote_bytes?: number;
  target?: string;
  options_off?: number;
  options?: NdOption[];
  R?: boolean;
  S?: boolean;
  O?: boolean;
}
export interface Frame {
  name: string;
  description: string;
  hex: string;
  len: number;
  /** The L4 header and all its payload are in this frame (not a fragment). */
  l4_complete: boolean;
  eth: EthInfo;
  arp?: ArpInfo;
  ipv4?: Ipv4Info;
  ipv6?: Ipv6Info;
  udp?: UdpInfo;
  tcp?: TcpInfo;
  icmp?: IcmpInfo;
  icmpv6?: Icmpv6Info;
}

const fixturePath = fileURLToPath(new URL('../../../test/fixtures/wire/frames.json', import.meta.url));

export const FRAMES: readonly Frame[] = JSON.parse(readFileSync(fixturePath, 'utf8')) as Frame[];

type Layer = 'arp' | 'ipv4' | 'ipv6' | 'udp' | 'tcp' | 'icmp' | 'icmpv6';
export type FrameWith<K extends Layer> = Frame & Required<Pick<Frame, K>>;

/** The named frame; the layers listed must be present (checked) and are typed non-optional. */
export function frame<K extends Layer = never>(name: string, ...layers: K[]): FrameWith<K> {
  const f = FRAMES.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture frame "${name}"`);
  for (const l of layers) if (f[l] === undefined) throw new Error(`fixture frame "${name}" has no ${l} layer`);
  return f as FrameWith<K>;
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

/** A fresh, mutable copy of the frame's bytes. */
export function bytesOf(f: Frame): Uint8Array {
  return hexBytes(f.hex);
}

/** Frames that carry all the given layers, narrowed so those layers are non-optional. */
export function framesWith<K extends Layer>(...layers: K[]): FrameWith<K>[] {
  return FRAMES.filter((f): f is FrameWith<K> => layers.every((l) => f[l] !== undefined));
}

/** Bytes the IP header says the L4 segment has (from the L4 offset to the end of the IP packet). */
export function l4Length(f: Frame): number {
  if (f.ipv4) return f.ipv4.off + f.ipv4.len - f.ipv4.l4_off;
  if (f.ipv6) return f.ipv6.off + 40 + f.ipv6.plen - f.ipv6.l4_off;
  throw new Error(`${f.name} has no IP layer`);
}

/** Independent dotted-quad reader, so view tests do not depend on formatIpv4. */
export function dotted(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 4)).join('.');
}
