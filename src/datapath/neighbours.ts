// Neighbour resolution on the ports: a shared table (any worker may learn an entry, since
// a reply can arrive on another queue than the request), ARP requests and neighbour
// solicitations, and the queue of frames waiting for an answer.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { PENDING_SLOTS } from './arena.js';
import { SOLICIT_INTERVAL_MS } from './pending.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, writeEthernet, writeIpv6MulticastMac } from '../wire/ethernet.js';
import { ARP_LEN, ARP_REQUEST, writeArp } from '../wire/arp.js';
import { IPV6_HLEN, IPV6_DST, writeIpv6Header, writeSolicitedNode } from '../wire/ipv6.js';
import { IPPROTO_ICMPV6 } from '../wire/ipv4.js';
import { ND_NEIGHBOR_SOLICIT, ND_OPT_SOURCE_LLADDR, ICMPV6_CSUM } from '../wire/icmpv6.js';
import { sum16, finish, pseudoSum6 } from '../wire/checksum.js';
import { put16, copy } from '../wire/bytes.js';
import { PORT_HAS_IPV4 } from '../tables/port-table.js';
import { FIRST_PSEUDO_PORT } from '../tables/layout.js';
import { PARKED, PARK_FULL, SEND_FORWARD, SEND_WG_TRAIN } from './send-kinds.js';
import { isSuper, transmitSuper } from './superframe.js';
import { VNET_WORDS, VNET_FLAGS, VNET_GSO_TYPE } from '../native/tap.js';

const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZERO_MAC = new Uint8Array(6);
/** Entries older than this are refreshed by the next learn() that sees them. */
const REFRESH_SEC = 1;

function fillKey(dp: Datapath, port: number, family: number, a: Uint8Array, o: number): void {
  const k = dp.neighKey;
  k[0] = port;
  k[1] = family;
  k[2] = (a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3];
  if (family === 4) {
    k[3] = 0;
    k[4] = 0;
    k[5] = 0;
  } else {
    k[3] = (a[o + 4] << 24) | (a[o + 5] << 16) | (a[o + 6] << 8) | a[o + 7];
    k[4] = (a[o + 8] << 24) | (a[o + 9] << 16) | (a[o + 10] << 8) | a[o + 11];
    k[5] = (a[o + 12] << 24) | (a[o + 13] << 16) | (a[o + 14] << 8) | a[o + 15];
  }
}

/** Writes the neighbour's MAC at dst[dstOff] and returns true, or false when unknown. */
export function neighbourMac(
  dp: Datapath,
  port: number,
  family: number,
  a: Uint8Array,
  o: number,
  dst: Uint8Array,
  dstOff: number,
): boolean {
  fillKey(dp, port, family, a, o);
  if (!dp.neighbours.lookup(dp.neighKey, 0, dp.neighValue, 0)) return false;
  const hi = dp.neighValue[0];
  const lo = dp.neighValue[1];
  dst[dstOff] = hi >>> 24;
  dst[dstOff + 1] = (hi >>> 16) & 0xff;
  dst[dstOff + 2] = (hi >>> 8) & 0xff;
  dst[dstOff + 3] = hi & 0xff;
  dst[dstOff + 4] = (lo >>> 8) & 0xff;
  dst[dstOff + 5] = lo & 0xff;
  return true;
}

/** Records addr → mac on port unless the table already says so (recently). */
export function learnNeighbour(
  dp: Datapath,
  port: number,
  family: number,
  a: Uint8Array,
  o: number,
  mac: Uint8Array,
  macOff: number,
): void {
  if (mac[macOff] & 1) return; // never learn a group address
  // Nothing is ever sent to a neighbour on the tunnel (routes name the remote VTEP), and
  // remote hosts must not be able to fill the shared table through it.
  if (port >= FIRST_PSEUDO_PORT) return;
  fillKey(dp, port, family, a, o);
  const hi = (mac[macOff] << 24) | (mac[macOff + 1] << 16) | (mac[macOff + 2] << 8) | mac[macOff + 3];
  const lo = (mac[macOff + 4] << 8) | mac[macOff + 5];
  const nowSec = (dp.now / 1000) | 0;
  const v = dp.neighValue;
  if (dp.neighbours.lookup(dp.neighKey, 0, v, 0) && v[0] === hi && v[1] === lo && nowSec - v[2] < REFRESH_SEC) return;
  v[0] = hi;
  v[1] = lo;
  v[2] = nowSec;
  if (dp.neighbours.insert(dp.neighKey, 0, v, 0)) dp.ctr[C.neighbourLearned]++;
}

/** Broadcasts an ARP request for the IPv4 address at a[o] on port. */
function sendArpRequest(dp: Datapath, port: number, a: Uint8Array, o: number): void {
  const b = dp.arena.bytes;
  const f = dp.arena.allocGen();
  if (f < 0) return;
  const pb = dp.ports.bytes;
  const mac = dp.ports.macOff(port);
  writeEthernet(b, f, BROADCAST, 0, pb, mac, ETHERTYPE_ARP);
  // Without an IPv4 address of its own on the port the sender's protocol address is 0.0.0.0 (an ARP probe).
  const hasIpv4 = (dp.ports.flags(port) & PORT_HAS_IPV4) !== 0;
  writeArp(
    b,
    f + ETH_HLEN,
    ARP_REQUEST,
    pb,
    mac,
    hasIpv4 ? pb : ZERO_MAC,
    hasIpv4 ? dp.ports.ipv4Off(port) : 0,
    ZERO_MAC,
    0,
    a,
    o,
  );
  if (dp.tx.pushUncaptured(port, f, ETH_HLEN + ARP_LEN)) dp.ctr[C.neighbourRequests]++;
}

