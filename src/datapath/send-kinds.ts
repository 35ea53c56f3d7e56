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

export const SENT = [C.forwarded, C.fragmentsSent, C.wgSent, C.segmentsSent];
export const TX_FULL = [C.dropTxFull, C.fragmentsLost, C.wgLost, C.segmentsLost];
export const PARKED = [C.pendingQueued, C.fragmentsQueued, C.wgParked, C.segmentsQueued];
export const PARK_FULL = [C.dropPendingFull, C.fragmentsLost, C.wgLost, C.segmentsLost];
