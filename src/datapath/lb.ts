// The standalone L4 load balancer's datapath: packets to a service (VIP, port, TCP/UDP) go to a
// Maglev-chosen backend inside IPIP / IP6IP6 (DSR); the backend side decapsulates. Three steps:
// choose the backend, route to it, encapsulate and send. docs/l4lb.md has the decisions.
import { type Datapath, VIA_IPIP, VIA_TUNNEL } from './state.js';
import { mixWord, fmix32 } from '../wire/hash32.js';
import { C } from './counters.js';
import { sendToNeighbour, SEND_FORWARD, SEND_FRAGMENT, SEND_SEGMENT } from './output.js';
import { isSuper, isGso, checksumPartial, superWireLen, resolveSuper, segOff, segLen } from './superframe.js';
import { fragmentIpv4, fragOff, fragLen } from './fragment.js';
import { sendIcmp4Error, sendIcmp6Error } from './icmp-errors.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import {
  IPV4_MIN_HLEN,
  IPV4_SRC,
  IPV4_DST,
  IPV4_PROTO,
  IPV4_ID,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4DontFragment,
  ipv4IsLaterFragment,
  writeIpv4Header,
} from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_SRC, IPV6_DST, writeIpv6Header } from '../wire/ipv6.js';
import { ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED } from '../wire/icmp.js';
import { ICMPV6_PACKET_TOO_BIG } from '../wire/icmpv6.js';
import { TCP_DST_PORT, TCP_CSUM, tcpHeaderValid } from '../wire/tcp.js';
import { UDP_HLEN, UDP_CSUM, UDP_SRC_PORT, UDP_DST_PORT } from '../wire/udp.js';
import { update16 } from '../wire/checksum.js';
import { get16, put16, put32, copy, wordsToBytes } from '../wire/bytes.js';
import { fillServiceKey } from '../lb/tables.js';
import { fillConnKey, ctNowSec, CT_BACKEND, CT_BACKEND_ADDR, CT_BACKEND_PORT, CT_LAST_SEEN } from '../lb/conntrack.js';
import { PORT_HAS_IPV4, PORT_HAS_IPV6, PORT_KIND_UPLINK, PORT_DSR_BACKEND } from '../tables/port-table.js';
import {
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_CONNECTED,
  ROUTE_VIA,
  SVC_FLAGS,
  SVC_SLOT,
  SVC_VIP_MARKER,
  SVC_FLAG_L4_XLATE,
  SVC_FLAG_CONNTRACK,
  BACKEND_FAMILY,
  BACKEND_ADDR,
  BACKEND_PORT,
  SET_LB4_SRC,
  SET_LB6_SRC,
} from '../tables/layout.js';

/** Outer TTL / hop limit of what the load balancer sends. */
export const LB_OUTER_TTL = 64;

/** Seeds of the two hashes (any constants; fixed so every worker and node agrees). */
const SEED_SELECT = 0x4c42534c; // "LBSL"
const SEED_SOURCE = 0x4c425352; // "LBSR"

// Scratch, reused for every packet.
const backendAddr = new Uint8Array(16);
const viaAddr = new Uint8Array(16);
const outerSrc = new Uint8Array(16);
/** The neighbour routeToBackend found: the backend itself, or the gateway toward it (viaAddr). */
let nextHop = backendAddr;
/** Where routeToBackend found the outer source: outerSrc, or the egress port's address. */
let outerSrcBytes: Uint8Array = outerSrc;
let outerSrcOff = 0;

function hashAddr(h: number, b: Uint8Array, o: number, alen: number): number {
  for (let i = 0; i < alen; i += 4)
    h = mixWord(h, (b[o + i] << 24) | (b[o + i + 1] << 16) | (b[o + i + 2] << 8) | b[o + i + 3]);
  return h;
}

/**
 * The backend selection hash: client address (alen = 4 or 16 bytes at b[o]), client port,
 * service port, IP protocol. Unsigned 32 bits.
 */
export function lbFlowHash(
  b: Uint8Array,
  o: number,
  alen: number,
  sport: number,
  dport: number,
  proto: number,
): number {
  let h = hashAddr(SEED_SELECT, b, o, alen);
  h = mixWord(h, ((sport & 0xffff) << 16) | (dport & 0xffff));
  h = mixWord(h, proto & 0xff);
  return fmix32(h ^ (alen + 5));
}

