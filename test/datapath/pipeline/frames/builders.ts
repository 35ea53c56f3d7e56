// Builders of the hand-built valid frames: Ethernet + IPv4 / IPv6 toward a port, echo,
// NS / NA bodies, IPv6 extension-header chains.
import {
  type Ipv4Opts,
  PORT_MACS,
  bytes,
  concat,
  eth,
  extHeader,
  fragHeader,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  udp,
} from '../../harness.js';

/** A hand-built valid frame, named, and the port it arrives on. */
export interface Base {
  name: string;
  port: number;
  frame: Uint8Array;
}

/** IP protocol numbers, and a payload. */
export const U = 17;
export const T = 6;
export const PAY = bytes(64, 3);

/** An IPv4 frame to port `port`'s MAC. */
export function v4(port: number, srcMac: Uint8Array, o: Ipv4Opts, payload: Uint8Array): Uint8Array {
  return eth(PORT_MACS[port], srcMac, 0x0800, ipv4(o, payload));
}

/** An IPv6 frame to port `port`'s MAC (or dstMac). */
export function v6(
  port: number,
  srcMac: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  next: number,
  hops: number,
  payload: Uint8Array,
  dstMac = PORT_MACS[port],
): Uint8Array {
  return eth(dstMac, srcMac, 0x86dd, ipv6(src, dst, next, hops, payload));
}

export const echo4 = (_src: Uint8Array, _dst: Uint8Array): Uint8Array => icmp4(8, 0, 0x42420001, bytes(32, 5));
export const echo6 = (src: Uint8Array, dst: Uint8Array): Uint8Array =>
  icmp6(src, dst, 128, 0, concat(Uint8Array.of(0x42, 0x42, 0, 1), bytes(32, 9)));
export const nsBody = (target: Uint8Array, sll?: Uint8Array): Uint8Array =>
  concat(new Uint8Array(4), target, sll ? concat(Uint8Array.of(1, 1), sll) : new Uint8Array(0));
export const naBody = (target: Uint8Array, tll: Uint8Array, flags = 0x60): Uint8Array =>
  concat(Uint8Array.of(flags, 0, 0, 0), target, Uint8Array.of(2, 1), tll);
export const ZERO6 = new Uint8Array(16);
export const ZERO_MAC = new Uint8Array(6);

/** UDP inside HBH + dest-opts + routing (type 253, segments left 0) + fragment (first) headers. */
export function udp6WithExt(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const u = udp(src, dst, 5000, 53, PAY);
  const frag = fragHeader(U, 0, true, 0xabcd);
  const rh = extHeader(44, 24, (x) => {
    x[2] = 253; // experimental routing type
    x[3] = 0; // segments left
  });
  const dopt = extHeader(43, 8);
  const hbh = extHeader(60, 16);
  return concat(hbh, dopt, rh, frag, u);
}

/** UDP behind hop-by-hop + (n - 1) destination-options headers: 8 are allowed, 9 are too many. */
export function udp6Chain(src: Uint8Array, dst: Uint8Array, n: number): Uint8Array {
  const hs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) hs.push(extHeader(i === n - 1 ? U : 60, 8));
  return concat(...hs, udp(src, dst, 7, 7, PAY));
}

/** A copy of f, changed by fn. */
export function patched(f: Uint8Array, fn: (f: Uint8Array) => void): Uint8Array {
  const g = f.slice();
  fn(g);
  return g;
}
