// The clocks the WireGuard core runs on, injected by whoever runs it (the agent passes
// systemClock; tests pass a fake one and drive time themselves). Nothing else under
// src/wireguard/ reads a clock: monotonic time comes with every call as `now`, and what needs the
// wall clock asks the one it was given.

export interface WgClock {
  /** Monotonic milliseconds: the `now` the device's calls are given is a reading of this. */
  now(): number;
  /**
   * Milliseconds since the Unix epoch: initiations' TAI64N timestamps, `wg show`'s latest
   * handshake, and keypair creation times as the workers compare them with their own wall clock.
   */
  wallNow(): number;
}

/** The real clocks: for the agent, tools and tests that want real time; never a default in the core. */
export const systemClock: WgClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};