/** The outer source hash: client address and client port. Unsigned 32 bits. */
export function lbSourceHash(b: Uint8Array, o: number, alen: number, sport: number): number {
  let h = hashAddr(SEED_SOURCE, b, o, alen);
  h = mixWord(h, sport & 0xffff);
  return fmix32(h ^ (alen + 2));
}

/**
 * Writes the outer source for a client (source hash `sh`) into dst[0..4|16): the prefix of
 * the family with host bits from the hash (every 32-bit word of host bits from its own mix of
 * it). False when no prefix is set.
 */
export function lbOuterSource(dp: Datapath, family: number, sh: number, dst: Uint8Array): boolean {
  const w = dp.settings.words;
  const plen = dp.settings.lbSourcePrefixLen(family);
  if (plen < 0) return false;
  const n = family === 4 ? 1 : 4;
  const base = family === 4 ? SET_LB4_SRC : SET_LB6_SRC;
  for (let i = 0; i < n; i++) {
    const bits = plen - 32 * i;
    const mask = bits <= 0 ? 0 : bits >= 32 ? -1 : ~(0xffffffff >>> bits);
    const host = i === n - 1 ? sh : fmix32(sh ^ Math.imul(i + 1, 0x9e3779b9) ^ 4);
    put32(dst, 4 * i, (w[base + i] & mask) | (host & ~mask));
  }
  return true;
}

/**
 * The load-balancer stage of the IPv4 path, before routing (frame at off received on port,
 * checked IPv4 header at ip). Returns true when it took the packet (its outcome is counted),
 * false to route it as usual.
 */
export function lbIpv4(dp: Datapath, port: number, off: number, ip: number): boolean {
  const lb = dp.lb;
  if (lb === null || (dp.via & VIA_IPIP) !== 0) return false;
  const b = dp.arena.bytes;
  const proto = b[ip + IPV4_PROTO];
  if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return false;
  const hlen = ipv4HeaderLen(b, ip);
  const total = ipv4TotalLen(b, ip);
  return balance(dp, port, off, ip, 4, proto, ip + hlen, total - hlen, ipv4IsLaterFragment(b, ip), total);
}

/** The same for IPv6, after the extension-header walk (dp.walk6) and the local checks. */
export function lbIpv6(dp: Datapath, port: number, off: number, ip: number, end: number): boolean {
  const lb = dp.lb;
  if (lb === null || (dp.via & VIA_IPIP) !== 0) return false;
  const w = dp.walk6;
  const proto = w.proto;
  if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return false;
  return balance(dp, port, off, ip, 6, proto, w.l4Off, end - w.l4Off, w.laterFragment, end - ip);
}

function balance(
  dp: Datapath,
  port: number,
  off: number,
  ip: number,
  family: 4 | 6,
  proto: number,
  l4: number,
  l4avail: number,
  later: boolean,
  total: number,
): boolean {
  const lb = dp.lb!;
  const b = dp.arena.bytes;
  const vip = ip + (family === 4 ? IPV4_DST : IPV6_DST);
  if (later || l4avail < 4) {
    // No ports to look at: is the destination a VIP at all?
    fillServiceKey(lb.key, family, b, vip, 0, proto);
    if (!lb.findService() || lb.service[SVC_SLOT] !== SVC_VIP_MARKER) return false;
    if (later) dp.ctr[C.dropLbFragment]++;
    else dp.ctr[C.dropL4Truncated]++;
    return true;
  }
  // TCP and UDP keep their ports at the same offsets.
  const dport = get16(b, l4 + UDP_DST_PORT);
  fillServiceKey(lb.key, family, b, vip, dport, proto);
  if (!lb.findService() || lb.service[SVC_SLOT] === SVC_VIP_MARKER) return false;
  if (proto === IPPROTO_TCP ? !tcpHeaderValid(b, l4, l4avail) : l4avail < UDP_HLEN) {
    dp.ctr[C.dropL4Truncated]++;
    return true;
  }
  const src = ip + (family === 4 ? IPV4_SRC : IPV6_SRC);
  const sport = get16(b, l4 + UDP_SRC_PORT);
  if (!chooseBackend(dp, family, proto, src, vip, sport, dport, total)) return true;
  const out = routeToBackend(dp, family, src, sport);
  if (out < 0) return true;
  sendToBackend(dp, port, off, ip, family, proto, l4, vip, out, total);
  return true;
}

