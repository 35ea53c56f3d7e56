// Entry point of the pipeline for one received frame: the recorder's inbound capture point,
// Ethernet checks and dispatch by ethertype — and the one place where decapsulated and
// reverse-translated frames re-enter the pipeline. A stage that opens a tunnel (lb.ts: IPIP,
// vxlan.ts, wg-receive.ts) or reverse-translates (nat-stage.ts) records the inner frame with
// dp.reenter and returns; runFrame then runs that frame again, under one depth guard.
import { type Datapath, VIA_VXLAN } from './state.js';
import { C } from './counters.js';
import { handleArp } from './arp-responder.js';
import { handleIpv4 } from './ipv4-path.js';
import { handleIpv6 } from './ipv6-path.js';
import { vxlanSendBack } from './vxlan.js';
import { wgFlush } from './wg-send.js';
import { wgTrainNext } from './wg-receive.js';
import {
  ETH_HLEN,
  ETH_DST,
  ETH_SRC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  ethType,
  isGroup,
} from '../wire/ethernet.js';
import { equal } from '../wire/bytes.js';
import { POINT_IN } from '../recorder/tables.js';
import { TUNNEL_PORT, WG_PORT } from '../tables/layout.js';

/**
 * How many times one received frame may re-enter the pipeline: a tunnel opens once (never one
 * inside another) and a reverse translation happens once, so two; the bound holds whatever a
 * stage's own rule says.
 */
export const MAX_REENTRIES = 2;

/** Processes the frame at arena offset off (len bytes) received on port. Never throws. */
export function receiveFrame(dp: Datapath, port: number, off: number, len: number): void {
  dp.ctr[C.rxFrames]++;
  dp.ctr[C.rxBytes] += len;
  const rec = dp.recorder;
  if (rec === null || rec.maskCount === 0) {
    runFrame(dp, port, off, len);
    if (dp.tx.count[WG_PORT] !== 0) wgFlush(dp);
    return;
  }
  // As the frame arrives, before the LB, NAT or decapsulation change it.
  const bits = rec.classify(dp.arena.bytes, off, len);
  if (bits !== 0) {
    rec.capture(dp.arena.bytes, off, len, bits, POINT_IN, port, dp.ctr, C.recorderCaptured, C.recorderLost);
  }
  dp.tx.recordBits = bits;
  runFrame(dp, port, off, len);
  // Encrypted while the frame's recording bits still apply: the WireGuard message is captured.
  if (dp.tx.count[WG_PORT] !== 0) wgFlush(dp);
  dp.tx.recordBits = 0;
}

/** The frame, then every inner frame a stage hands back, each to its one outcome. */
function runFrame(dp: Datapath, port: number, off: number, len: number): void {
  dp.via = 0;
  dp.innerVia = 0;
  dispatchFrame(dp, port, off, len);
  runInner(dp);
  // A train of WireGuard messages (the frame itself, so nothing came through a tunnel) opens one
  // message at a time, each inner packet run in turn.
  if (dp.wg !== null && dp.wg.trainNext < dp.wg.trainEnd) {
    for (;;) {
      dp.via = 0;
      if (!wgTrainNext(dp)) break;
      runInner(dp);
    }
  }
  // Answers the router queued on the tunnel pseudo-port go back through the tunnel they came by.
  if ((dp.via & VIA_VXLAN) !== 0 && dp.tx.count[TUNNEL_PORT] !== 0) vxlanSendBack(dp);
  dp.via = 0;
}

/** The inner frame a stage handed back, and the one inside that, under one depth guard. */
function runInner(dp: Datapath): void {
  for (let depth = 1; dp.innerVia !== 0; depth++) {
    const via = dp.innerVia;
    dp.innerVia = 0;
    if (depth > MAX_REENTRIES) {
      dp.ctr[C.dropReentryTooDeep]++;
      break;
    }
    dp.via |= via;
    dispatchInner(dp, dp.innerPort, dp.innerOff, dp.innerLen);
  }
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

/** An inner frame: its Ethernet header was checked (VXLAN) or written (IPIP, WireGuard, NAT) by its stage. */
function dispatchInner(dp: Datapath, port: number, off: number, len: number): void {
  const type = ethType(dp.arena.bytes, off);
  if (type === ETHERTYPE_IPV4) handleIpv4(dp, port, off, len);
  else if (type === ETHERTYPE_IPV6) handleIpv6(dp, port, off, len);
  else handleArp(dp, port, off, len);
}
