// The embedded store: a directory shared by the agents of one machine, no server needed.
// Key "a/b/c" is the file <root>/a/b/c~ ('~' and '+' are not key characters, so key files
// never clash with directories nor with our own +leases/ and +tmp/). Every write is a temp
// file renamed into place, so readers never see half a value; create() is link(), which
// fails atomically across processes if the key exists. Watchers poll, because fs.watch is
// not recursive on Linux with Node 20 and drops events.
import { promises as fsp, type BigIntStats, type Dirent } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkKey, checkPrefix, StoreError } from './store.js';
import type { KeyValue, Lease, Store, WatchEvent, Watcher } from './store.js';
import { Mirror } from './mirror.js';
import { DirLease, leaseAlive, type LeaseCache } from './dir-lease.js';

export const POLL_MS = 150;
const SUFFIX = '~';
const STALE_MS = 60_000; // temp and lease files left by crashed processes are swept after this

interface Entry {
  value: string;
  lease?: string;
}
interface Cached extends Entry {
  sig: string;
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;
const gone = (e: unknown): boolean => code(e) === 'ENOENT' || code(e) === 'ENOTDIR';

// File format: one header line naming the lease ("-" for none), then the value verbatim.
function encode(value: string, lease?: string): string {
  return `weft1 ${lease ?? '-'}\n${value}`;
}
function decode(text: string): Entry {
  const m = /^weft1 (\S+)\n/.exec(text);
  if (!m) return { value: text }; // a hand-written file: the whole content is the value
  const value = text.slice(m[0].length);
  return m[1] === '-' ? { value } : { value, lease: m[1] };
}

export class DirStore implements Store {
  private readonly watchers = new Set<DirWatcher>();
  private readonly leases = new Set<DirLease>();
  private closed = false;

  private constructor(
    readonly url: string,
    readonly root: string,
  ) {}

  static async open(dir: string, url: string): Promise<DirStore> {
    const root = path.resolve(dir);
    try {
      await fsp.mkdir(path.join(root, '+leases'), { recursive: true });
      await fsp.mkdir(path.join(root, '+tmp'), { recursive: true });
    } catch (e) {
      throw new StoreError(`${url}: cannot use directory ${root}: ${(e as Error).message}`);
    }
    const store = new DirStore(url, root);
    await store.sweep();
    return store;
  }

  async get(key: string): Promise<string | undefined> {
    checkKey(key);
    const file = this.file(key);
    const entry = await this.read(file);
    if (!entry) return undefined;
    if (entry.lease && !(await leaseAlive(this.root, entry.lease, new Map()))) {
      await this.reap(file, entry.lease);
      return undefined;
    }
    return entry.value;
  }

  async put(key: string, value: string, opts: { lease?: Lease } = {}): Promise<void> {
    checkKey(key);
    const lease = this.ownLease(opts.lease);
    const tmp = await this.temp(encode(value, lease?.id));
    try {
      await this.mkdirFor(key);
      await fsp.rename(tmp, this.file(key));
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw this.wrap(`put ${key}`, e);
    }
    lease?.keys.add(key);
  }

  async create(key: string, value: string, opts: { lease?: Lease } = {}): Promise<boolean> {
    checkKey(key);
    const lease = this.ownLease(opts.lease);
    const file = this.file(key);
    const tmp = await this.temp(encode(value, lease?.id));
    try {
      await this.mkdirFor(key);
      // Two tries: the first may find a key whose lease is dead, which counts as absent.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await fsp.link(tmp, file);
          lease?.keys.add(key);
          return true;
        } catch (e) {
          if (code(e) !== 'EEXIST') throw e;
        }
        const existing = await this.read(file);
        if (existing?.lease && !(await leaseAlive(this.root, existing.lease, new Map()))) {
          await this.reap(file, existing.lease);
        } else if (existing) {
          return false;
        }
      }
      return false;
    } catch (e) {
      throw this.wrap(`create ${key}`, e);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    try {
      await fsp.unlink(this.file(key));
      return true;
    } catch (e) {
      if (gone(e)) return false;
      throw this.wrap(`delete ${key}`, e);
    }
  }

