// Super-frames: what a TAP with offloads hands over and takes (docs/offloads.md). Every frame
// carries its virtio_net_hdr in dp.vnet (zero for a port without offloads): a GSO frame is up
// to 64 KB of TCP (or UDP) that leaves as segments of gso_size payload bytes; NEEDS_CSUM says
// the L4 checksum field holds only the pseudo-header sum. The pipeline keeps both as they are
// while it can, and resolves them in software where the output cannot take them:
//   superFrameCheck   the header agrees with the packet (the IP paths, after their checks)
//   superWireLen      the size the largest segment has on the wire (PMTU decisions)
//   resolveSuper      before an encapsulation: software TSO / USO into the segment area (native
//                     gsoSplit), or the checksum of a NEEDS_CSUM frame (native csumFill)
//   transmitSuper     the received frame toward a port: whole to a port with offloads, else
//                     segmented or checksummed first (output.ts transmit)
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { SEG_SLOTS } from './arena.js';
import { SENT, TX_FULL, SEND_SEGMENT, SEND_FORWARD } from './send-kinds.js';
import { WG_PORT } from '../tables/layout.js';
import { PORT_OFFLOADS, PORT_USO } from '../tables/port-table.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { TCP_MIN_HLEN, TCP_CSUM, tcpHeaderLen } from '../wire/tcp.js';
import { UDP_HLEN, UDP_CSUM } from '../wire/udp.js';
import {
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
  GSO_TCP4,
  GSO_TCP6,
  GSO_UDP4,
  GSO_UDP6,
} from '../native/tap.js';

// virtio_net_hdr values (include/uapi/linux/virtio_net.h).
export const VIRTIO_NEEDS_CSUM = 1;
export const VIRTIO_DATA_VALID = 2;
export const VIRTIO_GSO_NONE = 0;
export const VIRTIO_GSO_TCPV4 = 1;
export const VIRTIO_GSO_TCPV6 = 4;
export const VIRTIO_GSO_UDP_L4 = 5;
export const VIRTIO_GSO_ECN = 0x80;

/** The segments segmentFrame made: frame offsets in the arena and frame lengths. */
export const segOff = new Int32Array(SEG_SLOTS);
export const segLen = new Int32Array(SEG_SLOTS);

/** True when the frame being processed is a GSO super-frame or leaves its checksum to us. */
export function isSuper(dp: Datapath): boolean {
  return (dp.vnet[VNET_FLAGS] | dp.vnet[VNET_GSO_TYPE]) !== 0;
}

/** True when the frame's L4 checksum field holds only the pseudo-header sum (virtio NEEDS_CSUM). */
export function checksumPartial(dp: Datapath): boolean {
  return (dp.vnet[VNET_FLAGS] & VIRTIO_NEEDS_CSUM) !== 0;
}

export function isGso(dp: Datapath): boolean {
  return dp.vnet[VNET_GSO_TYPE] !== VIRTIO_GSO_NONE;
}

/** Forgets the frame's offload state (after it was resolved in software, or for an inner frame). */
export function clearSuper(dp: Datapath): void {
  dp.vnet.fill(0);
}

/**
 * Checks dp.vnet against the packet of the frame at off (family 4 or 6; L4 protocol proto at
 * l4, -1 for a later fragment; the packet ends at end) and notes where a GSO frame's headers
 * end (dp.gsoL4, dp.gsoPayload, relative to the frame). False: dropped and counted.
 */
export function superFrameCheck(
  dp: Datapath,
  off: number,
  family: number,
  proto: number,
  l4: number,
  end: number,
): boolean {
  const v = dp.vnet;
  const flags = v[VNET_FLAGS];
  if ((flags & ~(VIRTIO_NEEDS_CSUM | VIRTIO_DATA_VALID)) !== 0) {
    dp.ctr[C.dropVnetBadHeader]++;
    return false;
  }
  const tcp = proto === IPPROTO_TCP;
  if (flags & VIRTIO_NEEDS_CSUM) {
    // Only the L4 checksum of TCP or UDP is ever left to a device here.
    if (
      (!tcp && proto !== IPPROTO_UDP) ||
      v[VNET_CSUM_START] !== l4 - off ||
      v[VNET_CSUM_OFFSET] !== (tcp ? TCP_CSUM : UDP_CSUM) ||
      l4 + (tcp ? TCP_CSUM : UDP_CSUM) + 2 > end
    ) {
      dp.ctr[C.dropVnetBadChecksum]++;
      return false;
    }
  }
  const type = v[VNET_GSO_TYPE] & ~VIRTIO_GSO_ECN;
  if (type === VIRTIO_GSO_NONE) return true;
  dp.ctr[C.rxSuperFrames]++;
  const want = type === VIRTIO_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
  const typeFamily = type === VIRTIO_GSO_TCPV4 ? 4 : type === VIRTIO_GSO_TCPV6 ? 6 : family;
  if (
    (type !== VIRTIO_GSO_TCPV4 && type !== VIRTIO_GSO_TCPV6 && type !== VIRTIO_GSO_UDP_L4) ||
    proto !== want ||
    typeFamily !== family ||
    (flags & VIRTIO_NEEDS_CSUM) === 0
  ) {
    dp.ctr[C.dropVnetBadGso]++;
    return false;
  }
  const hlen = tcp ? (end - l4 >= TCP_MIN_HLEN ? tcpHeaderLen(dp.arena.bytes, l4) : 0) : UDP_HLEN;
  const size = v[VNET_GSO_SIZE];
  if (hlen < (tcp ? TCP_MIN_HLEN : UDP_HLEN) || l4 + hlen > end || size < 1) {
    dp.ctr[C.dropVnetBadGso]++;
    return false;
  }
  const payload = l4 + hlen;
  if (end - payload <= size) {
    // One segment's worth: an ordinary frame whose checksum is left to us.
    v[VNET_GSO_TYPE] = VIRTIO_GSO_NONE;
    v[VNET_GSO_SIZE] = 0;
    return true;
  }
  v[VNET_HDR_LEN] = payload - off;
  dp.gsoKind = tcp ? (family === 4 ? GSO_TCP4 : GSO_TCP6) : family === 4 ? GSO_UDP4 : GSO_UDP6;
  dp.gsoL4 = l4 - off;
  dp.gsoPayload = payload - off;
  return true;
}

