/*
 * The recorder's shared memory (Cilium's pcap recorder, in userspace):
 *
 *  - filters: a SharedHashMap per family keyed by a masked 5-tuple plus the mask's id
 *      key   [maskId << 8 | proto, srcPort << 16 | dstPort, src, dst]  (IPv4: 4 words; IPv6: 10)
 *      value [bits of the recordings holding this filter]
 *    Wildcards are zeros in the key (prefix bits beyond the length, a port 0, protocol ANY),
 *    and the packet's tuple is masked the same way before the probe, so one probe per
 *    distinct mask finds every filter of that mask: cost grows with masks, not filters.
 *  - control words: the mask list (seqlocked; workers copy it when its generation changes)
 *    and each recording slot's capture length.
 *  - one SpscRing per worker for captured packets, and per-worker lost counters per slot.
 *
 * A packet is probed against every mask (most specific first) and the hits are ORed, so
 * overlapping recordings each get the packet. Writers: the control thread only.
 */
import { SharedHashMap } from '../tables/hashmap.js';
import { SpscRing } from '../tables/ring.js';
import type { FilterMask } from './filter.js';
import { get32 } from '../wire/bytes.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethType } from '../wire/ethernet.js';
import {
  IPV4_OK,
  IPV4_PROTO,
  IPV4_SRC,
  IPV4_DST,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipv4HeaderCheck,
  ipv4HeaderLen,
  ipv4TotalLen,
  ipv4IsLaterFragment,
} from '../wire/ipv4.js';
import {
  IPV6_OK,
  IPV6_HLEN,
  IPV6_NEXT,
  IPV6_SRC,
  IPV6_DST,
  Ipv6Walk,
  ipv6Check,
  ipv6Walk,
  ipv6PayloadLen,
} from '../wire/ipv6.js';
import { L4_PORTS_LEN } from '../wire/tcp.js';

/** Recordings that can run at once (bits of a filter's value). */
export const MAX_RECORDINGS = 32;
/** Key words per family: [mask|proto, ports, src (1 or 4 words), dst (1 or 4 words)]. */
export const FILTER_KEY_WORDS_V4 = 4;
export const FILTER_KEY_WORDS_V6 = 10;
/** Hard ceiling of the configurable mask cap (the mask list's fixed space). */
export const MASKS_CEILING = 64;

const C_GEN = 0,
  C_COUNT = 1;
const MASK_BASE = 16;
const MASK_WORDS = 8;
const M_ID = 0,
  M_FAMILY = 1,
  M_SRCLEN = 2,
  M_DSTLEN = 3,
  M_FLAGS = 4;
const F_SRCPORT_ANY = 1,
  F_DSTPORT_ANY = 2,
  F_PROTO_ANY = 4;
const CAPLEN_BASE = MASK_BASE + MASKS_CEILING * MASK_WORDS;
const CONTROL_WORDS = CAPLEN_BASE + MAX_RECORDINGS;

/** Words of capture header in front of each captured packet in a ring record. */
export const CAPTURE_META_WORDS = 4;
export const META_ORIG_LEN = 0,
  META_SEC = 1,
  META_USEC = 2,
  META_POINT = 3;
/** Capture points (low byte of META_POINT; the port index is in the next byte). */
export const POINT_IN = 0,
  POINT_OUT = 1;
/** A recording slot's capture length meaning "the whole frame". */
export const CAPLEN_FULL = 0x7fffffff;

export interface RecorderSabs {
  filters4: SharedArrayBuffer;
  filters6: SharedArrayBuffer;
  control: SharedArrayBuffer;
  rings: SharedArrayBuffer[];
  lost: SharedArrayBuffer;
}

/** The fields of a filter that make its key. */
export interface FilterFields {
  src: { bytes: Uint8Array; len: number };
  srcPort: number;
  dst: { bytes: Uint8Array; len: number };
  dstPort: number;
  proto: number;
}

export interface RecorderTableOptions {
  maxFilters: number;
  workers: number;
  ringBytes: number;
}

function flagsOf(m: FilterMask): number {
  return (m.srcPortAny ? F_SRCPORT_ANY : 0) | (m.dstPortAny ? F_DSTPORT_ANY : 0) | (m.protoAny ? F_PROTO_ANY : 0);
}

/** Address bytes → big-endian words (1 for IPv4, 4 for IPv6), masked to len bits. */
export function maskedWords(bytes: Uint8Array, len: number, out: Int32Array, at: number): void {
  for (let w = 0; w < bytes.length / 4; w++) {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const k = 4 * w + i;
      const bits = Math.max(0, Math.min(8, len - 8 * k));
      const byte = k < bytes.length ? bytes[k] & ((0xff << (8 - bits)) & 0xff) : 0;
      v = (v << 8) | byte;
    }
    out[at + w] = v | 0;
  }
}