// How the connection table found the flow (chooseBackend).
/** The service does not track connections. */
const TRACK_OFF = 0;
/** A tracked flow whose backend is still in the service: Maglev is skipped. */
const TRACK_HIT = 1;
/** A new flow: inserted once Maglev has chosen. */
const TRACK_NEW = 2;
/** A tracked flow whose backend left the service: re-chosen and overwritten. */
const TRACK_STALE = 3;

/**
 * Step 1: the flow's backend, from the connection table or Maglev, left in lb.backend (and the
 * connection table updated). False when the packet was dropped (counted).
 */
function chooseBackend(
  dp: Datapath,
  family: 4 | 6,
  proto: number,
  src: number,
  vip: number,
  sport: number,
  dport: number,
  total: number,
): boolean {
  const lb = dp.lb!;
  const b = dp.arena.bytes;
  const cr = lb.conntrack;
  const v = cr.value;
  let track = TRACK_OFF;
  let nowSec = 0;
  if ((lb.service[SVC_FLAGS] & SVC_FLAG_CONNTRACK) !== 0) {
    nowSec = ctNowSec(dp.now);
    fillConnKey(cr.key, family, b, src, vip, sport, dport, proto);
    track = TRACK_NEW;
    if (cr.map.lookup(cr.key, 0, v, 0)) {
      if (lb.useBackend(v[CT_BACKEND], family, v, CT_BACKEND_ADDR, v[CT_BACKEND_PORT])) {
        track = TRACK_HIT;
        dp.ctr[C.lbConntrackHit]++;
        if (v[CT_LAST_SEEN] !== nowSec) {
          v[CT_LAST_SEEN] = nowSec;
          cr.map.update(cr.key, 0, v, 0);
        }
      } else {
        track = TRACK_STALE;
        dp.ctr[C.lbConntrackStale]++;
      }
    }
  }
  let id = -1;
  if (track !== TRACK_HIT) {
    id = lb.pickBackend(lbFlowHash(b, src, family === 4 ? 4 : 16, sport, dport, proto));
    if (id < 0) {
      dp.ctr[C.dropLbNoBackend]++;
      return false;
    }
  }
  const be = lb.backend;
  if (be[BACKEND_FAMILY] !== family) {
    dp.ctr[C.dropLbBackendFamily]++;
    return false;
  }
  lb.countPacket(track === TRACK_HIT ? v[CT_BACKEND] : id, total);
  if (track === TRACK_NEW && !cr.takeNewFlowToken(dp.now)) {
    dp.ctr[C.lbConntrackBypass]++;
  } else if (track === TRACK_NEW || track === TRACK_STALE) {
    v[CT_BACKEND] = id;
    for (let i = 0; i < 4; i++) v[CT_BACKEND_ADDR + i] = be[BACKEND_ADDR + i];
    v[CT_BACKEND_PORT] = be[BACKEND_PORT];
    v[CT_LAST_SEEN] = nowSec;
    if (cr.map.insert(cr.key, 0, v, 0)) dp.ctr[C.lbConntrackInserted]++;
    else dp.ctr[C.lbConntrackFull]++;
  }
  return true;
}

/**
 * Step 2: the route toward the backend chosen (outer destination) and the outer source for the
 * client at src (outerSrc / outerSrcOff). Returns the egress port, or −1 when dropped (counted).
 */
function routeToBackend(dp: Datapath, family: 4 | 6, src: number, sport: number): number {
  const b = dp.arena.bytes;
  wordsToBytes(dp.lb!.backend, BACKEND_ADDR, backendAddr, 4);
  const r = dp.underlayRoute;
  if (dp.routes.lookup(family, backendAddr, 0, r) < 0) {
    dp.ctr[C.dropLbNoRouteToBackend]++;
    return -1;
  }
  const type = r[ROUTE_TYPE];
  if (type !== ROUTE_CONNECTED && type !== ROUTE_VIA) {
    dp.ctr[C.dropLbNoRouteToBackend]++;
    return -1;
  }
  const out = r[ROUTE_PORT];
  if (!dp.ports.active(out)) {
    dp.ctr[C.dropPortDown]++;
    return -1;
  }
  nextHop = backendAddr;
  if (type === ROUTE_VIA) {
    wordsToBytes(r, ROUTE_NEXTHOP, viaAddr, 4);
    nextHop = viaAddr;
  }
  outerSrcBytes = outerSrc;
  outerSrcOff = 0;
  if (!lbOuterSource(dp, family, lbSourceHash(b, src, family === 4 ? 4 : 16, sport), outerSrc)) {
    if ((dp.ports.flags(out) & (family === 4 ? PORT_HAS_IPV4 : PORT_HAS_IPV6)) === 0) {
      dp.ctr[C.dropLbNoRouteToBackend]++;
      return -1;
    }
    outerSrcBytes = dp.ports.bytes;
    outerSrcOff = family === 4 ? dp.ports.ipv4Off(out) : dp.ports.ipv6Off(out);
  }
  return out;
}