  async list(prefix: string): Promise<KeyValue[]> {
    checkPrefix(prefix);
    const found = await this.scan(prefix, new Map());
    return [...found].map(([key, e]) => ({ key, value: e.value }));
  }

  async lease(ttlSec: number): Promise<Lease> {
    if (!Number.isInteger(ttlSec) || ttlSec < 1)
      throw new StoreError(`invalid lease TTL ${ttlSec}: expected an integer >= 1 s`);
    if (this.closed) throw new StoreError(`${this.url}: store is closed`);
    const lease = await DirLease.grant(this, ttlSec).catch((e) => {
      throw this.wrap('lease', e);
    });
    this.leases.add(lease);
    lease.onLost(() => this.leases.delete(lease));
    return lease;
  }

  async watch(prefix: string, onEvent: (e: WatchEvent) => void, onError?: (e: Error) => void): Promise<Watcher> {
    checkPrefix(prefix);
    if (this.closed) throw new StoreError(`${this.url}: store is closed`);
    const w = new DirWatcher(this, prefix, new Mirror(onEvent, onError));
    await w.start().catch((e) => {
      throw this.wrap(`watch ${prefix}`, e);
    });
    this.watchers.add(w);
    return {
      close: () => {
        w.close();
        this.watchers.delete(w);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers.clear();
    for (const l of this.leases) l.stop(); // not revoked: the keys expire with the lease
    this.leases.clear();
  }

  // ---- internals shared with DirWatcher and DirLease ----

  file(key: string): string {
    return path.join(this.root, key + SUFFIX);
  }

  /** Writes content to a fresh temp file on the same filesystem and returns its path. */
  async temp(content: string): Promise<string> {
    const tmp = path.join(this.root, '+tmp', `${process.pid}.${randomBytes(6).toString('hex')}`);
    await fsp.writeFile(tmp, content, { flag: 'wx' });
    return tmp;
  }

  /** Atomically replaces file with content. */
  async writeAtomic(file: string, content: string): Promise<void> {
    const tmp = await this.temp(content);
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Removes a key whose lease is dead. The file is first renamed aside so that a fresh put
   * racing with us (an agent re-registering with a new lease) is never deleted: if what we
   * took turns out to be live, it is linked back unless something newer is already there.
   */
  async reap(file: string, deadLease: string): Promise<void> {
    const aside = path.join(this.root, '+tmp', `${process.pid}.reap.${randomBytes(6).toString('hex')}`);
    try {
      await fsp.rename(file, aside);
    } catch (e) {
      if (gone(e)) return;
      throw e;
    }
    try {
      const taken = decode(await fsp.readFile(aside, 'utf8'));
      if (taken.lease !== deadLease && (!taken.lease || (await leaseAlive(this.root, taken.lease, new Map())))) {
        await fsp.link(aside, file).catch((e) => {
          if (code(e) !== 'EEXIST') throw e;
        });
      }
    } finally {
      await fsp.rm(aside, { force: true });
    }
  }

  async read(file: string): Promise<Entry | undefined> {
    try {
      return decode(await fsp.readFile(file, 'utf8'));
    } catch (e) {
      if (gone(e)) return undefined;
      throw e;
    }
  }

  /**
   * Lists the live keys under prefix, reaping those whose lease is dead. cache (per watcher)
   * skips re-reading files whose inode, size, mtime and ctime are unchanged: every write is a
   * rename of a new inode, so an unchanged signature means unchanged content.
   */
  async scan(prefix: string, cache: Map<string, Cached>): Promise<Map<string, Entry>> {
    try {
      await fsp.stat(this.root);
    } catch (e) {
      throw new StoreError(`${this.url}: store directory ${this.root} is unavailable: ${(e as Error).message}`);
    }
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const files: string[] = [];
    await walk(path.join(this.root, base), base, files);
    const out = new Map<string, Entry>();
    const leases: LeaseCache = new Map();
    const seen = new Set<string>();
    for (const key of files.filter((k) => k.startsWith(prefix)).sort()) {
      const file = this.file(key);
      let st: BigIntStats;
      try {
        st = await fsp.stat(file, { bigint: true });
      } catch (e) {
        if (gone(e)) continue;
        throw e;
      }
      const sig = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      let entry: Entry | undefined = cache.get(key);
      if (!entry || (entry as Cached).sig !== sig) {
        entry = await this.read(file);
        if (!entry) continue;
        cache.set(key, { ...entry, sig });
      }
      seen.add(key);
      if (entry.lease && !(await leaseAlive(this.root, entry.lease, leases))) {
        await this.reap(file, entry.lease);
        continue;
      }
      out.set(key, entry);
    }
    for (const key of cache.keys()) if (!seen.has(key)) cache.delete(key);
    return out;
  }

  private async mkdirFor(key: string): Promise<void> {
    await fsp.mkdir(path.dirname(this.file(key)), { recursive: true });
  }

  private ownLease(lease: Lease | undefined): DirLease | undefined {
    if (lease === undefined) return undefined;
    if (!(lease instanceof DirLease) || lease.store !== this)
      throw new StoreError(`lease ${lease.id} does not belong to ${this.url}`);
    if (!lease.usable) throw new StoreError(`lease ${lease.id} is revoked or lost`);
    return lease;
  }

  /** Removes temp files and long-expired lease files left behind by crashed processes. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const sub of ['+tmp', '+leases']) {
      const dir = path.join(this.root, sub);
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
        const f = path.join(dir, name);
        const st = await fsp.stat(f).catch(() => undefined);
        if (!st || now - st.mtimeMs <= STALE_MS) continue;
        if (sub === '+leases' && (await leaseAlive(this.root, name, new Map()))) continue; // long TTL, still kept alive
        await fsp.rm(f, { force: true });
      }
    }
  }

  private wrap(what: string, e: unknown): Error {
    return e instanceof StoreError ? e : new StoreError(`${this.url}: ${what}: ${(e as Error).message}`);
  }
}

/** Collects the keys of every key file under dir (rel is dir's key path, '' for the root). */
async function walk(dir: string, rel: string, out: string[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (gone(e)) return;
    throw e;
  }
  for (const d of entries) {
    if (d.name.startsWith('+')) continue; // +leases, +tmp: not keys
    const key = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) await walk(path.join(dir, d.name), key, out);
    else if (d.isFile() && d.name.endsWith(SUFFIX)) out.push(key.slice(0, -SUFFIX.length));
  }
}

/** Polls one prefix and feeds complete listings to the mirror, which emits the differences. */
class DirWatcher {
  private readonly cache = new Map<string, Cached>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: DirStore,
    private readonly prefix: string,
    private readonly mirror: Mirror,
  ) {}

  async start(): Promise<void> {
    this.mirror.sync(toPairs(await this.store.scan(this.prefix, this.cache)));
    this.schedule();
  }

  close(): void {
    clearTimeout(this.timer);
    this.mirror.close();
  }

  private schedule(): void {
    if (!this.mirror.isClosed) this.timer = setTimeout(() => void this.tick(), POLL_MS);
  }

  private async tick(): Promise<void> {
    try {
      const found = await this.store.scan(this.prefix, this.cache);
      this.mirror.sync(toPairs(found));
      this.mirror.recovered();
    } catch (e) {
      // Keep the last view: a failed scan says nothing about what was deleted.
      this.mirror.failed(e instanceof Error ? e : new Error(String(e)));
    }
    this.schedule();
  }
}

function toPairs(m: Map<string, Entry>): Array<[string, string]> {
  return [...m].map(([k, e]) => [k, e.value]);
}
