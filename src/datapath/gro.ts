// GRO: TCP segments of one flow that leave toward a port with offloads in one batch are
// coalesced into one super-frame (as wireguard-go's TUN GRO and Linux's tcp_gro_receive do), so
// the kernel gets one write and one pass up its stack instead of one per segment. Segments come
// out of VXLAN, IPIP or WireGuard, or from a port without offloads.
//
// A frame pushed toward such a port becomes a candidate for its flow (up to GRO_FLOWS at once, gro-table.ts);
// a later segment of the same flow is appended to the candidate's frame in place (its RX slot
// holds 64 KB) when: same addresses, ports, TTL / hop limit, TOS / traffic class; IPv4 without
// options, with DF; IPv6 with TCP as the next header; the same TCP header length, options, ACK
// number, flags ACK (PSH on the last); its sequence number follows on; its payload is at most the
// first segment's (a shorter one, or PSH, ends the candidate); the result fits in 64 KB. The
// merged frame goes out as a GSO super-frame whose checksum is left to the kernel, so every
// segment's own checksum is verified before it is merged (the kernel would not look again).
// Candidates live until the worker transmits.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { TX_PER_PORT } from './tx.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV4_PROTO, IPV4_TOTLEN, IPV4_CSUM, IPV4_TTL, IPV4_FRAG, IPV4_DF, IPPROTO_TCP } from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_NEXT, IPV6_PAYLOAD_LEN } from '../wire/ipv6.js';
import { TCP_SEQ, TCP_ACK, TCP_FLAGS, TCP_CSUM, TCP_MIN_HLEN, TCP_ACK_FLAG } from '../wire/tcp.js';
import { get16, put16, get32, equal } from '../wire/bytes.js';
import { checksum } from '../wire/checksum.js';
import {
  VNET_WORDS,
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
} from '../native/tap.js';

const TCP_PSH = 0x08;
/** The most IP bytes a super-frame may hold (IPv4 total length; IPv6 payload length likewise). */
const MAX_IP = 65535;

// virtio_net_hdr values (superframe.ts has the full list).
const NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;

/**
 * The received frame (plain: no offload state) toward `port`, a port with offloads: merged into
 * a candidate of its flow, or queued (and, if a TCP segment, made a candidate). Counts the
 * frame's outcome (forwarded) or dropTxFull.
 */
export function groTransmit(dp: Datapath, port: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  const type = get16(b, off + ETH_TYPE);
  const v4 = type === ETHERTYPE_IPV4;
  const ip = off + ETH_HLEN;
  let l4 = -1;
  if (v4) {
    // No options, DF and no fragment: what TSO makes and what segmentation makes again.
    if (b[ip] === 0x45 && b[ip + IPV4_PROTO] === IPPROTO_TCP && get16(b, ip + IPV4_FRAG) === IPV4_DF) l4 = ip + 20;
  } else if (type === ETHERTYPE_IPV6 && b[ip + IPV6_NEXT] === IPPROTO_TCP) l4 = ip + IPV6_HLEN;
  if (l4 < 0 || off + len < l4 + TCP_MIN_HLEN) {
    push(dp, port, off, len);
    return;
  }
  const thl = (b[l4 + 12] >>> 4) * 4;
  const flags = b[l4 + TCP_FLAGS];
  const payload = off + len - (l4 + thl);
  if (thl < TCP_MIN_HLEN || payload <= 0 || (flags & ~TCP_PSH) !== TCP_ACK_FLAG) {
    push(dp, port, off, len);
    return;
  }
  const g = dp.gro;
  const seq = get32(b, l4 + TCP_SEQ);
  for (let i = 0; i < g.count; i++) {
    if (g.port[i] !== port || g.closed[i] === 1 || g.nextSeq[i] !== seq || g.thl[i] !== thl) continue;
    if (!sameFlow(b, g.off[i], off, v4, g.l4[i], thl)) continue;
    if (merge(dp, i, port, off, len, v4, l4 - off, payload, flags)) return;
    break;
  }
  const d = dp.tx.count[port];
  if (!push(dp, port, off, len)) return;
  const i = g.take();
  g.port[i] = port;
  g.desc[i] = d;
  g.off[i] = off;
  g.len[i] = len;
  g.l4[i] = l4 - off;
  g.thl[i] = thl;
  g.size[i] = payload;
  g.segs[i] = 1;
  g.nextSeq[i] = (seq + payload) % 0x100000000;
  g.closed[i] = (flags & TCP_PSH) !== 0 ? 1 : 0;
}

function push(dp: Datapath, port: number, off: number, len: number): boolean {
  if (dp.tx.push(port, off, len)) {
    dp.ctr[C.forwarded]++;
    return true;
  }
  dp.ctr[C.dropTxFull]++;
  return false;
}

