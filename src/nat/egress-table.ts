// The compiled egress policy table in shared memory: (source endpoint address, destination
// prefix) → (egress IP, gateway node address, flags), looked up by workers per packet, written
// by the control thread (single writer) from compileEgress's entries.
//
// Keying (the choice): one SharedHashMap with a composite key
//   [family << 8 | destination prefix length, source address (4 words), destination masked (4 words)]
// — the source is always a full host address (/32, /128), the destination any prefix. A lookup
// probes the destination prefix lengths present in the table, longest first, with the packet's
// source fixed: its cost grows with the number of DISTINCT destination prefix lengths, not with
// endpoints or policies (the PrefixTable trick, with the source folded into the key, as
// Cilium's egress map keys an LPM trie on source address + destination prefix). It is bounded:
// one entry per (selected endpoint address, destination CIDR), refused and counted beyond
// `capacity`. One PrefixTable per source endpoint would need a SAB per endpoint and a second
// lookup to find it; a single map keeps one contract for workers.
//
// The lengths present are a bitmask per family (IPv4: bits 0..32, IPv6: 0..128) with a
// refcount per length in the header. A bit is set BEFORE the first entry of that length is
// inserted and cleared AFTER its last entry is deleted, so a reader never skips a length that
// has entries present for its whole lookup; each mask word is read with one atomic load.
//
// Value: [flags, egress IP (4 words), gateway node address (4 words), policy index].
import { SharedHashMap } from '../tables/hashmap.js';
import type { EgressEntry } from './egress-compile.js';
import { parseAddress, parsePrefix, formatAddress, type Address } from '../wire/addr.js';

export const EGRESS_KEY_WORDS = 9;
export const EGRESS_VALUE_WORDS = 10;
export const EV_FLAGS = 0;
export const EV_EGRESS_IP = 1;
export const EV_GATEWAY = 5;
export const EV_POLICY = 9;

/** This node owns the egress IP: SNAT here (the gateway's path). */
export const EGRESS_LOCAL = 0x1;
/** No node owns the egress IP now (e.g. during failover): drop and count, never leak the endpoint's address. */
export const EGRESS_NO_GATEWAY = 0x2;
/** The gateway node's address is IPv6 (else IPv4, in the first word). */
export const EGRESS_GATEWAY_V6 = 0x4;

const H_MAGIC = 0,
  H_CAP = 1,
  H_FULL = 2;
const MASK4 = 4; // 2 words: lengths 0..32
const MASK6 = 6; // 5 words: lengths 0..128
const REFS4 = 16; // 33 words
const REFS6 = REFS4 + 33; // 129 words
const HEADER_WORDS = 256;
const HEADER_BYTES = HEADER_WORDS * 4;
const MAGIC = 0x57454754; // "WEGT"

function words(a: Address, out: Int32Array, at: number): void {
  for (let i = 0; i < 4; i++) {
    const o = 4 * i;
    out[at + i] =
      o < a.bytes.length ? (a.bytes[o]! << 24) | (a.bytes[o + 1]! << 16) | (a.bytes[o + 2]! << 8) | a.bytes[o + 3]! : 0;
  }
}

function maskWord(x: number, len: number, i: number): number {
  const bits = len - 32 * i;
  return bits >= 32 ? x : bits <= 0 ? 0 : x & (-1 << (32 - bits));
}

export class EgressTable {
  readonly map: SharedHashMap;
  private readonly h: Int32Array;
  // Per-thread scratch.
  private readonly key = new Int32Array(EGRESS_KEY_WORDS);
  private readonly dst = new Int32Array(4);

  private constructor(readonly sab: SharedArrayBuffer) {
    this.h = new Int32Array(sab, 0, HEADER_WORDS);
    if (this.h[H_MAGIC] !== MAGIC) throw new Error('EgressTable: bad magic (not an egress table SAB)');
    this.map = SharedHashMap.attach(sab, HEADER_BYTES);
  }

  static create(capacity: number): EgressTable {
    const mo = { keyWords: EGRESS_KEY_WORDS, valueWords: EGRESS_VALUE_WORDS, capacity };
    const sab = new SharedArrayBuffer(HEADER_BYTES + SharedHashMap.bytesFor(mo));
    SharedHashMap.create({ ...mo, sab, byteOffset: HEADER_BYTES });
    const h = new Int32Array(sab, 0, HEADER_WORDS);
    h[H_CAP] = capacity;
    Atomics.store(h, H_MAGIC, MAGIC);
    return new EgressTable(sab);
  }

  static attach(sab: SharedArrayBuffer): EgressTable {
    return new EgressTable(sab);
  }

