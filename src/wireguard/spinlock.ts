// A tiny mutual-exclusion lock in one Int32 of shared memory, for critical sections of a few
// dozen instructions that several worker threads may enter for the same keypair (the replay
// window, the send counter). Uncontended it costs one compareExchange and one store. A
// thread that finds it taken spins briefly, then sleeps in Atomics.wait with a short timeout
// so that a lock holder preempted by the scheduler (more threads than CPUs) can finish.
const UNLOCKED = 0;
const LOCKED = 1;
const SPINS_BEFORE_SLEEP = 256;

export function lock(a: Int32Array, i: number): void {
  let spins = 0;
  while (Atomics.compareExchange(a, i, UNLOCKED, LOCKED) !== UNLOCKED) {
    if (++spins >= SPINS_BEFORE_SLEEP) {
      // Atomics.wait returns at once if the value is no longer LOCKED; 0.05 ms otherwise.
      Atomics.wait(a, i, LOCKED, 0.05);
      spins = 0;
    }
  }
}

export function unlock(a: Int32Array, i: number): void {
  Atomics.store(a, i, UNLOCKED);
}
