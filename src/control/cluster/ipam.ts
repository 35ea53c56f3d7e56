// IP address management: pod CIDRs per node carved from the cluster CIDRs, and endpoint
// addresses from a node's pod CIDRs. Every claim is an atomic create in the store, so two
// agents can never hand out the same CIDR or address.
import type { Store } from '../store/store.js';
import {
  type Address,
  type Prefix,
  formatPrefix,
  formatAddress,
  nthAddress,
  prefixSize,
  prefixesOverlap,
  parsePrefix,
  parseAddress,
} from '../../wire/addr.js';
import { podCidrKey, podCidrPrefix, addrKey, addrPrefix } from './keys.js';

export class IpamError extends Error {}

function parseClaim(key: string, family: 4 | 6): Prefix | undefined {
  const tail = key.slice(podCidrPrefix(family).length);
  const dash = tail.lastIndexOf('-');
  const p = parsePrefix(`${tail.slice(0, dash)}/${tail.slice(dash + 1)}`, { allowHostBits: false });
  return typeof p === 'string' ? undefined : p;
}

/**
 * The node's pod CIDR of one family: the one it already owns, the configured one (refused
 * if another node owns anything overlapping it), or the first free one of `len` bits.
 */
export async function claimPodCidr(
  store: Store,
  node: string,
  cluster: Prefix,
  len: number,
  wanted?: Prefix,
): Promise<Prefix> {
  const family = cluster.family;
  const claims = (await store.list(podCidrPrefix(family)))
    .map((kv) => ({ owner: kv.value, cidr: parseClaim(kv.key, family) }))
    .filter((c): c is { owner: string; cidr: Prefix } => c.cidr !== undefined);
  const mine = claims.find((c) => c.owner === node);
  if (mine && (!wanted || formatPrefix(mine.cidr) === formatPrefix(wanted))) return mine.cidr;
  if (mine && wanted) {
    // The config moved this node to another CIDR: release the old claim first.
    await store.delete(podCidrKey(mine.cidr));
  }
  if (wanted) {
    const clash = claims.find((c) => c.owner !== node && prefixesOverlap(c.cidr, wanted));
    if (clash)
      throw new IpamError(
        `pod CIDR ${formatPrefix(wanted)} overlaps ${formatPrefix(clash.cidr)} of node ${clash.owner}`,
      );
    if (!(await store.create(podCidrKey(wanted), node)))
      throw new IpamError(`pod CIDR ${formatPrefix(wanted)} was just claimed by another node`);
    return wanted;
  }
  const count = 1n << BigInt(len - cluster.len);
  const step = prefixSize({ ...cluster, len });
  const limit = count < 65536n ? count : 65536n;
  for (let i = 0n; i < limit; i++) {
    const cand: Prefix = { ...nthAddress(cluster, i * step), len };
    if (claims.some((c) => prefixesOverlap(c.cidr, cand))) continue;
    if (await store.create(podCidrKey(cand), node)) return cand;
  }
  throw new IpamError(`cluster CIDR ${formatPrefix(cluster)} has no free /${len} left for node ${node}`);
}

/** The gateway address of a pod CIDR: its first host (.1, ::1). */
export function gatewayOf(p: Prefix): Address {
  return nthAddress(p, 1n);
}

/**
 * Claims a free address for an endpoint: from .2 on, skipping the network, the gateway and
 * (IPv4) the broadcast address. Exhaustion is an IpamError naming the CIDR.
 */
export async function claimAddress(store: Store, node: string, podCidr: Prefix, owner: string): Promise<Address> {
  const used = new Set((await store.list(addrPrefix(node))).map((kv) => kv.key));
  const size = prefixSize(podCidr);
  const last = podCidr.family === 4 ? size - 2n : size - 1n;
  const limit = last < 1_000_000n ? last : 1_000_000n;
  for (let i = 2n; i <= limit; i++) {
    const a = nthAddress(podCidr, i);
    const key = addrKey(node, a);
    if (used.has(key)) continue;
    if (await store.create(key, owner)) return a;
  }
  throw new IpamError(`pod CIDR ${formatPrefix(podCidr)} is exhausted (${used.size} addresses in use)`);
}

/** Claims a specific address (an endpoint re-created after a restart keeps its address). */
export async function reclaimAddress(store: Store, node: string, a: Address, owner: string): Promise<void> {
  const key = addrKey(node, a);
  if (await store.create(key, owner)) return;
  const holder = await store.get(key);
  if (holder !== owner) throw new IpamError(`address ${formatAddress(a)} is held by ${holder}`);
}

export async function releaseAddress(store: Store, node: string, a: Address): Promise<void> {
  await store.delete(addrKey(node, a));
}

export function addressOf(text: string | undefined): Address | undefined {
  return text === undefined ? undefined : (parseAddress(text) ?? undefined);
}
