/**
 * Typed loader for the native shim (native-shims/weft_native.c).
 *
 * The addon is loaded lazily on first use so that importing this module for
 * its types never fails on a machine where the shim was not built. Hot paths
 * should call loadNative() once and keep the returned object.
 *
 * Every function throws a NativeError whose `.code` is an errno name
 * ('EINVAL' for bad arguments, 'EPERM', 'EBUSY', 'EBADF', ...).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface TapHandle {
  /** Actual interface name (a template like "weft%d" is expanded). */
  name: string;
  /** One non-blocking fd per queue. */
  fds: number[];
}

export interface NativeError extends Error {
  code: string;
}

export interface NativeShim {
  /** Create (or attach to) multi-queue TAP `name` (< 16 bytes) with 1..16 queues. */
  tapOpen(name: string, queues: number): TapHandle;
  /**
   * Up to maxFrames (1..256) reads; frame i lands at
   * arena[(firstSlot+i)*slotSize + headroom] (at most slotSize-headroom bytes)
   * and its length in lens[firstSlot+i]. Returns frames read (0 = none pending).
   */
  rxBatch(
    fd: number,
    arena: Uint8Array,
    firstSlot: number,
    maxFrames: number,
    slotSize: number,
    headroom: number,
    lens: Int32Array,
  ): number;
  /**
   * Writes frames desc[2*(first+i)] (byte offset), desc[2*(first+i)+1] (length)
   * for i < n (n <= 256), one write() each. Returns frames consumed (written, or dropped by a per-frame
   * error such as EIO when the interface is down; each drop adds 1 to
   * stats[0]). Fewer than n consumed means the queue is full (EAGAIN).
   */
  txBatch(
    fd: number,
    arena: Uint8Array,
    desc: Int32Array,
    first: number,
    n: number,
    stats?: Float64Array,
  ): number;
  /**
   * poll() for POLLIN on fds[0..n) (n <= 512; negative fds are ignored),
   * blocking this thread up to timeoutMs (-1 = forever). Sets ready[i] to 1 if
   * fd i is readable or has POLLERR/POLLHUP/POLLNVAL (else 0)
   * and returns how many are ready (0 on timeout or EINTR).
   */
  wait(fds: Int32Array, n: number, timeoutMs: number, ready: Int32Array): number;
  /** Pin the calling thread (not the process) to one CPU. */
  pin(cpu: number): void;
  close(fd: number): void;
  /** Non-blocking eventfd, to wake a thread blocked in wait(). */
  eventfdCreate(): number;
  eventfdSignal(fd: number): void;
  eventfdDrain(fd: number): void;
  /**
   * WireGuard transport encryption in place (ChaCha20-Poly1305, nonce = 32 zero bits + the
   * 64-bit counter little-endian): buf[off, off+len) becomes ciphertext and the 16-byte tag is
   * written right after it. The key is key[keyOff, keyOff+32).
   */
  aeadSeal(key: Uint8Array, keyOff: number, buf: Uint8Array, off: number, len: number, counterLo: number, counterHi: number): void;
  /** Decrypts buf[off, off+len−16) in place against the tag in its last 16 bytes; false when it does not verify. */
  aeadOpen(key: Uint8Array, keyOff: number, buf: Uint8Array, off: number, len: number, counterLo: number, counterHi: number): boolean;
}

/** Where the addon is expected: $WEFT_NATIVE, else relative to dist/src/native/tap.js. */
export function nativePath(): string {
  return (
    process.env['WEFT_NATIVE'] ??
    fileURLToPath(new URL('../../../native-shims/build/Release/weft_native.node', import.meta.url))
  );
}

let shim: NativeShim | undefined;

export function loadNative(): NativeShim {
  if (shim) return shim;
  const path = nativePath();
  if (!existsSync(path)) {
    throw new Error(`native shim not built: run npm ci (needs make, g++/gcc, python3); missing ${path}`);
  }
  const require = createRequire(import.meta.url);
  try {
    shim = require(path) as NativeShim;
  } catch (cause) {
    throw new Error(`native shim at ${path} failed to load (rebuild with npm ci)`, { cause });
  }
  return shim;
}

export function isNativeError(e: unknown, code?: string): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).code === 'string' &&
    (code === undefined || (e as NativeError).code === code);
}

export const tapOpen: NativeShim['tapOpen'] = (name, queues) => loadNative().tapOpen(name, queues);
export const rxBatch: NativeShim['rxBatch'] = (fd, arena, firstSlot, maxFrames, slotSize, headroom, lens) =>
  loadNative().rxBatch(fd, arena, firstSlot, maxFrames, slotSize, headroom, lens);
export const txBatch: NativeShim['txBatch'] = (fd, arena, desc, first, n, stats) =>
  loadNative().txBatch(fd, arena, desc, first, n, stats);
export const wait: NativeShim['wait'] = (fds, n, timeoutMs, ready) => loadNative().wait(fds, n, timeoutMs, ready);
export const pin: NativeShim['pin'] = (cpu) => loadNative().pin(cpu);
export const close: NativeShim['close'] = (fd) => loadNative().close(fd);
export const eventfdCreate: NativeShim['eventfdCreate'] = () => loadNative().eventfdCreate();
export const eventfdSignal: NativeShim['eventfdSignal'] = (fd) => loadNative().eventfdSignal(fd);
export const eventfdDrain: NativeShim['eventfdDrain'] = (fd) => loadNative().eventfdDrain(fd);