/** The mask of a prefix length as 4 words (IPv4: word 0). */
function prefixMaskWords(family: number, len: number, out: Int32Array, at: number): void {
  const total = family === 4 ? 32 : 128;
  for (let w = 0; w < 4; w++) {
    const bits = w * 32 >= total ? 0 : Math.max(0, Math.min(32, len - 32 * w));
    out[at + w] = bits === 0 ? 0 : bits === 32 ? -1 : (~0 << (32 - bits)) | 0;
  }
}

/** Control side: creates the shared memory and writes filters, masks and capture lengths. */
export class RecorderTables {
  readonly filters4: SharedHashMap;
  readonly filters6: SharedHashMap;
  readonly control: Int32Array;
  readonly rings: SpscRing[];
  readonly lost: Float64Array;
  readonly sabs: RecorderSabs;
  private readonly key = new Int32Array(FILTER_KEY_WORDS_V6);
  private readonly val = new Int32Array(1);
  private readonly maxFilters: number;

  constructor(o: RecorderTableOptions) {
    this.maxFilters = o.maxFilters;
    this.filters4 = SharedHashMap.create({ keyWords: FILTER_KEY_WORDS_V4, valueWords: 1, capacity: o.maxFilters });
    this.filters6 = SharedHashMap.create({ keyWords: FILTER_KEY_WORDS_V6, valueWords: 1, capacity: o.maxFilters });
    this.control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    this.rings = Array.from({ length: o.workers }, () => SpscRing.create(o.ringBytes));
    const lostSab = new SharedArrayBuffer(8 * MAX_RECORDINGS * o.workers);
    this.lost = new Float64Array(lostSab);
    this.sabs = {
      filters4: this.filters4.sab,
      filters6: this.filters6.sab,
      control: this.control.buffer as SharedArrayBuffer,
      rings: this.rings.map((r) => r.sab),
      lost: lostSab,
    };
  }

  setCaptureLength(slot: number, len: number): void {
    Atomics.store(this.control, CAPLEN_BASE + slot, len);
  }

  /** Fills the hash key of filter fields under mask id `maskId`; returns the family's map. */
  private fillKey(maskId: number, f: FilterFields): SharedHashMap {
    const k = this.key;
    const v4 = f.src.bytes.length === 4;
    k[0] = (maskId << 8) | f.proto;
    k[1] = (f.srcPort << 16) | f.dstPort | 0;
    maskedWords(f.src.bytes, f.src.len, k, 2);
    maskedWords(f.dst.bytes, f.dst.len, k, v4 ? 3 : 6);
    return v4 ? this.filters4 : this.filters6;
  }

  /** Adds slot's bit to the filter's entry; false when the table is full (or busy). */
  addFilter(maskId: number, f: FilterFields, slot: number): boolean {
    const m = this.fillKey(maskId, f);
    if (m.lookup(this.key, 0, this.val, 0)) {
      this.val[0] |= 1 << slot;
      return m.update(this.key, 0, this.val, 0);
    }
    if (this.filterCount() >= this.maxFilters) return false;
    this.val[0] = 1 << slot;
    return m.insert(this.key, 0, this.val, 0);
  }

  /** Takes slot's bit off the filter's entry, deleting it when no recording is left. */
  removeFilter(maskId: number, f: FilterFields, slot: number): void {
    const m = this.fillKey(maskId, f);
    if (!m.lookup(this.key, 0, this.val, 0)) return;
    const rest = this.val[0] & ~(1 << slot);
    if (rest === 0) m.delete(this.key, 0);
    else {
      this.val[0] = rest;
      m.update(this.key, 0, this.val, 0);
    }
  }

  /** Distinct filter entries in use (both families). */
  filterCount(): number {
    return this.filters4.stats().size + this.filters6.stats().size;
  }

  /** Usage of the filter tables as one (recorder.maxFilters is their shared capacity). */
  filterStats(): { size: number; capacity: number; full: number } {
    const a = this.filters4.stats();
    const b = this.filters6.stats();
    return { size: a.size + b.size, capacity: this.maxFilters, full: a.full + b.full };
  }

  /** Publishes the mask list (most specific first) under the seqlock. */
  publishMasks(masks: Array<{ id: number; mask: FilterMask }>): void {
    if (masks.length > MASKS_CEILING) throw new RangeError(`at most ${MASKS_CEILING} masks`);
    const c = this.control;
    const gen = Atomics.load(c, C_GEN);
    Atomics.store(c, C_GEN, gen + 1); // odd: being written
    for (let i = 0; i < masks.length; i++) {
      const b = MASK_BASE + i * MASK_WORDS;
      const m = masks[i].mask;
      Atomics.store(c, b + M_ID, masks[i].id);
      Atomics.store(c, b + M_FAMILY, m.family);
      Atomics.store(c, b + M_SRCLEN, m.srcLen);
      Atomics.store(c, b + M_DSTLEN, m.dstLen);
      Atomics.store(c, b + M_FLAGS, flagsOf(m));
    }
    Atomics.store(c, C_COUNT, masks.length);
    Atomics.store(c, C_GEN, gen + 2);
  }