/** IP bytes of the largest segment of the packet (total: its IP length) once segmented. */
export function superWireLen(dp: Datapath, total: number): number {
  if (dp.vnet[VNET_GSO_TYPE] === VIRTIO_GSO_NONE) return total;
  const seg = dp.gsoPayload - ETH_HLEN + dp.vnet[VNET_GSO_SIZE];
  return Math.min(seg, total);
}

/**
 * Cuts the GSO frame at off (len bytes, as superFrameCheck saw it) into segments in the segment
 * area: segOff / segLen[0..n). Returns n, or 0 when dropped (counted).
 */
export function segmentFrame(dp: Datapath, off: number, len: number): number {
  const size = dp.vnet[VNET_GSO_SIZE];
  const payload = off + dp.gsoPayload;
  const n = Math.max(1, Math.ceil((off + len - payload) / size));
  const a = dp.arena;
  const first = n <= SEG_SLOTS / 2 ? a.allocSegs(n) : -1;
  if (first < 0) {
    dp.ctr[C.dropSuperFrameSegments]++;
    return 0;
  }
  const made = dp.native.gsoSplit(
    a.bytes,
    off,
    len,
    dp.gsoKind,
    off + ETH_HLEN,
    off + dp.gsoL4,
    payload,
    size,
    first,
    a.segStride,
    n,
    segLen,
    0,
  );
  for (let i = 0; i < made; i++) segOff[i] = first + i * a.segStride;
  dp.ctr[C.segmentsMade] += made;
  return made;
}

/** Computes the L4 checksum the sender left to us (frame at off, len bytes). */
export function finishChecksum(dp: Datapath, off: number, len: number): void {
  const v = dp.vnet;
  const start = off + v[VNET_CSUM_START];
  dp.native.csumFill(dp.arena.bytes, start, off + len, start + v[VNET_CSUM_OFFSET], v[VNET_CSUM_OFFSET] === UDP_CSUM);
  v[VNET_FLAGS] &= ~VIRTIO_NEEDS_CSUM;
  dp.ctr[C.checksumsFinished]++;
}

/**
 * Before an encapsulation (VXLAN, IPIP) or anything else that cannot carry offload state: the
 * GSO frame at off is cut into segments (segOff / segLen[0..n), n returned; 0: dropped), or a
 * frame's pending checksum finished (1 returned, segOff[0] = off; also for a frame without
 * offload state). Clears dp.vnet either way.
 */
export function resolveSuper(dp: Datapath, off: number, len: number): number {
  let n = 1;
  if (isGso(dp)) n = segmentFrame(dp, off, len);
  else {
    if (checksumPartial(dp)) finishChecksum(dp, off, len);
    segOff[0] = off;
    segLen[0] = len;
  }
  clearSuper(dp);
  return n;
}

/**
 * The frame with offload state dp.vnet (at off, len bytes, Ethernet header final) toward port:
 * whole with its header where the port takes offloads; otherwise cut into segments, or its
 * checksum finished, first. Counts the frame's outcome (forwarded / segmented, or a drop) — or,
 * for a frame that waited for its neighbour (parked), pendingSent.
 */
export function transmitSuper(
  dp: Datapath,
  port: number,
  off: number,
  len: number,
  parked: boolean,
  kind = SEND_FORWARD,
): void {
  const tx = dp.tx;
  const sent = parked ? C.pendingSent : SENT[kind];
  // WireGuard takes super-frames whole: wg-send.ts seals their segments in one call. A UDP one
  // needs a port whose kernel took USO.
  const flags = dp.ports.flags(port);
  const udp = (dp.vnet[VNET_GSO_TYPE] & ~VIRTIO_GSO_ECN) === VIRTIO_GSO_UDP_L4;
  if (((flags & PORT_OFFLOADS) !== 0 && (!udp || (flags & PORT_USO) !== 0)) || port === WG_PORT) {
    if (tx.pushVnet(port, off, len, dp.vnet, 0)) {
      dp.ctr[sent]++;
      if (isGso(dp) && port !== WG_PORT) dp.ctr[C.txSuperFrames]++;
    } else dp.ctr[TX_FULL[kind]]++;
    return;
  }
  if (!isGso(dp)) {
    finishChecksum(dp, off, len);
    if (tx.push(port, off, len)) dp.ctr[sent]++;
    else dp.ctr[TX_FULL[kind]]++;
    return;
  }
  const n = segmentFrame(dp, off, len);
  if (n === 0) return;
  // A received super-frame's outcome; a WireGuard train's messages were counted already.
  dp.ctr[parked ? C.pendingSent : kind === SEND_FORWARD ? C.segmented : SENT[kind]]++;
  for (let i = 0; i < n; i++) {
    if (tx.push(port, segOff[i], segLen[i])) dp.ctr[SENT[SEND_SEGMENT]]++;
    else dp.ctr[TX_FULL[SEND_SEGMENT]]++;
  }
}
