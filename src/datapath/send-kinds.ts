// How a frame handed to transmit / sendToNeighbour / parkFrame is counted: as a received
// frame's outcome, or as information about a packet whose outcome was counted already.
import { C } from './counters.js';

/** How a frame handed to transmit / sendToNeighbour is counted. */
export const SEND_FORWARD = 0;
/** One fragment of a packet already counted as `fragmented`: fragmentsSent / Queued / Lost. */
export const SEND_FRAGMENT = 1;
/** A WireGuard message carrying a packet already counted as forwarded (into the tunnel): wgSent / Parked / Lost. */
export const SEND_WIREGUARD = 2;
/** One segment of a super-frame already counted as `segmented`: segmentsSent / Queued / Lost. */
export const SEND_SEGMENT = 3;

/**
 * A train of WireGuard messages (wg-send.ts): one UDP GSO super-frame whose offload header is in
 * dp.vnet — the one kind besides a received super-frame that goes with dp.vnet.
 */
export const SEND_WG_TRAIN = 4;

export const SENT = [C.forwarded, C.fragmentsSent, C.wgSent, C.segmentsSent, C.wgSent];
export const TX_FULL = [C.dropTxFull, C.fragmentsLost, C.wgLost, C.segmentsLost, C.wgLost];
export const PARKED = [C.pendingQueued, C.fragmentsQueued, C.wgParked, C.segmentsQueued, C.wgParked];
export const PARK_FULL = [C.dropPendingFull, C.fragmentsLost, C.wgLost, C.segmentsLost, C.wgLost];
