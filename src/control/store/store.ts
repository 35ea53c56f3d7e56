// The cluster state store: the interface every agent programs its dataplane from, plus key
// validation and URL dispatch. Backends live in dir-store.ts and etcd-store.ts and are
// loaded on demand so a dir-store agent never pays for loading gRPC.

export interface KeyValue {
  key: string;
  value: string;
}
export type WatchEvent = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string };
export interface Lease {
  readonly id: string;
  readonly ttlSec: number;
  /** Called once if the lease is lost (expired because keep-alives failed); the owner should re-register. */
  onLost(fn: () => void): void;
  revoke(): Promise<void>;
}
export interface Watcher {
  close(): void;
}
export interface Store {
  readonly url: string;
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string, opts?: { lease?: Lease }): Promise<void>;
  /** Atomic create: false if the key already exists (used for IPAM claims and leader election). */
  create(key: string, value: string, opts?: { lease?: Lease }): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<KeyValue[]>;
  /** Lease kept alive automatically (every ttl/3) until revoked or the store is closed. */
  lease(ttlSec: number): Promise<Lease>;
  /**
   * Mirrors every key under prefix: calls onEvent for each existing key first (as 'put'),
   * then for every change. After a disconnection (etcd down and back, a dir scan error) it
   * re-lists and emits exactly the differences, so the caller's view converges without
   * gaps or duplicates of unchanged keys. onError reports connectivity problems (once per
   * outage) without stopping the watcher.
   */
  watch(prefix: string, onEvent: (e: WatchEvent) => void, onError?: (e: Error) => void): Promise<Watcher>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

const SEGMENT = /^[A-Za-z0-9._:@-]+$/;

function badSegment(s: string): boolean {
  return !SEGMENT.test(s) || s === '.' || s === '..';
}

/** A key is seg('/'seg)*: no leading/trailing '/', no empty, '.' or '..' segments. */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '' || key.split('/').some(badSegment)) {
    throw new StoreError(
      `invalid key ${JSON.stringify(key)}: expected '/'-separated segments of [A-Za-z0-9._:@-], no empty, '.' or ` +
        `'..' segments`,
    );
  }
}

/**
 * A prefix matches keys by string prefix (as etcd does): "" is everything, "nodes/" is
 * everything under nodes, "nodes/a" also matches "nodes/ab". Every complete segment must be
 * a valid key segment; the last (partial) one may be empty.
 */
export function checkPrefix(prefix: string): void {
  const segs = typeof prefix === 'string' ? prefix.split('/') : [''];
  const last = segs.pop()!;
  if (typeof prefix !== 'string' || segs.some(badSegment) || (last !== '' && !/^[A-Za-z0-9._:@-]+$/.test(last))) {
    throw new StoreError(
      `invalid prefix ${JSON.stringify(prefix)}: expected '/'-separated key segments, optionally ending in '/' or ` +
        `a partial segment`,
    );
  }
}

/** "dir:/path" or "etcd://host:port[,host:port...]"; anything else is a StoreError naming the URL. */
export async function openStore(url: string, opts: { connectTimeoutMs?: number } = {}): Promise<Store> {
  if (typeof url === 'string' && url.startsWith('dir:') && url.length > 4) {
    const { DirStore } = await import('./dir-store.js');
    return DirStore.open(url.slice(4), url);
  }
  if (typeof url === 'string' && url.startsWith('etcd://')) {
    const startedAt = Date.now(); // loading gRPC counts against the connect timeout too
    const { EtcdStore } = await import('./etcd-store.js');
    return EtcdStore.open(url, opts.connectTimeoutMs ?? 3000, startedAt);
  }
  throw new StoreError(
    `unsupported store URL ${JSON.stringify(url)}: expected "dir:/path" or "etcd://host:port[,host:port...]"`,
  );
}