  /** Captures lost to full rings, per slot, summed over workers. */
  lostFor(slot: number): number {
    let n = 0;
    for (let w = 0; w < this.rings.length; w++) n += this.lost[w * MAX_RECORDINGS + slot];
    return n;
  }
}

/**
 * Worker side: classifies a frame against the filters and copies matches into this worker's
 * ring. No allocation; every byte of the frame is treated as hostile (a frame it cannot
 * parse simply matches nothing and goes on through the pipeline untouched).
 */
export class RecorderReader {
  /** Masks this worker probes (0 = nothing is being recorded: the only cost is this check). */
  maskCount = 0;
  private readonly filters4: SharedHashMap;
  private readonly filters6: SharedHashMap;
  private readonly control: Int32Array;
  private readonly ring: SpscRing;
  private readonly lost: Float64Array;
  private seenGen = -1;
  private readonly maskId = new Int32Array(MASKS_CEILING);
  private readonly maskFamily = new Int32Array(MASKS_CEILING);
  /** Per mask: which port bits and protocol bits of the tuple take part in the key. */
  private readonly portMask = new Int32Array(MASKS_CEILING);
  private readonly protoMask = new Int32Array(MASKS_CEILING);
  private readonly srcMask = new Int32Array(MASKS_CEILING * 4);
  private readonly dstMask = new Int32Array(MASKS_CEILING * 4);
  private readonly key = new Int32Array(FILTER_KEY_WORDS_V6);
  private readonly val = new Int32Array(1);
  private readonly meta = new Int32Array(CAPTURE_META_WORDS);
  // The frame's tuple, filled by parseTuple.
  private family = 0;
  private proto = 0;
  private ports = 0;
  private readonly src = new Int32Array(4);
  private readonly dst = new Int32Array(4);
  private readonly walk = new Ipv6Walk();

  constructor(sabs: RecorderSabs, worker: number) {
    this.filters4 = SharedHashMap.attach(sabs.filters4);
    this.filters6 = SharedHashMap.attach(sabs.filters6);
    this.control = new Int32Array(sabs.control);
    this.ring = SpscRing.attach(sabs.rings[worker]);
    this.lost = new Float64Array(sabs.lost, 8 * MAX_RECORDINGS * worker, MAX_RECORDINGS);
  }

  /**
   * Wall-clock time of the current batch, in ms: every capture of a batch carries it (a batch
   * is read within microseconds; one clock read per batch instead of one per capture).
   */
  private batchMs = 0;

  /** Once per batch: picks up a new mask list and reads the clock. */
  refresh(): void {
    this.batchMs = performance.timeOrigin + performance.now();
    const c = this.control;
    const gen = Atomics.load(c, C_GEN);
    if (gen === this.seenGen) return;
    for (let attempt = 0; attempt < 100; attempt++) {
      const g = Atomics.load(c, C_GEN);
      if (g & 1) continue;
      const n = Atomics.load(c, C_COUNT);
      for (let i = 0; i < n && i < MASKS_CEILING; i++) {
        const b = MASK_BASE + i * MASK_WORDS;
        this.maskId[i] = Atomics.load(c, b + M_ID);
        this.maskFamily[i] = Atomics.load(c, b + M_FAMILY);
        const fl = Atomics.load(c, b + M_FLAGS);
        this.portMask[i] = (fl & F_SRCPORT_ANY ? 0 : 0xffff0000) | (fl & F_DSTPORT_ANY ? 0 : 0xffff);
        this.protoMask[i] = fl & F_PROTO_ANY ? 0 : 0xff;
        prefixMaskWords(this.maskFamily[i], Atomics.load(c, b + M_SRCLEN), this.srcMask, 4 * i);
        prefixMaskWords(this.maskFamily[i], Atomics.load(c, b + M_DSTLEN), this.dstMask, 4 * i);
      }
      if (Atomics.load(c, C_GEN) !== g) continue;
      this.maskCount = Math.min(n, MASKS_CEILING);
      this.seenGen = g;
      return;
    }
    // The writer kept changing the list: keep the old one and try again next batch.
  }

