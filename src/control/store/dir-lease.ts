// Leases of the dir store: <root>/+leases/<id> holds {expiresAt, ttlSec, pid}, rewritten by
// its owner every ttl/3. Nothing else tracks liveness: any process that meets a key whose
// lease file is missing or past expiresAt removes the key, so a SIGKILLed agent's keys
// vanish within ttl plus one poll even if no other process owns them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Lease } from './store.js';
import type { DirStore } from './dir-store.js';

export type LeaseCache = Map<string, boolean>;

/** Whether lease id is alive now; cache holds the answers of one scan so each file is read once. */
export async function leaseAlive(root: string, id: string, cache: LeaseCache): Promise<boolean> {
  const known = cache.get(id);
  if (known !== undefined) return known;
  let alive = false;
  try {
    const info = JSON.parse(await fsp.readFile(leaseFile(root, id), 'utf8')) as { expiresAt?: unknown };
    alive = typeof info.expiresAt === 'number' && info.expiresAt > Date.now();
  } catch {
    alive = false; // missing (revoked, swept) or unreadable: the owner is gone
  }
  cache.set(id, alive);
  return alive;
}

function leaseFile(root: string, id: string): string {
  // ids are ours (hex), but a hand-edited key file could name anything: keep it inside +leases
  return path.join(root, '+leases', path.basename(id));
}

export class DirLease implements Lease {
  /** Keys this process put with the lease, removed at once on revoke (others reap them lazily). */
  readonly keys = new Set<string>();
  private readonly lostFns: Array<() => void> = [];
  private expiresAt: number;
  private timer: NodeJS.Timeout | undefined;
  private state: 'alive' | 'lost' | 'revoked' | 'stopped' = 'alive';
  private busy = false;

  private constructor(
    readonly store: DirStore,
    readonly id: string,
    readonly ttlSec: number,
  ) {
    this.expiresAt = Date.now() + ttlSec * 1000;
  }

  static async grant(store: DirStore, ttlSec: number): Promise<DirLease> {
    const lease = new DirLease(store, randomBytes(8).toString('hex'), ttlSec);
    await lease.write();
    lease.timer = setInterval(() => void lease.refresh(), (ttlSec * 1000) / 3);
    return lease;
  }

  get usable(): boolean {
    return this.state === 'alive';
  }

  onLost(fn: () => void): void {
    if (this.state === 'lost') queueMicrotask(fn);
    else this.lostFns.push(fn);
  }

  async revoke(): Promise<void> {
    if (this.state === 'revoked') return;
    this.stop();
    this.state = 'revoked';
    await fsp.rm(leaseFile(this.store.root, this.id), { force: true });
    for (const key of this.keys) await this.store.reap(this.store.file(key), this.id);
  }

  /** Stops keep-alives without revoking (store closed): the keys expire with the lease. */
  stop(): void {
    clearInterval(this.timer);
    if (this.state === 'alive') this.state = 'stopped';
  }

  private async write(): Promise<void> {
    const expiresAt = Date.now() + this.ttlSec * 1000;
    await this.store.writeAtomic(
      leaseFile(this.store.root, this.id),
      JSON.stringify({ expiresAt, ttlSec: this.ttlSec, pid: process.pid }),
    );
    this.expiresAt = expiresAt;
  }

  private async refresh(): Promise<void> {
    if (this.state !== 'alive' || this.busy) return;
    this.busy = true;
    try {
      // Never resurrect: once expired (we were paused, the disk stalled) or removed by
      // someone else, other processes may already have reaped our keys.
      const present = await fsp.access(leaseFile(this.store.root, this.id)).then(
        () => true,
        () => false,
      );
      if (!present || Date.now() >= this.expiresAt) return this.lose();
      await this.write();
    } catch {
      // a failed rewrite is retried at the next tick; expiry decides when it is lost
    } finally {
      this.busy = false;
    }
  }

  private lose(): void {
    if (this.state !== 'alive') return;
    clearInterval(this.timer);
    this.state = 'lost';
    for (const fn of this.lostFns.splice(0)) {
      try {
        fn();
      } catch (e) {
        process.nextTick(() => {
          throw e;
        });
      }
    }
  }
}
