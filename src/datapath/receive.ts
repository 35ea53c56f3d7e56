// Entry point of the pipeline for one received frame: the recorder's inbound capture point,
// Ethernet checks and dispatch.
import { Datapath } from './state.js';
import { C } from './counters.js';
import { handleArp } from './arp-responder.js';
import { handleIpv4 } from './ipv4-path.js';
import { handleIpv6 } from './ipv6-path.js';
import { ETH_HLEN, ETH_DST, ETH_SRC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ethType, isGroup } from '../wire/ethernet.js';
import { equal } from '../wire/bytes.js';
import { POINT_IN } from '../recorder/tables.js';
import { wgFlush } from './wg-send.js';
import { WG_PORT } from '../tables/layout.js';

/** Processes the frame at arena offset off (len bytes) received on port. Never throws. */
export function receiveFrame(dp: Datapath, port: number, off: number, len: number): void {
  dp.ctr[C.rxFrames]++;
  dp.ctr[C.rxBytes] += len;
  const rec = dp.recorder;
  if (rec === null || rec.maskCount === 0) {
    dispatchFrame(dp, port, off, len);
    if (dp.tx.count[WG_PORT] !== 0) wgFlush(dp);
    return;
  }
  // As the frame arrives, before the LB, NAT or decapsulation change it.
  const bits = rec.classify(dp.arena.bytes, off, len);
  if (bits !== 0) rec.capture(dp.arena.bytes, off, len, bits, POINT_IN, port, dp.ctr, C.recorderCaptured, C.recorderLost);
  dp.tx.recordBits = bits;
  dispatchFrame(dp, port, off, len);
  // Encrypted while the frame's recording bits still apply: the WireGuard message is captured.
  if (dp.tx.count[WG_PORT] !== 0) wgFlush(dp);
  dp.tx.recordBits = 0;
}

function dispatchFrame(dp: Datapath, port: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  if (len < ETH_HLEN) {
    dp.ctr[C.dropTruncatedEthernet]++;
    return;
  }
  if (isGroup(b, off + ETH_SRC)) {
    // A broadcast or multicast source is forged or broken; replies to it would flood.
    dp.ctr[C.dropBadSourceMac]++;
    return;
  }
  if (!isGroup(b, off + ETH_DST) && !equal(b, off + ETH_DST, dp.ports.bytes, dp.ports.macOff(port), 6)) {
    dp.ctr[C.dropNotForUs]++;
    return;
  }
  const type = ethType(b, off);
  if (type === ETHERTYPE_IPV4) handleIpv4(dp, port, off, len);
  else if (type === ETHERTYPE_IPV6) handleIpv6(dp, port, off, len);
  else if (type === ETHERTYPE_ARP) handleArp(dp, port, off, len);
  else if (type === ETHERTYPE_VLAN) dp.ctr[C.dropVlanTagged]++;
  else dp.ctr[C.dropUnknownEthertype]++;
}
