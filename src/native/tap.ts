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
  /** TUN_F_* offloads the kernel accepted (0 when opened without offloads). */
  offloads: number;
}

// TUN_F_* bits of TapHandle.offloads.
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;

/**
 * A frame's virtio_net_hdr as rxBatch / txBatch exchange it: VNET_WORDS Int32 words per frame
 * index, in this order.
 */
export const VNET_WORDS = 6;
export const VNET_FLAGS = 0;
export const VNET_GSO_TYPE = 1;
export const VNET_HDR_LEN = 2;
export const VNET_GSO_SIZE = 3;
export const VNET_CSUM_START = 4;
export const VNET_CSUM_OFFSET = 5;

// gsoSplit's kinds of super-frame.
export const GSO_TCP4 = 1;
export const GSO_TCP6 = 2;
export const GSO_UDP4 = 3;
export const GSO_UDP6 = 4;

export interface NativeError extends Error {
  code: string;
}

export interface NativeShim {
  /**
   * Create (or attach to) multi-queue TAP `name` (< 16 bytes) with 1..16 queues; with `offloads`,
   * frames carry a virtio_net_hdr (rxBatch / txBatch need their vnet argument) and the device
   * takes checksum, TSO and (where the kernel has it) USO offloads.
   */
  tapOpen(name: string, queues: number, offloads?: boolean): TapHandle;
  /**
   * Up to maxFrames (1..256) reads; frame i lands at
   * arena[(firstSlot+i)*slotSize + headroom] (at most slotSize-headroom bytes)
   * and its length in lens[firstSlot+i]. Returns frames read (0 = none pending).
   * With vnet (a TAP opened with offloads), frame i's virtio_net_hdr is decoded into
   * vnet[(firstSlot+i)*VNET_WORDS ..].
   */
  rxBatch(
    fd: number,
    arena: Uint8Array,
    firstSlot: number,
    maxFrames: number,
    slotSize: number,
    headroom: number,
    lens: Int32Array,
    vnet?: Int32Array,
  ): number;
  /**
   * Writes frames desc[2*(first+i)] (byte offset), desc[2*(first+i)+1] (length)
   * for i < n (n <= 256), one write() each. Returns frames consumed (written, or dropped by a per-frame
   * error such as EIO when the interface is down; each drop adds 1 to
   * stats[0]). Fewer than n consumed means the queue is full (EAGAIN). With vnet (a TAP opened
   * with offloads), frame i goes out behind the header vnet[(first+i)*VNET_WORDS ..].
   */
  txBatch(
    fd: number,
    arena: Uint8Array,
    desc: Int32Array,
    first: number,
    n: number,
    stats?: Float64Array,
    vnet?: Int32Array,
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
  aeadSeal(
    key: Uint8Array,
    keyOff: number,
    buf: Uint8Array,
    off: number,
    len: number,
    counterLo: number,
    counterHi: number,
  ): void;
  /**
   * aeadSeal for n messages at once: plaintext i is buf[off + i*stride, + lens[lensAt+i]), sealed
   * in place with counter + i (the 64-bit counter carrying into counterHi), its tag after it.
   */
  aeadSealMany(
    key: Uint8Array,
    keyOff: number,
    buf: Uint8Array,
    off: number,
    stride: number,
    lens: Int32Array,
    lensAt: number,
    n: number,
    counterLo: number,
    counterHi: number,
  ): void;
  /**
   * Opens n WireGuard transport messages lying back to back (a train): message i at
   * buf[off + i*stride], stride bytes (the last lastLen), its counter at +8 of its header, in place;
   * ok[i] = 1 when its tag verifies, else 0.
   */
  aeadOpenMany(
    key: Uint8Array,
    keyOff: number,
    buf: Uint8Array,
    off: number,
    stride: number,
    n: number,
    lastLen: number,
    ok: Int32Array,
  ): void;
  /**
   * Software TSO / USO: the super-frame buf[off, off+len) (IP header at l3, TCP/UDP at l4, payload
   * at `payload`; kind GSO_*) cut into segments of at most mss payload bytes, segment i written at
   * buf[dstOff + i*stride] with its own headers and checksums, its length in lens[lensAt+i].
   * Returns the number of segments (at most maxSegs, else EINVAL and nothing written). With
   * `from`, a window: segments from, from+1, ... (at most maxSegs, the first at dstOff); returns
   * how many were written.
   */
  gsoSplit(
    buf: Uint8Array,
    off: number,
    len: number,
    kind: number,
    l3: number,
    l4: number,
    payload: number,
    mss: number,
    dstOff: number,
    stride: number,
    maxSegs: number,
    lens: Int32Array,
    lensAt: number,
    from?: number,
  ): number;
  /**
   * Finishes a checksum left to the device (virtio NEEDS_CSUM): the complement of the sum of
   * buf[start, end) — the field at `field` holding the pseudo-header sum — written at field.
   */
  csumFill(buf: Uint8Array, start: number, end: number, field: number, udp: boolean): void;
  /**
   * True when the TCP / UDP checksum of the packet (IP header at l3, L4 at l4, ending at end; the
   * protocol is the IPv4 header's or the IPv6 next header) verifies, pseudo-header included.
   */
  l4CsumOk(buf: Uint8Array, l3: number, l4: number, end: number, v6: boolean): boolean;
  /** Decrypts buf[off, off+len−16) in place against the tag in its last 16 bytes; false when it does not verify. */
  aeadOpen(
    key: Uint8Array,
    keyOff: number,
    buf: Uint8Array,
    off: number,
    len: number,
    counterLo: number,
    counterHi: number,
  ): boolean;
}

/** Where the addon is expected: $WEFT_NATIVE, else relative to dist/src/native/tap.js. */
export function nativePath(): string {
  return (
    process.env.WEFT_NATIVE ??
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
  return (
    e instanceof Error &&
    typeof (e as NativeError).code === 'string' &&
    (code === undefined || (e as NativeError).code === code)
  );
}
