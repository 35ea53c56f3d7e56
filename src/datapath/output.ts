// The last step of forwarding: Ethernet rewrite toward the next hop, or parking the frame
// until the neighbour answers.
import type { Datapath } from './state.js';
import { WG_PORT } from '../tables/layout.js';
import { SEND_FORWARD, SEND_WG_TRAIN, SENT, TX_FULL } from './send-kinds.js';
import { isSuper, transmitSuper } from './superframe.js';
import { groTransmit } from './gro.js';
import { PORT_OFFLOADS } from '../tables/port-table.js';

export { SEND_FORWARD, SEND_FRAGMENT, SEND_WIREGUARD, SEND_SEGMENT, SEND_WG_TRAIN } from './send-kinds.js';
import { neighbourMac, parkFrame } from './neighbours.js';
import { ETH_SRC } from '../wire/ethernet.js';
import { copy } from '../wire/bytes.js';

/** `kind` (SEND_*): a received frame's outcome, or information about a packet counted already. */
export function transmit(dp: Datapath, port: number, off: number, len: number, kind = SEND_FORWARD): void {
  // The received frame itself, still a super-frame or with its checksum left to the device.
  // A WireGuard train (wg-send.ts) is a UDP super-frame too.
  if (kind === SEND_WG_TRAIN) {
    transmitSuper(dp, port, off, len, false, kind);
    return;
  }
  if (kind === SEND_FORWARD) {
    if (isSuper(dp)) {
      transmitSuper(dp, port, off, len, false);
      return;
    }
    // Segments of one flow toward a port with offloads leave as one super-frame (gro.ts).
    if ((dp.ports.flags(port) & PORT_OFFLOADS) !== 0) {
      groTransmit(dp, port, off, len);
      return;
    }
  }
  if (dp.tx.push(port, off, len)) dp.ctr[SENT[kind]]++;
  else dp.ctr[TX_FULL[kind]]++;
}

/** Sends the frame at off out of port to the neighbour whose address is nh[nhOff]. */
export function sendToNeighbour(
  dp: Datapath,
  port: number,
  family: number,
  nh: Uint8Array,
  nhOff: number,
  off: number,
  len: number,
  asFragment = SEND_FORWARD,
): void {
  // Into the WireGuard device: no neighbours there; encrypted when the frame is done (wg-send.ts).
  if (port === WG_PORT) {
    transmit(dp, port, off, len, asFragment);
    return;
  }
  const b = dp.arena.bytes;
  copy(b, off + ETH_SRC, dp.ports.bytes, dp.ports.macOff(port), 6);
  if (neighbourMac(dp, port, family, nh, nhOff, b, off)) transmit(dp, port, off, len, asFragment);
  else parkFrame(dp, port, family, nh, nhOff, b, off, len, asFragment);
}
