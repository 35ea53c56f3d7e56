// Maglev consistent hashing (Eisenbud et al., NSDI 2016), built exactly as Cilium 1.10 builds
// its tables so that Weft and Cilium agree on every slot: backends named "IP:port"
// ("[IPv6]:port") and sorted as strings; for each, MurmurHash3_x64_128 of the name seeded
// with the first four bytes (big-endian) of the 12-byte base64 seed gives
// offset = h1 mod M and skip = (h2 mod (M - 1)) + 1; backends take turns claiming the next
// free slot of their permutation. Weights (Katran's idea, beyond Cilium 1.10): a backend of
// weight w takes w turns for every maxWeight rounds; weight 0 takes none (drained).
import { murmur3x64_128 } from './murmur3.js';

export const MAGLEV_TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;
export const MAGLEV_DEFAULT_SIZE = 16381;
export const MAGLEV_DEFAULT_SEED = 'JLfvgnHc2kaSUFaI';

export class MaglevError extends Error {}

/** The 32-bit MurmurHash seed from Cilium's 12-byte base64 seed. */
export function maglevSeed(seed: string): number {
  if (!/^[A-Za-z0-9+/]{16}$/.test(seed))
    throw new MaglevError(`Maglev seed "${seed}" is not 12 bytes of base64 (16 characters)`);
  const d = Buffer.from(seed, 'base64');
  if (d.length !== 12) throw new MaglevError(`Maglev seed "${seed}" decodes to ${d.length} bytes, not 12`);
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

export function checkTableSize(m: number): void {
  if (!(MAGLEV_TABLE_SIZES as readonly number[]).includes(m))
    throw new MaglevError(`Maglev table size ${m} is not one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
}

export interface MaglevBackend {
  /** "IP:port" or "[IPv6]:port", as Cilium names backends. */
  name: string;
  weight: number;
}

/** Backend name as Cilium formats an L3n4Addr. */
export function backendName(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Sorts by name as Go's sort.Strings does (byte order). */
export function sortBackends<T extends { name: string }>(backends: T[]): T[] {
  return [...backends].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Builds the lookup table: entry[slot] = index into `backends` (which must already be sorted,
 * see sortBackends), or -1 everywhere when no backend has a weight.
 */
export function buildMaglevTable(backends: readonly MaglevBackend[], m: number, seed: number): Int32Array {
  const n = backends.length;
  const entry = new Int32Array(m).fill(-1);
  const maxWeight = backends.reduce((a, b) => Math.max(a, b.weight), 0);
  if (n === 0 || maxWeight === 0) return entry;
  const pos = new Int32Array(n);
  const skip = new Int32Array(n);
  const bm = BigInt(m);
  const enc = new TextEncoder();
  for (let i = 0; i < n; i++) {
    const [h1, h2] = murmur3x64_128(enc.encode(backends[i].name), seed);
    pos[i] = Number(h1 % bm);
    skip[i] = Number(h2 % (bm - 1n)) + 1;
  }
  const weight = Int32Array.from(backends, (b) => b.weight);
  let filled = 0;
  for (let round = 0; filled < m; round++) {
    for (let i = 0; i < n && filled < m; i++) {
      const w = weight[i];
      // Equal weights: a turn every round, in index order (Cilium's n % N); w/maxWeight otherwise.
      if (w !== maxWeight && Math.floor(((round + 1) * w) / maxWeight) === Math.floor((round * w) / maxWeight))
        continue;
      let c = pos[i];
      while (entry[c] >= 0) {
        c += skip[i];
        if (c >= m) c -= m;
      }
      entry[c] = i;
      c += skip[i];
      pos[i] = c >= m ? c - m : c;
      filled++;
    }
  }
  return entry;
}
