// The store on etcd v3 (etcd3 client). Everything lives under /weft/ so a shared etcd can
// serve others too. Leases are etcd leases with the client's keep-alive (ttl/3); create is
// a transaction on version == 0; a watch is a list plus a watch from the list's revision+1,
// and any disconnection drops the etcd watch, re-lists and lets the mirror emit the
// differences, which also survives compaction of the revisions we missed.
import etcd3 from 'etcd3';
import type { Etcd3, IOptions, Lease as EtcdLeaseHandle, Namespace, Watcher as EtcdWatcher, IKeyValue } from 'etcd3';
import { checkKey, checkPrefix, StoreError } from './store.js';
import type { KeyValue, Lease, Store, WatchEvent, Watcher } from './store.js';
import { Mirror } from './mirror.js';

const ROOT = '/weft/';
const OP_TIMEOUT_MS = 5000; // unary calls: a frozen etcd must not hang callers forever
const RETRY_MIN_MS = 200; // watch resync backoff
const RETRY_MAX_MS = 5000;

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * The client's default policies open a per-host circuit breaker for 5 s after 3 failures,
 * which keeps us away from an etcd that is already back. Instead: no breaker, and a failed
 * call is tried once on each other host (the pool moves to the next host on each attempt).
 */
function attempts(n: number): Policy {
  return {
    async execute<T>(fn: (ctx: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal: new AbortController().signal, attempt });
        } catch (e) {
          if (attempt >= n || !etcd3.isRecoverableError(e as Error)) throw e;
        }
      }
    },
    onSuccess: () => ({ dispose() {} }),
    onFailure: () => ({ dispose() {} }),
  } as unknown as Policy;
}

const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ');
const str = (b: Buffer): string => b.toString('utf8');

/**
 * gRPC's "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED ..." → "connect
 * ECONNREFUSED ...".
 */
function connectError(e: unknown): string {
  const msg = oneLine(e);
  const m = /Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:.*)?$/.exec(msg);
  return m?.[1] || msg.replace(/^\d+ DEADLINE_EXCEEDED: .*/, 'no answer');
}

