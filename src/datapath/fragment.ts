// IPv4 fragmentation of forwarded packets (RFC 791 §3.2, RFC 1812 §4.2.2.7 / §5.2.6): a
// packet without DF above the egress MTU is split into fragments built in generated slots,
// each a copy of the Ethernet header, its IP header and its slice of the payload. The caller
// sends them (as fragments: see sendToNeighbour) and counts the packet as `fragmented`.
//
// - The first fragment carries the whole header with every option; later ones carry the
//   options whose copied flag is set, padded with EOL to a multiple of 4 bytes.
// - The data of every fragment but the last is a multiple of 8 bytes, as much as fits.
// - Offsets continue the packet's own (re-fragmenting a fragment); MF is set on all but the
//   last, and on the last too when the packet had it. DF is clear (else we would not be here);
//   the reserved flag is kept as it came.
// - All or nothing: when the generated slots cannot hold every fragment, none is built.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { GEN_SLOTS } from './arena.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import {
  IPV4_MIN_HLEN,
  IPV4_TOTLEN,
  IPV4_FRAG,
  IPV4_CSUM,
  IPV4_MF,
  IPV4_OFFSET_MASK,
  IPV4_RESERVED_FLAG,
  IPV4_OPT_EOL,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4CopiedOptions,
} from '../wire/ipv4.js';
import { checksum } from '../wire/checksum.js';
import { get16, put16, copy } from '../wire/bytes.js';

/** The fragments fragmentIpv4 built: frame offsets in the arena and frame lengths. */
export const fragOff = new Int32Array(GEN_SLOTS);
export const fragLen = new Int32Array(GEN_SLOTS);

/** The header of the later fragments, built once per packet. */
const laterHeader = new Uint8Array(60);

/**
 * Splits the IPv4 packet at ip (Ethernet frame at off; TTL already decremented) into
 * fragments of at most mtu bytes of IP. Returns how many it built (fragOff / fragLen), or 0
 * when the packet is dropped (counted here).
 */
export function fragmentIpv4(dp: Datapath, off: number, ip: number, mtu: number): number {
  const b = dp.arena.bytes;
  const hlen = ipv4HeaderLen(b, ip);
  const data = ipv4TotalLen(b, ip) - hlen;
  const word = get16(b, ip + IPV4_FRAG);
  copy(laterHeader, 0, b, ip, IPV4_MIN_HLEN);
  const copied = ipv4CopiedOptions(b, ip, laterHeader, IPV4_MIN_HLEN);
  if (copied < 0) {
    dp.ctr[C.dropFragmentBadOptions]++;
    return 0;
  }
  const laterHlen = (IPV4_MIN_HLEN + copied + 3) & ~3;
  for (let i = IPV4_MIN_HLEN + copied; i < laterHlen; i++) laterHeader[i] = IPV4_OPT_EOL;
  laterHeader[0] = 0x40 | (laterHlen >>> 2);
  const firstRoom = (mtu - hlen) & ~7;
  const laterRoom = (mtu - laterHlen) & ~7;
  if (firstRoom < 8 || laterRoom < 8) {
    // Only below the IPv4 minimum MTU of 68 (ports have at least 1280): cannot be fragmented.
    dp.ctr[C.dropTooBig]++;
    return 0;
  }
  const n = data <= firstRoom ? 1 : 1 + (((data - firstRoom + laterRoom - 1) / laterRoom) | 0);
  const base = word & IPV4_OFFSET_MASK;
  const lastPos = n === 1 ? 0 : firstRoom + (n - 2) * laterRoom;
  if (base + (lastPos >>> 3) > IPV4_OFFSET_MASK) {
    dp.ctr[C.dropFragmentOffsetOverflow]++;
    return 0;
  }
  const a = dp.arena;
  if (n > a.genFree()) {
    dp.ctr[C.dropFragmentNoSlots]++;
    return 0;
  }
  const keep = word & IPV4_RESERVED_FLAG;
  const lastMf = word & IPV4_MF;
  const payload = ip + hlen;
  let pos = 0;
  for (let k = 0; k < n; k++) {
    const f = a.allocGen();
    const fip = f + ETH_HLEN;
    const h = k === 0 ? hlen : laterHlen;
    const room = k === 0 ? firstRoom : laterRoom;
    const len = Math.min(data - pos, room);
    copy(b, f, b, off, ETH_HLEN);
    if (k === 0) copy(b, fip, b, ip, hlen);
    else copy(b, fip, laterHeader, 0, laterHlen);
    b.copyWithin(fip + h, payload + pos, payload + pos + len);
    put16(b, fip + IPV4_TOTLEN, h + len);
    put16(b, fip + IPV4_FRAG, keep | (k === n - 1 ? lastMf : IPV4_MF) | (base + (pos >>> 3)));
    put16(b, fip + IPV4_CSUM, 0);
    put16(b, fip + IPV4_CSUM, checksum(b, fip, h));
    fragOff[k] = f;
    fragLen[k] = ETH_HLEN + h + len;
    pos += len;
  }
  return n;
}
