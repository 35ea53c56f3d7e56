// ARP on the router's ports: answer requests for our addresses, learn senders that talk
// to us (RFC 826's merge rule, restricted to packets addressed to us).
import type { Datapath } from './state.js';
import { C } from './counters.js';
import { ETH_HLEN, ETH_SRC, ETHERTYPE_ARP, writeEthernet } from '../wire/ethernet.js';
import { ARP_LEN, ARP_REQUEST, ARP_REPLY, ARP_SHA, ARP_SPA, ARP_TPA, arpValid, arpOp, writeArp } from '../wire/arp.js';
import { ROUTE_LOCAL, ROUTE_TYPE } from '../tables/layout.js';
import { learnNeighbour } from './neighbours.js';

function isLocal4(dp: Datapath, b: Uint8Array, addrOff: number): boolean {
  return dp.routes.lookup(4, b, addrOff, dp.route) >= 0 && dp.route[ROUTE_TYPE] === ROUTE_LOCAL;
}

export function handleArp(dp: Datapath, port: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  const a = off + ETH_HLEN;
  if (!arpValid(b, a, len - ETH_HLEN)) {
    dp.ctr[C.dropArpMalformed]++;
    return;
  }
  const op = arpOp(b, a);
  if ((op !== ARP_REQUEST && op !== ARP_REPLY) || !isLocal4(dp, b, a + ARP_TPA)) {
    dp.ctr[C.dropNeighbourNotOurs]++;
    return;
  }
  dp.ctr[C.consumed]++;
  const spaZero =
    b[a + ARP_SPA] === 0 && b[a + ARP_SPA + 1] === 0 && b[a + ARP_SPA + 2] === 0 && b[a + ARP_SPA + 3] === 0;
  if (!spaZero) learnNeighbour(dp, port, 4, b, a + ARP_SPA, b, a + ARP_SHA);
  if (op !== ARP_REQUEST) return;
  const f = dp.arena.allocGen();
  if (f < 0) return;
  const pb = dp.ports.bytes;
  const mac = dp.ports.macOff(port);
  writeEthernet(b, f, b, off + ETH_SRC, pb, mac, ETHERTYPE_ARP);
  writeArp(b, f + ETH_HLEN, ARP_REPLY, pb, mac, b, a + ARP_TPA, b, a + ARP_SHA, b, a + ARP_SPA);
  if (dp.tx.push(port, f, ETH_HLEN + ARP_LEN)) dp.ctr[C.arpReplied]++;
}
