// The last step of forwarding: Ethernet rewrite toward the next hop, or parking the frame
// until the neighbour answers.
import { Datapath } from './state.js';
import { C } from './counters.js';
import { neighbourMac, parkFrame } from './neighbours.js';
import { ETH_SRC } from '../wire/ethernet.js';
import { copy } from '../wire/bytes.js';

export function transmit(dp: Datapath, port: number, off: number, len: number): void {
  if (dp.tx.push(port, off, len)) dp.ctr[C.forwarded]++;
  else dp.ctr[C.dropTxFull]++;
}

/** Sends the frame at off out of port to the neighbour whose address is nh[nhOff]. */
export function sendToNeighbour(dp: Datapath, port: number, family: number, nh: Uint8Array, nhOff: number, off: number, len: number): void {
  const b = dp.arena.bytes;
  copy(b, off + ETH_SRC, dp.ports.bytes, dp.ports.macOff(port), 6);
  if (neighbourMac(dp, port, family, nh, nhOff, b, off)) transmit(dp, port, off, len);
  else parkFrame(dp, port, family, nh, nhOff, b, off, len);
}