  /** Recording bits matching the frame at off (0: none). */
  classify(b: Uint8Array, off: number, len: number): number {
    if (!this.parseTuple(b, off, len)) return 0;
    let bits = 0;
    const k = this.key;
    const v4 = this.family === 4;
    const map = v4 ? this.filters4 : this.filters6;
    for (let i = 0; i < this.maskCount; i++) {
      if (this.maskFamily[i] !== this.family) continue;
      k[0] = (this.maskId[i] << 8) | (this.proto & this.protoMask[i]);
      k[1] = this.ports & this.portMask[i];
      const m = 4 * i;
      if (v4) {
        k[2] = this.src[0] & this.srcMask[m];
        k[3] = this.dst[0] & this.dstMask[m];
      } else {
        k[2] = this.src[0] & this.srcMask[m];
        k[3] = this.src[1] & this.srcMask[m + 1];
        k[4] = this.src[2] & this.srcMask[m + 2];
        k[5] = this.src[3] & this.srcMask[m + 3];
        k[6] = this.dst[0] & this.dstMask[m];
        k[7] = this.dst[1] & this.dstMask[m + 1];
        k[8] = this.dst[2] & this.dstMask[m + 2];
        k[9] = this.dst[3] & this.dstMask[m + 3];
      }
      if (map.lookup(k, 0, this.val, 0)) bits |= this.val[0];
    }
    return bits;
  }

  /**
   * Copies the frame (up to the longest capture length among `bits`' recordings) into the
   * ring. A full ring loses the capture, never the packet: counted per recording.
   */
  capture(
    b: Uint8Array,
    off: number,
    len: number,
    bits: number,
    point: number,
    port: number,
    ctr: Float64Array,
    capturedIdx: number,
    lostIdx: number,
  ): void {
    let cap = 0;
    for (let rest = bits; rest !== 0; rest &= rest - 1) {
      const c = this.control[CAPLEN_BASE + 31 - Math.clz32(rest & -rest)];
      if (c > cap) cap = c;
    }
    const n = Math.min(len, cap);
    const ms = this.batchMs;
    const sec = Math.floor(ms / 1000);
    const m = this.meta;
    m[META_ORIG_LEN] = len;
    m[META_SEC] = sec;
    m[META_USEC] = Math.floor((ms - sec * 1000) * 1000);
    m[META_POINT] = point | (port << 8);
    if (this.ring.pushWithMeta(m, CAPTURE_META_WORDS, b, off, n, bits)) {
      ctr[capturedIdx]++;
      return;
    }
    ctr[lostIdx]++;
    for (let rest = bits; rest !== 0; rest &= rest - 1) this.lost[31 - Math.clz32(rest & -rest)]++;
  }

  /**
   * The frame's family, protocol, ports and addresses, once its IP header passed
   * ipv4HeaderCheck / ipv6Check (a damaged header checksum does not hide a frame from a
   * recording; a header that lies about its length does). Ports are those of TCP and UDP (0
   * for other protocols and for later fragments, which carry none), read within the IP packet;
   * IPv6 extension headers are skipped with the pipeline's ipv6Walk. False: not IP, or malformed.
   */
  private parseTuple(b: Uint8Array, off: number, len: number): boolean {
    const ip = off + ETH_HLEN;
    const avail = len - ETH_HLEN;
    if (avail < 0) return false;
    const type = ethType(b, off);
    let end: number, l4: number, proto: number, later: boolean;
    if (type === ETHERTYPE_IPV4) {
      if (ipv4HeaderCheck(b, ip, avail) !== IPV4_OK) return false;
      end = ip + ipv4TotalLen(b, ip);
      l4 = ip + ipv4HeaderLen(b, ip);
      proto = b[ip + IPV4_PROTO];
      later = ipv4IsLaterFragment(b, ip);
      this.family = 4;
      this.src[0] = get32(b, ip + IPV4_SRC);
      this.dst[0] = get32(b, ip + IPV4_DST);
      this.src[1] = this.src[2] = this.src[3] = 0;
      this.dst[1] = this.dst[2] = this.dst[3] = 0;
    } else if (type === ETHERTYPE_IPV6) {
      if (ipv6Check(b, ip, avail) !== IPV6_OK) return false;
      this.family = 6;
      const src = ip + IPV6_SRC,
        dst = ip + IPV6_DST;
      for (let w = 0; w < 4; w++) {
        this.src[w] = get32(b, src + 4 * w);
        this.dst[w] = get32(b, dst + 4 * w);
      }
      end = ip + IPV6_HLEN + ipv6PayloadLen(b, ip);
      // A chain the pipeline refuses is recorded by its addresses and first next header, without ports.
      if (ipv6Walk(b, ip, end, this.walk) === IPV6_OK) {
        l4 = this.walk.l4Off;
        proto = this.walk.proto;
        later = this.walk.laterFragment;
      } else {
        l4 = end;
        proto = b[ip + IPV6_NEXT];
        later = false;
      }
    } else return false;
    this.proto = proto;
    const hasPorts = (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && !later && l4 + L4_PORTS_LEN <= end;
    // Source port in the high half, destination port in the low half, as the filter keys hold them.
    this.ports = hasPorts ? get32(b, l4) | 0 : 0;
    return true;
  }
}