/** Multicasts a neighbour solicitation (RFC 4861 §7.2.2) from the port's link-local address. */
function sendNeighbourSolicitation(dp: Datapath, port: number, a: Uint8Array, o: number): void {
  const b = dp.arena.bytes;
  const f = dp.arena.allocGen();
  if (f < 0) return;
  const pb = dp.ports.bytes;
  const mac = dp.ports.macOff(port);
  const ip = f + ETH_HLEN;
  const icmpLen = 24 + 8;
  writeIpv6Header(b, ip, icmpLen, IPPROTO_ICMPV6, 255, pb, dp.ports.ipv6LinkLocalOff(port), pb, 0);
  writeSolicitedNode(b, ip + IPV6_DST, a, o);
  writeEthernet(b, f, pb, mac, pb, mac, ETHERTYPE_IPV6);
  writeIpv6MulticastMac(b, f, b, ip + IPV6_DST);
  const m = ip + IPV6_HLEN;
  b[m] = ND_NEIGHBOR_SOLICIT;
  b[m + 1] = 0;
  put16(b, m + ICMPV6_CSUM, 0);
  b.fill(0, m + 4, m + 8);
  copy(b, m + 8, a, o, 16);
  b[m + 24] = ND_OPT_SOURCE_LLADDR;
  b[m + 25] = 1;
  copy(b, m + 26, pb, mac, 6);
  put16(b, m + ICMPV6_CSUM, finish(sum16(b, m, icmpLen, pseudoSum6(b, ip, IPPROTO_ICMPV6, icmpLen))));
  if (dp.tx.pushUncaptured(port, f, ETH_HLEN + IPV6_HLEN + icmpLen)) dp.ctr[C.neighbourRequests]++;
}

export function solicit(dp: Datapath, port: number, family: number, a: Uint8Array, o: number): void {
  if (family === 4) sendArpRequest(dp, port, a, o);
  else sendNeighbourSolicitation(dp, port, a, o);
}

/**
 * Parks a frame whose next hop has no neighbour entry yet, soliciting it the first time.
 * The frame's Ethernet source is already set; the destination is filled when resolved.
 * `asFragment` (SEND_* of output.ts): how the frame is counted (pendingQueued, fragmentsQueued, wgParked...).
 */
export function parkFrame(
  dp: Datapath,
  port: number,
  family: number,
  nh: Uint8Array,
  nhOff: number,
  b: Uint8Array,
  off: number,
  len: number,
  asFragment = 0,
): void {
  const q = dp.pending;
  const already = q.waiting(port, family, nh, nhOff);
  // The received frame keeps its offload state while it waits, as does a WireGuard train; what
  // else was made of it has none.
  const vnet = (asFragment === SEND_FORWARD || asFragment === SEND_WG_TRAIN) && isSuper(dp) ? dp.vnet : null;
  if (!q.add(port, family, nh, nhOff, b, off, len, dp.now, dp.tx.recordBits, vnet)) {
    dp.ctr[PARK_FULL[asFragment]]++;
    return;
  }
  dp.ctr[PARKED[asFragment]]++;
  if (!already) solicit(dp, port, family, nh, nhOff);
}

/** Sends parked frames whose neighbour became known, drops expired ones, re-solicits. */
export function servicePending(dp: Datapath): void {
  const q = dp.pending;
  if (q.count === 0) return;
  const resolicit = dp.now - q.lastSolicitRound >= SOLICIT_INTERVAL_MS;
  if (resolicit) q.lastSolicitRound = dp.now;
  const b = dp.arena.bytes;
  for (let i = 0; i < PENDING_SLOTS && q.count > 0; i++) {
    if (q.used[i] === 0) continue;
    const port = q.port[i];
    const f = q.frameOff(i);
    if (!dp.ports.active(port)) {
      q.release(i);
      dp.ctr[C.dropPortDown]++;
    } else if (neighbourMac(dp, port, q.family[i], q.nexthop, i * 16, b, f)) {
      // The slot is reused only after this batch is transmitted: release after push.
      dp.tx.recordBits = q.recordBits[i];
      const v = i * VNET_WORDS;
      if ((q.vnet[v + VNET_FLAGS] | q.vnet[v + VNET_GSO_TYPE]) !== 0) {
        for (let k = 0; k < VNET_WORDS; k++) dp.vnet[k] = q.vnet[v + k];
        transmitSuper(dp, port, f, q.len[i], true);
        dp.vnet.fill(0);
      } else if (dp.tx.push(port, f, q.len[i])) dp.ctr[C.pendingSent]++;
      else dp.ctr[C.dropTxFull]++;
      dp.tx.recordBits = 0;
      q.release(i);
    } else if (dp.now > q.deadline[i]) {
      q.release(i);
      dp.ctr[C.dropPendingTimeout]++;
    } else if (resolicit && q.firstFor(i)) {
      // One request per neighbour per round, however many frames wait for it (RFC 1122 §2.3.2.1).
      solicit(dp, port, q.family[i], q.nexthop, i * 16);
    }
  }
}
