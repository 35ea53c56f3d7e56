// The watcher's view of a prefix, shared by both backends: it turns raw changes and full
// re-listings into exactly the events the caller has not seen yet, so a resync after an
// outage emits the differences and nothing else.
import type { WatchEvent } from './store.js';

export class Mirror {
  private readonly view = new Map<string, string>();
  private closed = false;
  private down = false;

  constructor(
    private readonly onEvent: (e: WatchEvent) => void,
    private readonly onError?: (e: Error) => void,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
  }

  /** A re-put of an unchanged value is not a change of the mirrored view, so it is dropped. */
  put(key: string, value: string): void {
    if (this.closed || this.view.get(key) === value) return;
    this.view.set(key, value);
    this.deliver({ type: 'put', key, value });
  }

  delete(key: string): void {
    if (this.closed || !this.view.delete(key)) return;
    this.deliver({ type: 'delete', key });
  }

  /** Replaces the view with a complete listing: deletes what vanished, puts what is new or changed. */
  sync(listing: Iterable<readonly [string, string]>): void {
    const fresh = new Map(listing);
    for (const key of [...this.view.keys()]) if (!fresh.has(key)) this.delete(key);
    for (const [key, value] of fresh) this.put(key, value);
  }

  /** Reports a connectivity problem once per outage; recovered() ends the outage. */
  failed(err: Error): void {
    if (this.closed || this.down) return;
    this.down = true;
    if (!this.onError) return;
    try {
      this.onError(err);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
    }
  }

  recovered(): void {
    this.down = false;
  }

  // A throwing callback is the caller's bug: surface it as an uncaught exception instead
  // of letting it abort our scan or watch loop half-way and desynchronise the view.
  private deliver(e: WatchEvent): void {
    try {
      this.onEvent(e);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
}