/** Same addresses, ports, TTL / hop limit, TOS / traffic class and flow label, ACK and options. */
function sameFlow(b: Uint8Array, c: number, s: number, v4: boolean, l4rel: number, thl: number): boolean {
  const ip = ETH_HLEN;
  if (get16(b, c + 12) !== get16(b, s + 12)) return false;
  if (v4) {
    if (b[c + ip + 1] !== b[s + ip + 1] || b[c + ip + IPV4_TTL] !== b[s + ip + IPV4_TTL]) return false;
    if (!equal(b, c + ip + 12, b, s + ip + 12, 8)) return false;
  } else {
    // Version, traffic class, flow label; hop limit; addresses.
    if (!equal(b, c + ip, b, s + ip, 4) || b[c + ip + 7] !== b[s + ip + 7]) return false;
    if (!equal(b, c + ip + 8, b, s + ip + 8, 32)) return false;
  }
  // Ports, ACK number, then the options (from byte 20 of the TCP header).
  return (
    equal(b, c + l4rel, b, s + l4rel, 4) &&
    equal(b, c + l4rel + TCP_ACK, b, s + l4rel + TCP_ACK, 4) &&
    equal(b, c + l4rel + TCP_MIN_HLEN, b, s + l4rel + TCP_MIN_HLEN, thl - TCP_MIN_HLEN)
  );
}

/** Appends the segment at off to candidate i; false when it cannot (then it is queued on its own). */
function merge(
  dp: Datapath,
  i: number,
  port: number,
  off: number,
  len: number,
  v4: boolean,
  l4rel: number,
  payload: number,
  flags: number,
): boolean {
  const g = dp.gro;
  const b = dp.arena.bytes;
  const c = g.off[i];
  const cEnd = c + g.len[i];
  if (
    payload > g.size[i] ||
    g.len[i] - ETH_HLEN + payload > MAX_IP + (v4 ? 0 : IPV6_HLEN) ||
    cEnd + payload > dp.arena.slotEndOf(c)
  )
    return false;
  const native = dp.native;
  // The candidate's own checksum is checked once, before it is overwritten with a partial one.
  if (g.segs[i] === 1 && !native.l4CsumOk(b, c + ETH_HLEN, c + g.l4[i], cEnd, !v4)) return false;
  if (!native.l4CsumOk(b, off + ETH_HLEN, off + l4rel, off + len, !v4)) return false;
  if (dp.tx.recordBits !== 0) dp.tx.capture(port, off, len);
  b.copyWithin(cEnd, off + len - payload, off + len);
  const newLen = g.len[i] + payload;
  g.len[i] = newLen;
  g.segs[i]++;
  g.nextSeq[i] = (g.nextSeq[i] + payload) % 0x100000000;
  if ((flags & TCP_PSH) !== 0 || payload < g.size[i]) g.closed[i] = 1;
  const ip = c + ETH_HLEN;
  const cl4 = c + g.l4[i];
  b[cl4 + TCP_FLAGS] |= flags & TCP_PSH;
  put16(b, cl4 + 14, get16(b, off + l4rel + 14)); // the latest window
  if (v4) {
    put16(b, ip + IPV4_TOTLEN, newLen - ETH_HLEN);
    put16(b, ip + IPV4_CSUM, 0);
    put16(b, ip + IPV4_CSUM, checksum(b, ip, 20));
  } else put16(b, ip + IPV6_PAYLOAD_LEN, newLen - ETH_HLEN - IPV6_HLEN);
  // A super-frame: its checksum (the pseudo-header sum of the new length) left to the kernel.
  const l4len = newLen - g.l4[i];
  let s = IPPROTO_TCP + l4len;
  const a = v4 ? ip + 12 : ip + 8;
  for (let k = 0; k < (v4 ? 8 : 32); k += 2) s += get16(b, a + k);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  put16(b, cl4 + TCP_CSUM, s);
  const tx = dp.tx;
  const d = port * TX_PER_PORT + g.desc[i];
  tx.desc[d * 2 + 1] = newLen;
  const v = d * VNET_WORDS;
  tx.vnet[v + VNET_FLAGS] = NEEDS_CSUM;
  tx.vnet[v + VNET_GSO_TYPE] = v4 ? GSO_TCPV4 : GSO_TCPV6;
  tx.vnet[v + VNET_HDR_LEN] = g.l4[i] + g.thl[i];
  tx.vnet[v + VNET_GSO_SIZE] = g.size[i];
  tx.vnet[v + VNET_CSUM_START] = g.l4[i];
  tx.vnet[v + VNET_CSUM_OFFSET] = TCP_CSUM;
  dp.ctr[C.forwarded]++;
  dp.ctr[C.groMerged]++;
  return true;
}