/**
 * Step 3: the PMTU check (frag needed / packet too big from the VIP, or fragments without DF),
 * the optional L4 port rewrite, the outer header and the send toward `nextHop` out of `out`.
 */
function sendToBackend(
  dp: Datapath,
  port: number,
  off: number,
  ip: number,
  family: 4 | 6,
  proto: number,
  l4: number,
  vip: number,
  out: number,
  total: number,
): void {
  const lb = dp.lb!;
  const b = dp.arena.bytes;
  const overhead = family === 4 ? IPV4_MIN_HLEN : IPV6_HLEN;
  const room = dp.ports.mtu(out) - overhead;
  const df = family === 4 && ipv4DontFragment(b, ip);
  // A super-frame is measured by its segments, never fragmented.
  const wire = superWireLen(dp, total);
  const fragment = wire > room && family === 4 && !df && !isGso(dp);
  if (wire > room && !fragment) {
    dp.ctr[C.dropTooBig]++;
    if (family === 4) sendIcmp4Error(dp, port, off, ip, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, room, b, vip);
    else sendIcmp6Error(dp, port, off, ip, proto, l4, ICMPV6_PACKET_TOO_BIG, 0, room, b, vip);
    return;
  }
  if (lb.service[SVC_FLAGS] & SVC_FLAG_L4_XLATE) xlatePort(dp, family, proto, l4, lb.backend[BACKEND_PORT]);
  dp.ctr[C.lbForwarded]++;
  if (isSuper(dp)) {
    // Segments (or the packet with its checksum finished) are encapsulated one by one.
    const gso = isGso(dp);
    const n = resolveSuper(dp, off, ETH_HLEN + total);
    if (n === 0) return;
    if (gso) dp.ctr[C.segmented]++;
    for (let k = 0; k < n; k++) {
      const f = segOff[k];
      const o = encapsulate(b, f, f + ETH_HLEN, family, segLen[k] - ETH_HLEN, df);
      sendToNeighbour(dp, out, family, nextHop, 0, o, segLen[k] + overhead, gso ? SEND_SEGMENT : SEND_FORWARD);
    }
    return;
  }
  if (!fragment) {
    const o = encapsulate(b, off, ip, family, total, df);
    sendToNeighbour(dp, out, family, nextHop, 0, o, ETH_HLEN + overhead + total);
    return;
  }
  const n = fragmentIpv4(dp, off, ip, room);
  if (n === 0) return;
  dp.ctr[C.fragmented]++;
  for (let k = 0; k < n; k++) {
    const f = fragOff[k];
    const o = encapsulate(b, f, f + ETH_HLEN, 4, fragLen[k] - ETH_HLEN, false);
    sendToNeighbour(dp, out, 4, nextHop, 0, o, fragLen[k] + overhead, SEND_FRAGMENT);
  }
}

/**
 * Rewrites the inner destination port with an incremental L4 checksum update (RFC 1624); a
 * checksum left to the device (a partial one: the pseudo-header sum) does not cover ports.
 */
function xlatePort(dp: Datapath, family: number, proto: number, l4: number, newPort: number): void {
  const b = dp.arena.bytes;
  const old = get16(b, l4 + TCP_DST_PORT);
  if (old === newPort) return;
  put16(b, l4 + TCP_DST_PORT, newPort);
  dp.ctr[C.lbL4Xlated]++;
  if (checksumPartial(dp)) return;
  if (proto === IPPROTO_TCP) {
    put16(b, l4 + TCP_CSUM, update16(get16(b, l4 + TCP_CSUM), old, newPort));
    return;
  }
  const c = get16(b, l4 + UDP_CSUM);
  if (c === 0 && family === 4) return;
  const n = update16(c, old, newPort);
  put16(b, l4 + UDP_CSUM, n === 0 ? 0xffff : n);
}

