// A step of a run: a frame received on a port, then (unless tick < 0) the clock moves and
// servicePending runs; and the arbitraries for a step's port and tick.
import fc from 'fast-check';
import { NPORTS } from '../../harness.js';

export interface Step {
  frame: Uint8Array;
  port: number;
  /** Milliseconds the clock moves before servicePending runs after this frame. */
  tick: number;
}

export const portArb = fc.integer({ min: 0, max: NPORTS - 1 });
export const tickArb = fc.constantFrom(-1, 0, 0, 5, 1100, 3500);