/** "etcd://h:p[,h:p...]" → ["h:p", ...], or a StoreError naming the URL. */
function parseHosts(url: string): string[] {
  const hosts = url.slice('etcd://'.length).replace(/\/$/, '').split(',');
  const ok = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
  if (hosts.some((h) => !ok.test(h)))
    throw new StoreError(`invalid store URL ${JSON.stringify(url)}: expected etcd://host:port[,host:port...]`);
  return hosts;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  p.catch(() => undefined); // if the timer wins, p's later rejection must not go unhandled
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class EtcdStore implements Store {
  private readonly watchers = new Set<EtcdWatch>();
  private readonly leases = new Set<EtcdLease>();
  private closed = false;

  private constructor(
    readonly url: string,
    private readonly client: Etcd3,
    readonly ns: Namespace,
  ) {}

  static async open(url: string, connectTimeoutMs: number, startedAt = Date.now()): Promise<EtcdStore> {
    const hosts = parseHosts(url);
    const client = new etcd3.Etcd3({
      hosts: hosts.map((h) => `http://${h}`),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + OP_TIMEOUT_MS }),
      faultHandling: { host: () => attempts(1), global: attempts(hosts.length) },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 200, // default 1 s growing to 120 s: far too slow to notice etcd is back
        'grpc.max_reconnect_backoff_ms': 2000,
        'grpc.keepalive_time_ms': 10_000, // detects a frozen etcd or a dead path under an idle watch;
        'grpc.keepalive_timeout_ms': 5000, // etcd rejects pings more often than every 5 s
      },
    });
    const store = new EtcdStore(url, client, client.namespace(ROOT));
    // Fail fast and in one line when etcd is not there at start; retry until the deadline
    // because an etcd that is starting up refuses connections for a moment.
    const deadline = startedAt + connectTimeoutMs;
    let last: unknown = new Error('no answer');
    while (Date.now() < deadline) {
      const left = deadline - Date.now();
      try {
        await withTimeout(
          store.ns
            .get('.probe')
            .options({ deadline: Date.now() + left })
            .exec(),
          left,
          'no answer',
        );
        return store;
      } catch (e) {
        // a last attempt cut short by the deadline says less than the refusal before it
        if (!/no answer|DEADLINE_EXCEEDED/.test(oneLine(e)) || /no answer/.test(oneLine(last))) last = e;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(100, deadline - Date.now()))));
    }
    client.close();
    throw new StoreError(`${url}: cannot connect within ${connectTimeoutMs} ms: ${connectError(last)}`);
  }

  async get(key: string): Promise<string | undefined> {
    checkKey(key);
    const v = await this.ns
      .get(key)
      .string()
      .catch((e) => {
        throw this.wrap(`get ${key}`, e);
      });
    return v ?? undefined;
  }

  async put(key: string, value: string, opts: { lease?: Lease } = {}): Promise<void> {
    checkKey(key);
    const b = this.ns.put(key).value(value);
    const lease = this.ownLease(opts.lease);
    if (lease) b.lease(lease.id);
    await b.exec().catch((e) => {
      throw this.wrap(`put ${key}`, e);
    });
  }

  async create(key: string, value: string, opts: { lease?: Lease } = {}): Promise<boolean> {
    checkKey(key);
    const b = this.ns.put(key).value(value);
    const lease = this.ownLease(opts.lease);
    if (lease) b.lease(lease.id);
    const res = await this.ns
      .if(key, 'Version', '==', 0)
      .then(b)
      .commit()
      .catch((e) => {
        throw this.wrap(`create ${key}`, e);
      });
    return res.succeeded;
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const res = await this.ns
      .delete()
      .key(key)
      .exec()
      .catch((e) => {
        throw this.wrap(`delete ${key}`, e);
      });
    return res.deleted !== '0';
  }

  async list(prefix: string): Promise<KeyValue[]> {
    return (await this.listAt(prefix)).kvs;
  }

  /** The keys under prefix and the revision they were read at. */
  async listAt(prefix: string): Promise<{ kvs: KeyValue[]; revision: string }> {
    checkPrefix(prefix);
    const res = await this.ns
      .getAll()
      .prefix(prefix)
      .exec()
      .catch((e) => {
        throw this.wrap(`list ${prefix}`, e);
      });
    return { kvs: res.kvs.map((kv) => ({ key: str(kv.key), value: str(kv.value) })), revision: res.header.revision };
  }

  async lease(ttlSec: number): Promise<Lease> {
    if (!Number.isInteger(ttlSec) || ttlSec < 1)
      throw new StoreError(`invalid lease TTL ${ttlSec}: expected an integer >= 1 s`);
    if (this.closed) throw new StoreError(`${this.url}: store is closed`);
    const handle = this.ns.lease(ttlSec);
    const lease = new EtcdLease(this, handle, ttlSec);
    const id = await handle.grant().catch((e) => {
      handle.release();
      throw this.wrap('lease', e);
    });
    lease.granted(id);
    this.leases.add(lease);
    lease.onLost(() => this.leases.delete(lease));
    return lease;
  }

  async watch(prefix: string, onEvent: (e: WatchEvent) => void, onError?: (e: Error) => void): Promise<Watcher> {
    checkPrefix(prefix);
    if (this.closed) throw new StoreError(`${this.url}: store is closed`);
    const w = new EtcdWatch(this, prefix, new Mirror(onEvent, onError));
    await w.start();
    this.watchers.add(w);
    return {
      close: () => {
        w.close();
        this.watchers.delete(w);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers.clear();
    for (const l of this.leases) l.stop(); // not revoked: the keys expire with the lease
    this.leases.clear();
    this.client.close();
  }

  private ownLease(lease: Lease | undefined): EtcdLease | undefined {
    if (lease === undefined) return undefined;
    if (!(lease instanceof EtcdLease) || lease.store !== this)
      throw new StoreError(`lease ${lease.id} does not belong to ${this.url}`);
    return lease;
  }

  private wrap(what: string, e: unknown): Error {
    return e instanceof StoreError ? e : new StoreError(`${this.url}: ${what}: ${oneLine(e)}`);
  }
}

class EtcdLease implements Lease {
  private lostFns: Array<() => void> | undefined = [];
  private leaseId = '';

  constructor(
    readonly store: EtcdStore,
    private readonly handle: EtcdLeaseHandle,
    readonly ttlSec: number,
  ) {
    // 'lost': etcd said the lease is gone, or keep-alives failed for 2×ttl (etcd unreachable).
    handle.on('lost', () => {
      const fns = this.lostFns;
      this.lostFns = undefined;
      for (const fn of fns ?? []) {
        try {
          fn();
        } catch (e) {
          process.nextTick(() => {
            throw e;
          });
        }
      }
    });
  }

  get id(): string {
    return this.leaseId;
  }
  granted(id: string): void {
    this.leaseId = id;
  }

  onLost(fn: () => void): void {
    if (this.lostFns) this.lostFns.push(fn);
    else queueMicrotask(fn);
  }

  async revoke(): Promise<void> {
    this.lostFns = []; // a revoke is not a loss
    await this.handle.revoke().catch((e) => {
      throw new StoreError(`${this.store.url}: revoke lease ${this.id}: ${oneLine(e)}`);
    });
  }

  stop(): void {
    this.handle.release();
  }
}

/** One prefix: list, then watch from the list's revision+1; on any trouble, start over. */
class EtcdWatch {
  private current: EtcdWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;

  constructor(
    private readonly store: EtcdStore,
    private readonly prefix: string,
    private readonly mirror: Mirror,
  ) {}

  async start(): Promise<void> {
    this.attach(await this.relist());
  }

  close(): void {
    clearTimeout(this.timer);
    this.mirror.close();
    this.drop();
  }

  private async relist(): Promise<string> {
    const { kvs, revision } = await this.store.listAt(this.prefix);
    this.mirror.sync(kvs.map((kv) => [kv.key, kv.value] as const));
    return revision;
  }

  private attach(revision: string): void {
    const w = this.store.ns
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(revision) + 1n))
      .watcher();
    this.current = w;
    const mine = (): boolean => this.current === w;
    w.on('put', (kv: IKeyValue) => {
      if (mine()) this.mirror.put(str(kv.key), str(kv.value));
    });
    w.on('delete', (kv: IKeyValue) => {
      if (mine()) this.mirror.delete(str(kv.key));
    });
    w.on('connected', () => {
      if (mine()) {
        this.mirror.recovered();
        this.retryMs = RETRY_MIN_MS;
      }
    });
    // 'disconnected': the stream broke; 'error': etcd cancelled the watch (e.g. compacted).
    w.on('disconnected', (err: Error) => {
      if (mine()) this.restart(err);
    });
    w.on('error', (err: Error) => {
      if (mine()) this.restart(err);
    });
  }

  /** Drops the etcd watch (the client would resume it by revision; we re-list instead). */
  private drop(): void {
    const w = this.current;
    this.current = undefined;
    if (w)
      Promise.resolve()
        .then(() => w.cancel())
        .catch(() => undefined);
  }

  private restart(err: Error): void {
    this.drop();
    this.mirror.failed(new StoreError(`${this.store.url}: watch ${this.prefix}: ${oneLine(err)}`));
    this.schedule();
  }

  private schedule(): void {
    if (this.mirror.isClosed) return;
    this.timer = setTimeout(() => {
      this.relist().then(
        (rev) => {
          if (!this.mirror.isClosed) this.attach(rev);
        },
        (err) => {
          this.mirror.failed(err instanceof Error ? err : new Error(String(err)));
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.schedule();
        },
      );
    }, this.retryMs);
  }
}
