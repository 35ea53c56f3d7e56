// WireGuard, sending: the datagrams. A transport or handshake message in UDP and IP toward the
// peer's endpoint from the uplink's address and our listen port, routed and handed to the
// neighbour like any frame; or a train of messages as one UDP GSO super-frame (docs/offloads.md).
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { sendToNeighbour, SEND_WIREGUARD, SEND_WG_TRAIN } from './output.js';
import { VIRTIO_NEEDS_CSUM, VIRTIO_GSO_UDP_L4 } from './superframe.js';
import type { WgWorker } from './wg-worker.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPPROTO_UDP, writeIpv4Header } from '../wire/ipv4.js';
import { IPV6_HLEN, writeIpv6Header } from '../wire/ipv6.js';
import { UDP_HLEN, UDP_CSUM, writeUdpHeader } from '../wire/udp.js';
import {
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
  GSO_UDP4,
  GSO_UDP6,
} from '../native/tap.js';
import { sum16, finish, pseudoSum6 } from '../wire/checksum.js';
import { put16, copy, wordsToBytes } from '../wire/bytes.js';
import { ROUTE_TYPE, ROUTE_PORT, ROUTE_NEXTHOP, ROUTE_CONNECTED, ROUTE_VIA } from '../tables/layout.js';
import { PORT_KIND_UPLINK } from '../tables/port-table.js';

const nexthop = new Uint8Array(16);

/** The uplink toward w's endpoint (w.epFamily, w.endpoint), its next hop in `nexthop`; -1 if none. */
export function endpointRoute(dp: Datapath, w: WgWorker): number {
  const fam = w.epFamily;
  const r = dp.route;
  if (
    dp.routes.lookup(fam as 4 | 6, w.endpoint, 0, r) < 0 ||
    (r[ROUTE_TYPE] !== ROUTE_CONNECTED && r[ROUTE_TYPE] !== ROUTE_VIA)
  ) {
    return -1;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out) || dp.ports.kind(out) !== PORT_KIND_UPLINK) return -1;
  if (r[ROUTE_TYPE] === ROUTE_VIA) wordsToBytes(r, ROUTE_NEXTHOP, nexthop, fam === 6 ? 4 : 1);
  else copy(nexthop, 0, w.endpoint, 0, 16);
  return out;
}

/**
 * Writes the UDP and IP headers of a datagram of udpLen bytes toward w's endpoint in front of
 * b[msg...], from out's address and our listen port; returns the IP header's offset. The UDP
 * checksum: none over IPv4 (RFC 768 allows it; it saves a pass over the message), computed
 * over IPv6 — or, for a train (partial), only the pseudo-header sum, left to the device.
 */
function writeOuter(dp: Datapath, w: WgWorker, out: number, msg: number, udpLen: number, partial: boolean): number {
  const b = dp.arena.bytes;
  const fam = w.epFamily;
  const udp = msg - UDP_HLEN;
  const pb = dp.ports.bytes;
  let ipOff: number;
  if (fam === 4) {
    ipOff = udp - 20;
    writeIpv4Header(b, ipOff, 20 + udpLen, 0, true, 64, IPPROTO_UDP, pb, dp.ports.ipv4Off(out), w.endpoint, 0);
  } else {
    ipOff = udp - IPV6_HLEN;
    writeIpv6Header(b, ipOff, udpLen, IPPROTO_UDP, 64, pb, dp.ports.ipv6Off(out), w.endpoint, 0);
  }
  writeUdpHeader(b, udp, w.listenPort(), w.epPort, udpLen, 0);
  if (partial) {
    const s = fam === 4 ? sum16(b, ipOff + 12, 8, IPPROTO_UDP + udpLen) : pseudoSum6(b, ipOff, IPPROTO_UDP, udpLen);
    put16(b, udp + 6, ~finish(s) & 0xffff); // the folded sum, not its complement
  } else if (fam === 6) {
    const c = finish(sum16(b, udp, udpLen, pseudoSum6(b, ipOff, IPPROTO_UDP, udpLen)));
    put16(b, udp + 6, c === 0 ? 0xffff : c);
  }
  put16(b, ipOff - ETH_HLEN + ETH_TYPE, fam === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  return ipOff;
}

/**
 * Wraps the WireGuard message at b[msg, msg+msgLen) in UDP and IP toward w's endpoint
 * (w.epFamily, w.epPort, w.endpoint), from the egress uplink's address and our listen port,
 * and sends it to the neighbour. False when there is no route (counted).
 */
export function sendDatagram(dp: Datapath, w: WgWorker, msg: number, msgLen: number): boolean {
  const out = endpointRoute(dp, w);
  if (out < 0) {
    dp.ctr[C.wgNoRoute]++;
    return false;
  }
  const udpLen = UDP_HLEN + msgLen;
  const eth = writeOuter(dp, w, out, msg, udpLen, false) - ETH_HLEN;
  const len = msg + msgLen - eth;
  sendToNeighbour(dp, out, w.epFamily, nexthop, 0, eth, len, SEND_WIREGUARD);
  return true;
}

/**
 * Sends the count messages at msg0 (stride `full`, the last lastLen bytes) as one UDP GSO
 * super-frame toward w's endpoint through out, a port with USO: the kernel, or the receiving
 * Weft, cuts it into one datagram per message.
 */
export function sendTrain(
  dp: Datapath,
  w: WgWorker,
  out: number,
  msg0: number,
  count: number,
  full: number,
  lastLen: number,
): boolean {
  const udpLen = UDP_HLEN + (count - 1) * full + lastLen;
  const ipOff = writeOuter(dp, w, out, msg0, udpLen, true);
  const eth = ipOff - ETH_HLEN;
  const v = dp.vnet;
  v[VNET_FLAGS] = VIRTIO_NEEDS_CSUM;
  v[VNET_GSO_TYPE] = VIRTIO_GSO_UDP_L4;
  v[VNET_HDR_LEN] = msg0 - eth;
  v[VNET_GSO_SIZE] = full;
  v[VNET_CSUM_START] = msg0 - UDP_HLEN - eth;
  v[VNET_CSUM_OFFSET] = UDP_CSUM;
  // Where the train's headers end, should it have to be cut in software after all (superframe.ts).
  dp.gsoKind = w.epFamily === 4 ? GSO_UDP4 : GSO_UDP6;
  dp.gsoL4 = v[VNET_CSUM_START];
  dp.gsoPayload = v[VNET_HDR_LEN];
  sendToNeighbour(dp, out, w.epFamily, nexthop, 0, eth, msg0 - eth + udpLen - UDP_HLEN, SEND_WG_TRAIN);
  v.fill(0);
  dp.ctr[C.wgTrainsSent]++;
  return true;
}