  /**
   * Worker: the entry for (source address at b[srcOff], destination at b[dstOff]) with the
   * longest destination prefix; copies its value to out[0..10) and returns the prefix length,
   * or -1 (no policy: route or masquerade as usual).
   */
  lookup(family: number, b: Uint8Array, srcOff: number, dstOff: number, out: Int32Array): number {
    const nb = family === 4 ? 4 : family === 6 ? 16 : 0;
    if (
      nb === 0 ||
      srcOff < 0 ||
      dstOff < 0 ||
      srcOff + nb > b.length ||
      dstOff + nb > b.length ||
      out.length < EGRESS_VALUE_WORDS
    )
      return -1;
    const k = this.key,
      d = this.dst,
      h = this.h;
    const n = nb >>> 2;
    for (let i = 0; i < 4; i++) {
      const so = srcOff + 4 * i,
        dof = dstOff + 4 * i;
      k[1 + i] = i < n ? (b[so]! << 24) | (b[so + 1]! << 16) | (b[so + 2]! << 8) | b[so + 3]! : 0;
      d[i] = i < n ? (b[dof]! << 24) | (b[dof + 1]! << 16) | (b[dof + 2]! << 8) | b[dof + 3]! : 0;
    }
    const base = family === 4 ? MASK4 : MASK6,
      nwords = family === 4 ? 2 : 5;
    for (let wi = nwords - 1; wi >= 0; wi--) {
      let m = Atomics.load(h, base + wi);
      while (m !== 0) {
        const bit = 31 - Math.clz32(m);
        m &= ~(1 << bit);
        const len = wi * 32 + bit;
        k[0] = (family << 8) | len;
        for (let i = 0; i < 4; i++) k[5 + i] = maskWord(d[i]!, len, i);
        if (this.map.lookup(k, 0, out, 0)) return len;
      }
    }
    return -1;
  }

  private setKey(family: number, len: number, src: Address, dst: Address): void {
    const k = this.key;
    k[0] = (family << 8) | len;
    words(src, k, 1);
    words(dst, this.dst, 0);
    for (let i = 0; i < 4; i++) k[5 + i] = maskWord(this.dst[i]!, len, i);
  }

  private ref(family: number, len: number, add: boolean): void {
    const h = this.h,
      ri = (family === 4 ? REFS4 : REFS6) + len;
    const mw = (family === 4 ? MASK4 : MASK6) + (len >>> 5),
      bit = 1 << (len & 31);
    if (add) {
      if (h[ri]! === 0) Atomics.or(h, mw, bit); // the length first, then its entry
      h[ri]!++;
    } else if (--h[ri]! === 0) {
      Atomics.and(h, mw, ~bit); // the entry is gone: now the length
    }
  }

  /**
   * Control thread: makes the table hold exactly `entries` (inserting and overwriting first,
   * deleting what is gone afterwards, so a policy edit never opens a gap for a flow that stays
   * selected). Returns how many entries were refused (table full).
   */
  sync(entries: readonly EgressEntry[]): { inserted: number; updated: number; deleted: number; refused: number } {
    const want = new Map<string, { e: EgressEntry; value: Int32Array }>();
    for (const e of entries) {
      const v = new Int32Array(EGRESS_VALUE_WORDS);
      v[EV_FLAGS] =
        (e.local ? EGRESS_LOCAL : 0) |
        (e.gatewayAddress === null ? EGRESS_NO_GATEWAY : 0) |
        (e.gatewayAddress?.includes(':') ? EGRESS_GATEWAY_V6 : 0);
      words(parseAddress(e.egressIP)!, v, EV_EGRESS_IP);
      if (e.gatewayAddress !== null) words(parseAddress(e.gatewayAddress)!, v, EV_GATEWAY);
      v[EV_POLICY] = e.policyIndex;
      want.set(`${e.source}|${e.destination}`, { e, value: v });
    }
    let inserted = 0,
      updated = 0,
      deleted = 0,
      refused = 0;
    const cur = new Int32Array(EGRESS_VALUE_WORDS);
    for (const { e, value } of want.values()) {
      const src = parseAddress(e.source)!,
        dst = parsePrefix(e.destination, { allowHostBits: false }) as Address & { len: number };
      this.setKey(src.family, dst.len, src, dst);
      if (this.map.lookup(this.key, 0, cur, 0)) {
        if (!cur.every((x, i) => x === value[i])) {
          this.map.update(this.key, 0, value, 0);
          updated++;
        }
        continue;
      }
      if (this.map.size() >= this.h[H_CAP]!) {
        refused++;
        Atomics.add(this.h, H_FULL, 1);
        continue;
      }
      this.ref(src.family, dst.len, true);
      if (this.map.insert(this.key, 0, value, 0)) inserted++;
      else {
        this.ref(src.family, dst.len, false);
        refused++;
        Atomics.add(this.h, H_FULL, 1);
      }
    }
    for (const x of this.entries()) {
      if (want.has(`${x.source}|${x.destination}`)) continue;
      const src = parseAddress(x.source)!,
        dst = parsePrefix(x.destination, { allowHostBits: false }) as Address & { len: number };
      this.setKey(src.family, dst.len, src, dst);
      if (this.map.delete(this.key, 0)) {
        this.ref(src.family, dst.len, false);
        deleted++;
      }
    }
    return { inserted, updated, deleted, refused };
  }

  /** Control thread: the table's content as (source, destination) pairs with their raw values. */
  entries(): Array<{ source: string; destination: string; value: Int32Array }> {
    const out: Array<{ source: string; destination: string; value: Int32Array }> = [];
    this.map.forEach((k, v) => {
      const family = k[0]! >>> 8,
        len = k[0]! & 0xff;
      out.push({ source: text(family, k, 1), destination: `${text(family, k, 5)}/${len}`, value: v });
    });
    return out;
  }

  stats(): { size: number; capacity: number; refused: number } {
    return { size: this.map.size(), capacity: this.h[H_CAP]!, refused: Atomics.load(this.h, H_FULL) };
  }
}

function text(family: number, w: Int32Array, at: number): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (w[at + (i >> 2)]! >>> (24 - 8 * (i & 3))) & 0xff;
  return formatAddress({ family: family === 4 ? 4 : 6, bytes });
}
