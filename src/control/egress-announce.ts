// Frames a new egress IP owner sends out of its uplink so that the neighbours' caches move to
// its MAC at once: a gratuitous ARP request (sender = target = the IP, RFC 5227 §3's
// announcement) or an unsolicited neighbour advertisement with the override flag to all nodes
// (RFC 4861 §7.2.6). Control thread only (allocates).
import type { Address } from '../wire/addr.js';

function csum(b: Uint8Array, from: number, to: number, seed: number): number {
  let s = seed;
  for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function announceFrame(ip: Address, mac: Uint8Array): Uint8Array {
  if (ip.family === 4) {
    const f = new Uint8Array(60);
    f.fill(0xff, 0, 6);
    f.set(mac, 6);
    f[12] = 0x08;
    f[13] = 0x06;
    f.set([0, 1, 0x08, 0, 6, 4, 0, 1], 14);
    f.set(mac, 22);
    f.set(ip.bytes, 28);
    f.set(ip.bytes, 38);
    return f;
  }
  const f = new Uint8Array(14 + 40 + 32);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0);
  f.set(mac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  const ip6 = 14;
  f[ip6] = 0x60;
  f[ip6 + 5] = 32; // payload length
  f[ip6 + 6] = 58; // ICMPv6
  f[ip6 + 7] = 255;
  f.set(ip.bytes, ip6 + 8);
  f.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], ip6 + 24);
  const m = ip6 + 40;
  f[m] = 136;
  f[m + 4] = 0x20; // override
  f.set(ip.bytes, m + 8);
  f[m + 24] = 2; // target link-layer address
  f[m + 25] = 1;
  f.set(mac, m + 26);
  // Pseudo-header: source, destination, length 32, next header 58.
  let seed = 32 + 58;
  for (let i = 0; i < 32; i += 2) seed += (f[ip6 + 8 + i]! << 8) | f[ip6 + 9 + i]!;
  const c = csum(f, m, m + 32, seed);
  f[m + 2] = c >>> 8;
  f[m + 3] = c & 0xff;
  return f;
}
