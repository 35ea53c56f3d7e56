// The last step of forwarding: Ethernet rewrite toward the next hop, or parking the frame
// until the neighbour answers.
import { Datapath } from './state.js';
import { C } from './counters.js';
import { neighbourMac, parkFrame } from './neighbours.js';
import { ETH_SRC } from '../wire/ethernet.js';
import { copy } from '../wire/bytes.js';

/**
 * `asFragment` (0 or 1): the frame is one fragment of a packet already counted as
 * `fragmented`, so it counts as information (fragmentsSent, fragmentsQueued, fragmentsLost)
 * instead of as a received frame's outcome (forwarded, pendingQueued, dropTxFull, dropPendingFull).
 */
export function transmit(dp: Datapath, port: number, off: number, len: number, asFragment = 0): void {
  if (dp.tx.push(port, off, len)) dp.ctr[asFragment ? C.fragmentsSent : C.forwarded]++;
  else dp.ctr[asFragment ? C.fragmentsLost : C.dropTxFull]++;
}

/** Sends the frame at off out of port to the neighbour whose address is nh[nhOff]. */
export function sendToNeighbour(dp: Datapath, port: number, family: number, nh: Uint8Array, nhOff: number, off: number, len: number, asFragment = 0): void {
  const b = dp.arena.bytes;
  copy(b, off + ETH_SRC, dp.ports.bytes, dp.ports.macOff(port), 6);
  if (neighbourMac(dp, port, family, nh, nhOff, b, off)) transmit(dp, port, off, len, asFragment);
  else parkFrame(dp, port, family, nh, nhOff, b, off, len, asFragment);
}
