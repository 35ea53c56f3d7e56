// Neighbor Discovery on the router's ports (RFC 4861): answer solicitations for our
// addresses, learn from solicitations and advertisements. Validation per §7.1.
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { learnNeighbour } from './neighbours.js';
import { ETH_HLEN, ETH_SRC, ETHERTYPE_IPV6, writeEthernet } from '../wire/ethernet.js';
import { IPPROTO_ICMPV6 } from '../wire/ipv4.js';
import { IPV6_HLEN, IPV6_HOPS, IPV6_SRC, ipv6IsMulticast, ipv6IsUnspecified, writeIpv6Header } from '../wire/ipv6.js';
import {
  ND_NEIGHBOR_SOLICIT,
  ND_NEIGHBOR_ADVERT,
  ND_TARGET,
  ND_OPTIONS,
  ND_OPT_SOURCE_LLADDR,
  ND_OPT_TARGET_LLADDR,
  NA_FLAG_ROUTER,
  NA_FLAG_SOLICITED,
  NA_FLAG_OVERRIDE,
  ndFindLinkLayerOption,
} from '../wire/icmpv6.js';
import { sum16, finish, pseudoSum6 } from '../wire/checksum.js';
import { put16, copy, equal } from '../wire/bytes.js';
import { ROUTE_LOCAL, ROUTE_TYPE } from '../tables/layout.js';

const ALL_NODES = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const ALL_NODES_MAC = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

/** Our address on this port: a LOCAL route, or the port's link-local address. */
export function isLocal6(dp: Datapath, port: number, b: Uint8Array, addrOff: number): boolean {
  if (equal(b, addrOff, dp.ports.bytes, dp.ports.ipv6LinkLocalOff(port), 16)) return true;
  return dp.routes.lookup(6, b, addrOff, dp.route) >= 0 && dp.route[ROUTE_TYPE] === ROUTE_LOCAL;
}

/**
 * Handles an NS or NA at m (ICMPv6 message of icmpLen bytes, checksum already verified).
 * Returns nothing; every outcome is counted.
 */
export function handleNdp(dp: Datapath, port: number, off: number, ip: number, m: number, icmpLen: number): void {
  const b = dp.arena.bytes;
  const type = b[m];
  if (b[ip + IPV6_HOPS] !== 255 || b[m + 1] !== 0 || icmpLen < ND_OPTIONS || ipv6IsMulticast(b, m + ND_TARGET)) {
    dp.ctr[C.dropNdpInvalid]++;
    return;
  }
  const end = m + icmpLen;
  if (type === ND_NEIGHBOR_ADVERT) {
    const tll = ndFindLinkLayerOption(b, m + ND_OPTIONS, end, ND_OPT_TARGET_LLADDR);
    if (tll === -2) {
      dp.ctr[C.dropNdpInvalid]++;
      return;
    }
    dp.ctr[C.consumed]++;
    // Without the option, a unicast NA's sender is the Ethernet source.
    learnNeighbour(dp, port, 6, b, m + ND_TARGET, b, tll >= 0 ? tll : off + ETH_SRC);
    return;
  }
  if (type !== ND_NEIGHBOR_SOLICIT) {
    dp.ctr[C.dropIcmpUnhandled]++;
    return;
  }
  const sll = ndFindLinkLayerOption(b, m + ND_OPTIONS, end, ND_OPT_SOURCE_LLADDR);
  const fromUnspecified = ipv6IsUnspecified(b, ip + IPV6_SRC);
  if (sll === -2 || (fromUnspecified && sll >= 0)) {
    dp.ctr[C.dropNdpInvalid]++;
    return;
  }
  if (!isLocal6(dp, port, b, m + ND_TARGET)) {
    dp.ctr[C.dropNeighbourNotOurs]++;
    return;
  }
  dp.ctr[C.consumed]++;
  if (!fromUnspecified && sll >= 0) learnNeighbour(dp, port, 6, b, ip + IPV6_SRC, b, sll);
  sendAdvert(dp, port, off, ip, m, fromUnspecified);
}

function sendAdvert(dp: Datapath, port: number, off: number, ip: number, m: number, toAllNodes: boolean): void {
  const b = dp.arena.bytes;
  const f = dp.arena.allocGen();
  if (f < 0) return;
  const pb = dp.ports.bytes;
  const mac = dp.ports.macOff(port);
  const oip = f + ETH_HLEN;
  const len = ND_OPTIONS + 8;
  if (toAllNodes) {
    writeEthernet(b, f, ALL_NODES_MAC, 0, pb, mac, ETHERTYPE_IPV6);
    writeIpv6Header(b, oip, len, IPPROTO_ICMPV6, 255, b, m + ND_TARGET, ALL_NODES, 0);
  } else {
    writeEthernet(b, f, b, off + ETH_SRC, pb, mac, ETHERTYPE_IPV6);
    writeIpv6Header(b, oip, len, IPPROTO_ICMPV6, 255, b, m + ND_TARGET, b, ip + IPV6_SRC);
  }
  const a = oip + IPV6_HLEN;
  b[a] = ND_NEIGHBOR_ADVERT;
  b[a + 1] = 0;
  put16(b, a + 2, 0);
  b[a + 4] = NA_FLAG_ROUTER | (toAllNodes ? 0 : NA_FLAG_SOLICITED) | NA_FLAG_OVERRIDE;
  b[a + 5] = 0;
  b[a + 6] = 0;
  b[a + 7] = 0;
  copy(b, a + ND_TARGET, b, m + ND_TARGET, 16);
  b[a + ND_OPTIONS] = ND_OPT_TARGET_LLADDR;
  b[a + ND_OPTIONS + 1] = 1;
  copy(b, a + ND_OPTIONS + 2, pb, mac, 6);
  put16(b, a + 2, finish(sum16(b, a, len, pseudoSum6(b, oip, IPPROTO_ICMPV6, len))));
  if (dp.tx.push(port, f, ETH_HLEN + IPV6_HLEN + len)) dp.ctr[C.ndpReplied]++;
}
