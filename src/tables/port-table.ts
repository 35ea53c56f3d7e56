// The ports of a node, shared by the control thread (sole writer) and the workers.
// Workers re-read their port list when `generation` changes; per-packet fields (MAC,
// MTU, addresses) are read straight from the shared bytes.

export const MAX_PORTS = 256;
export const MAX_QUEUES = 16;

// What a port is (its record's kind word).
export const PORT_KIND_UPLINK = 1;
export const PORT_KIND_HOST = 2;
export const PORT_KIND_ENDPOINT = 3;
/** The VXLAN tunnel pseudo-port (layout.ts TUNNEL_PORT). */
export const PORT_KIND_TUNNEL = 4;
/** The WireGuard device pseudo-port (layout.ts WG_PORT). */
export const PORT_KIND_WIREGUARD = 5;

/**
 * Per-port counters each worker keeps: rx frames, rx bytes, tx frames, tx bytes, and of those
 * frames the GSO super-frames received and sent whole (ports with offloads).
 */
export const PORT_COUNTERS = 6;
export const PC_RX_FRAMES = 0;
export const PC_RX_BYTES = 1;
export const PC_TX_FRAMES = 2;
export const PC_TX_BYTES = 3;
export const PC_RX_SUPER = 4;
export const PC_TX_SUPER = 5;

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  rxSuperFrames: number;
  txSuperFrames: number;
}

/** Sums the per-worker per-port counters (control thread). */
export function readPortCounters(sab: SharedArrayBuffer, workers: number, port: number): PortCounters {
  const all = new Float64Array(sab);
  const out = new Array<number>(PORT_COUNTERS).fill(0);
  for (let w = 0; w < workers; w++) {
    for (let i = 0; i < PORT_COUNTERS; i++) out[i]! += all[(w * MAX_PORTS + port) * PORT_COUNTERS + i]!;
  }
  return {
    rxFrames: out[PC_RX_FRAMES]!,
    rxBytes: out[PC_RX_BYTES]!,
    txFrames: out[PC_TX_FRAMES]!,
    txBytes: out[PC_TX_BYTES]!,
    rxSuperFrames: out[PC_RX_SUPER]!,
    txSuperFrames: out[PC_TX_SUPER]!,
  };
}

export const PORT_HAS_IPV4 = 1;
export const PORT_HAS_IPV6 = 2;
/** An endpoint serving load-balanced VIPs: IPIP/IP6IP6 to it is decapsulated for it. */
export const PORT_DSR_BACKEND = 4;
/** A TAP opened with offloads: frames carry a virtio_net_hdr, super-frames go out whole. */
export const PORT_OFFLOADS = 8;
/** Its offloads include USO (UDP segmentation: kernel 6.2 and later): WireGuard trains go out whole. */
export const PORT_USO = 16;

const HEADER_WORDS = 4; // generation, highest index + 1
const PORT_WORDS = 64;

// Word offsets inside one port record.
const W_STATE = 0;
const W_KIND = 1;
const W_MTU = 2;
const W_FLAGS = 3;
const W_FDS = 32;
// Byte offsets inside one port record.
const B_MAC = 16;
const B_IPV4 = 24;
const B_IPV6 = 32;
const B_IPV6_LL = 48;

export interface PortSpec {
  kind: number;
  mtu: number;
  mac: Uint8Array;
  ipv4?: Uint8Array;
  ipv6?: Uint8Array;
  ipv6LinkLocal: Uint8Array;
  fds: number[];
  dsrBackend?: boolean;
  /** Opened with TAP offloads (virtio_net_hdr on every frame). */
  offloads?: boolean;
  /** The kernel took UDP segmentation offload (USO) too. */
  uso?: boolean;
}

export class PortTable {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly bytes: Uint8Array;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.words = new Int32Array(sab);
    this.bytes = new Uint8Array(sab);
  }

  static create(): PortTable {
    return new PortTable(new SharedArrayBuffer((HEADER_WORDS + MAX_PORTS * PORT_WORDS) * 4));
  }

  static attach(sab: SharedArrayBuffer): PortTable {
    return new PortTable(sab);
  }

  generation(): number {
    return Atomics.load(this.words, 0);
  }

  /** One past the highest index ever used: workers scan [0, limit). */
  limit(): number {
    return Atomics.load(this.words, 1);
  }

  /** Control thread only. */
  set(index: number, spec: PortSpec): void {
    if (index < 0 || index >= MAX_PORTS) throw new RangeError(`port index ${index} out of range`);
    if (spec.fds.length > MAX_QUEUES) throw new RangeError(`at most ${MAX_QUEUES} queues`);
    const w = HEADER_WORDS + index * PORT_WORDS;
    Atomics.store(this.words, w + W_STATE, 0);
    Atomics.add(this.words, 0, 1);
    this.words[w + W_KIND] = spec.kind;
    this.words[w + W_MTU] = spec.mtu;
    this.words[w + W_FLAGS] =
      (spec.ipv4 ? PORT_HAS_IPV4 : 0) |
      (spec.ipv6 ? PORT_HAS_IPV6 : 0) |
      (spec.dsrBackend ? PORT_DSR_BACKEND : 0) |
      (spec.offloads ? PORT_OFFLOADS : 0) |
      (spec.offloads && spec.uso ? PORT_USO : 0);
    const b = w * 4;
    this.bytes.set(spec.mac, b + B_MAC);
    this.bytes.fill(0, b + B_IPV4, b + B_IPV6_LL + 16);
    if (spec.ipv4) this.bytes.set(spec.ipv4, b + B_IPV4);
    if (spec.ipv6) this.bytes.set(spec.ipv6, b + B_IPV6);
    this.bytes.set(spec.ipv6LinkLocal, b + B_IPV6_LL);
    for (let q = 0; q < MAX_QUEUES; q++) this.words[w + W_FDS + q] = q < spec.fds.length ? spec.fds[q] : -1;
    if (index + 1 > this.words[1]) Atomics.store(this.words, 1, index + 1);
    Atomics.store(this.words, w + W_STATE, 1);
    Atomics.add(this.words, 0, 1);
  }

  /** Control thread only: the port stops being read or written by workers. */
  remove(index: number): void {
    const w = HEADER_WORDS + index * PORT_WORDS;
    Atomics.store(this.words, w + W_STATE, 0);
    Atomics.add(this.words, 0, 1);
  }

  active(index: number): boolean {
    return Atomics.load(this.words, HEADER_WORDS + index * PORT_WORDS + W_STATE) === 1;
  }

  kind(index: number): number {
    return this.words[HEADER_WORDS + index * PORT_WORDS + W_KIND];
  }

  mtu(index: number): number {
    return this.words[HEADER_WORDS + index * PORT_WORDS + W_MTU];
  }

  flags(index: number): number {
    return this.words[HEADER_WORDS + index * PORT_WORDS + W_FLAGS];
  }

  fd(index: number, queue: number): number {
    return this.words[HEADER_WORDS + index * PORT_WORDS + W_FDS + queue];
  }

  /** Byte offsets into `bytes` of the port's MAC and addresses. */
  macOff(index: number): number {
    return (HEADER_WORDS + index * PORT_WORDS) * 4 + B_MAC;
  }

  ipv4Off(index: number): number {
    return (HEADER_WORDS + index * PORT_WORDS) * 4 + B_IPV4;
  }

  ipv6Off(index: number): number {
    return (HEADER_WORDS + index * PORT_WORDS) * 4 + B_IPV6;
  }

  ipv6LinkLocalOff(index: number): number {
    return (HEADER_WORDS + index * PORT_WORDS) * 4 + B_IPV6_LL;
  }
}