/**
 * Writes the outer Ethernet type and IP header in front of the packet at ip (frame at off,
 * `total` bytes of IP); returns the outer frame's offset. The outer MACs are sendToNeighbour's.
 */
function encapsulate(b: Uint8Array, off: number, ip: number, family: number, total: number, df: boolean): number {
  const src = outerSrcBytes;
  const srcOff = outerSrcOff;
  if (family === 4) {
    const oip = ip - IPV4_MIN_HLEN;
    const id = get16(b, ip + IPV4_ID);
    writeIpv4Header(b, oip, IPV4_MIN_HLEN + total, id, df, LB_OUTER_TTL, IPPROTO_IPIP, src, srcOff, backendAddr, 0);
    put16(b, oip - ETH_HLEN + ETH_TYPE, ETHERTYPE_IPV4);
    return off - IPV4_MIN_HLEN;
  }
  const oip = ip - IPV6_HLEN;
  writeIpv6Header(b, oip, total, IPPROTO_IPV6, LB_OUTER_TTL, src, srcOff, backendAddr, 0);
  put16(b, oip - ETH_HLEN + ETH_TYPE, ETHERTYPE_IPV6);
  return off - IPV6_HLEN;
}

/**
 * True when the packet to one of our addresses (protocol / next header `proto`, not a
 * fragment) is an IPIP / IP6IP6 packet this node decapsulates.
 */
export function isIpip(dp: Datapath, port: number, proto: number): boolean {
  return (
    (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) &&
    (dp.via & VIA_TUNNEL) === 0 &&
    dp.ports.kind(port) === PORT_KIND_UPLINK
  );
}

/**
 * Decapsulates the IPIP / IP6IP6 packet whose inner packet is at inner (innerLen bytes; frame
 * at off, received on port) and hands the inner packet back to the dispatcher, to run on the
 * same port.
 */
export function ipipDecapsulate(
  dp: Datapath,
  port: number,
  off: number,
  proto: number,
  inner: number,
  innerLen: number,
): void {
  const b = dp.arena.bytes;
  const version = proto === IPPROTO_IPIP ? 4 : 6;
  if (innerLen < 1 || b[inner] >>> 4 !== version) {
    dp.ctr[C.dropIpipMalformed]++;
    return;
  }
  // The Ethernet header moves up in front of the inner packet (it cannot overlap: the outer
  // IP header is at least 20 bytes).
  const f = inner - ETH_HLEN;
  copy(b, f, b, off, 12);
  put16(b, f + ETH_TYPE, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dp.ctr[C.ipipDecapsulated]++;
  dp.reenter(VIA_IPIP, port, f, ETH_HLEN + innerLen);
}

const endpointAddr = new Uint8Array(16);

/**
 * IPIP / IP6IP6 whose outer destination is a local endpoint serving VIPs (a DSR backend):
 * endpoints cannot decapsulate (this kernel has no ipip module), so the dataplane does and
 * hands the inner packet (destination: the VIP on the endpoint's loopback) to that endpoint.
 * Returns false when this is not such a packet.
 */
export function ipipToEndpoint(
  dp: Datapath,
  out: number,
  off: number,
  outerDstOff: number,
  outerFamily: number,
  proto: number,
  inner: number,
  innerLen: number,
): boolean {
  if (
    (proto !== IPPROTO_IPIP && proto !== IPPROTO_IPV6) ||
    (dp.via & VIA_IPIP) !== 0 ||
    (dp.ports.flags(out) & PORT_DSR_BACKEND) === 0
  )
    return false;
  const b = dp.arena.bytes;
  const version = proto === IPPROTO_IPIP ? 4 : 6;
  if (innerLen < (version === 4 ? 20 : 40) || b[inner] >>> 4 !== version) {
    dp.ctr[C.dropIpipMalformed]++;
    return true;
  }
  // The outer destination is overwritten by the moved Ethernet header: keep it first.
  copy(endpointAddr, 0, b, outerDstOff, outerFamily === 4 ? 4 : 16);
  const f = inner - ETH_HLEN;
  copy(b, f, b, off, 12);
  put16(b, f + ETH_TYPE, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dp.ctr[C.ipipDecapsulated]++;
  sendToNeighbour(dp, out, outerFamily, endpointAddr, 0, f, ETH_HLEN + innerLen);
  return true;
}
