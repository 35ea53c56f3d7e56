// Test plumbing shared by the store tests: a handle on a child agent process (child.ts) and
// a collector of watch events that can wait for a condition with a deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WatchEvent } from '../../src/control/store/index.js';

export const CHILD_JS = fileURLToPath(new URL('./child.js', import.meta.url));

/** Something that fills up over time and can be waited on. */
export class Waitable {
  private wakers: Array<() => void> = [];

  protected changed(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  /** Resolves when cond() holds; rejects after timeoutMs with what describe() says. */
  async until(cond: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

export interface Seen {
  e: WatchEvent;
  at: number;
}

/** Records the events and errors of an in-process watcher. */
export class Collector extends Waitable {
  readonly events: Seen[] = [];
  readonly errors: Error[] = [];
  readonly onEvent = (e: WatchEvent): void => {
    this.events.push({ e, at: Date.now() });
    this.changed();
  };
  readonly onError = (e: Error): void => {
    this.errors.push(e);
    this.changed();
  };
}

/** Compact event notation for assertions: "+key=value" or "-key". */
export const fmt = (e: WatchEvent): string => (e.type === 'put' ? `+${e.key}=${e.value}` : `-${e.key}`);

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  name?: string;
  t: number;
}

/** A child agent process: call() its store, read what its watcher saw, kill or freeze it. */
export class Child extends Waitable {
  readonly events: Seen[] = [];
  readonly watchErrors: string[] = [];
  readonly lost: string[] = [];
  readonly unhandled: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private hello: Promise<{ ready?: boolean; fatal?: string; name?: string; openMs: number }>;

  /** wrap: a command prefix, e.g. ['ip', 'netns', 'exec', ns] to run inside a namespace. */
  constructor(url: string, opts: { wrap?: string[]; connectTimeoutMs?: number } = {}) {
    super();
    const argv = [...(opts.wrap ?? []), process.execPath, CHILD_JS, url];
    if (opts.connectTimeoutMs !== undefined) argv.push(String(opts.connectTimeoutMs));
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdin!.on('error', () => undefined); // writing to a killed child is not our failure
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        this.changed();
        resolve({ code, signal });
      }),
    );
    let hi!: (v: { ready?: boolean; fatal?: string; openMs: number }) => void;
    this.hello = new Promise((r) => {
      hi = r;
    });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line);
      if ('ready' in m || 'fatal' in m) hi(m);
      else if ('id' in m) {
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      } else if ('event' in m) this.events.push({ e: m.event, at: Date.now() });
      else if ('watchError' in m) this.watchErrors.push(m.watchError);
      else if ('lost' in m) this.lost.push(m.lost);
      else if ('unhandled' in m) this.unhandled.push(m.unhandled);
      this.changed();
    });
    this.exited.then(({ code, signal }) => {
      hi({ fatal: `child exited (${code ?? signal}) before opening the store: ${this.stderr.trim()}`, openMs: -1 });
      for (const [, r] of this.pending)
        r({ id: 0, ok: false, error: `child exited (${code ?? signal})`, t: Date.now() });
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Waits for the store to be open; throws with the child's message if it could not. */
  async ready(): Promise<number> {
    const h = await this.hello;
    if (!h.ready) throw new Error(h.fatal);
    return h.openMs;
  }

  /** What the child said when it started: ready, or the fatal error and how long opening took. */
  opened(): Promise<{ ready?: boolean; fatal?: string; name?: string; openMs: number }> {
    return this.hello;
  }

  /** Runs op in the child; resolves with its result and the child's clock when it completed. */
  async call<T = unknown>(op: string, ...args: unknown[]): Promise<{ result: T; t: number }> {
    const id = this.nextId++;
    const reply = new Promise<Reply>((r) => this.pending.set(id, r));
    this.proc.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    const r = await reply;
    if (!r.ok) throw new Error(`child ${op}: ${r.name ?? 'Error'}: ${r.error}`);
    return { result: r.result as T, t: r.t };
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  /** Kills it if still running and waits for the exit. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
