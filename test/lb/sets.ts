// Backend sets shared by the LB table test and its reader workers.
import { parseAddress } from '../../src/wire/addr.js';
import { buildMaglevTable, sortBackends, backendName, maglevSeed, MAGLEV_DEFAULT_SEED } from '../../src/lb/maglev.js';

export const M = 251;
export const SEED = maglevSeed(MAGLEV_DEFAULT_SEED);
export const VIP = parseAddress('198.18.100.1')!;

/** Three different backend sets; generation g of the service uses set g % 3. */
export function backendSet(
  k: number,
): Array<{ addr: ReturnType<typeof parseAddress> & object; port: number; weight: number }> {
  const n = [3, 5, 4][k];
  return Array.from({ length: n }, (_, i) => ({
    addr: parseAddress(`198.19.${k + 1}.${10 + i}`)!,
    port: 8000 + 10 * k + i,
    weight: 1,
  }));
}

/** The expected backend name per slot for set k. */
export function expectedNames(k: number): string[] {
  const set = sortBackends(
    backendSet(k).map((b) => ({ ...b, name: backendName(`198.19.${b.addr.bytes[2]}.${b.addr.bytes[3]}`, b.port) })),
  );
  const t = buildMaglevTable(set, M, SEED);
  return Array.from(t, (i) => set[i].name);
}
