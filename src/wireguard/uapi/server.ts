// The UAPI socket: /var/run/wireguard/<ifname>.sock, where `wg` finds userspace interfaces.
// Like wireguard-go: the directory is created 0755, the socket is 0600, a stale socket left
// by a dead process is replaced while a live one is refused, and the socket is removed on
// close. Requests are answered in order, several per connection if the client sends them.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { DeviceConfig } from './device-config.js';
import { Errno, UapiError } from './errors.js';
import { answerGet, applySet, formatStatus } from './protocol.js';
import { type ReaderLimits, RequestReader, type UapiRequest, readerLimitsFor } from './request-reader.js';

export const DEFAULT_RUN_DIR = '/var/run/wireguard';

export interface UapiServerOptions {
  /** Directory of the socket; tests point it elsewhere. Default /var/run/wireguard. */
  runDir?: string;
  /** Connections served at once; more are closed on accept. Default 8. */
  maxConnections?: number;
  /** A connection idle this long is closed. Default 10 s. */
  idleTimeoutMs?: number;
  /** Bounds on each request. Default: enough for a full `wg setconf` of this device's limits (readerLimitsFor). */
  reader?: Partial<ReaderLimits>;
  /** Where refused requests are reported (wireguard-go logs them too). Default: nowhere. */
  log?: (line: string) => void;
}

// Stop reading from a client that does not read its answers.
const MAX_UNSENT_BYTES = 1 << 20;

/** Interface names `wg` accepts: shorter than IFNAMSIZ, no '/'. We also keep to safe characters. */
export function checkInterfaceName(name: string): void {
  if (!/^[A-Za-z0-9_.=+-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new Error(`interface name ${JSON.stringify(name)}: must be 1..15 characters of A-Z a-z 0-9 _ . = + -`);
  }
}

export class UapiServer {
  readonly path: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private inode: number | null = null;
  private closed = false;

  private constructor(
    readonly ifname: string,
    private readonly device: DeviceConfig,
    private readonly opts: Required<Omit<UapiServerOptions, 'reader'>> & { reader: ReaderLimits },
  ) {
    this.path = join(opts.runDir, `${ifname}.sock`);
    this.server = createServer({ allowHalfOpen: true }, (s) => this.serve(s));
    this.server.maxConnections = opts.maxConnections;
  }

  /** Creates the socket and starts answering; throws with a clear message if the name is taken by a live process. */
  static async start(ifname: string, device: DeviceConfig, options: UapiServerOptions = {}): Promise<UapiServer> {
    checkInterfaceName(ifname);
    const opts = {
      runDir: options.runDir ?? DEFAULT_RUN_DIR,
      maxConnections: options.maxConnections ?? 8,
      idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
      log: options.log ?? ((): void => {}),
      reader: { ...readerLimitsFor(device.limits), ...options.reader },
    };
    const srv = new UapiServer(ifname, device, opts);
    await srv.listen();
    return srv;
  }

  /** Stops accepting, closes open connections and removes the socket (if it is still ours). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.removeOwnSocket();
  }

  private async listen(): Promise<void> {
    const dir = this.opts.runDir;
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
    }
    try {
      await this.bind();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await this.clearStaleSocket();
      await this.bind();
    }
    chmodSync(this.path, 0o600);
    this.inode = statSync(this.path).ino;
  }

  private bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      // The socket must never exist with a wider mode, even briefly; the bind happens inside listen().
      const old = isMainThread ? process.umask(0o077) : undefined;
      try {
        this.server.listen(this.path);
      } finally {
        if (old !== undefined) process.umask(old);
      }
    });
  }

  /** The path is taken: refuse if a process answers on it, remove it if nobody does. */
  private async clearStaleSocket(): Promise<void> {
    const st = lstatSync(this.path);
    if (!st.isSocket()) throw new Error(`${this.path} exists and is not a socket; not replacing it`);
    const live = await new Promise<boolean>((resolve) => {
      const c = createConnection(this.path);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (live)
      throw new Error(
        `UAPI socket ${this.path} is in use by a running process (is interface ${this.ifname} already up?)`,
      );
    unlinkSync(this.path);
  }

  private removeOwnSocket(): void {
    try {
      if (this.inode !== null && statSync(this.path).ino === this.inode) unlinkSync(this.path);
    } catch {
      // Already gone (libuv may unlink it on close).
    }
  }

  private serve(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const reader = new RequestReader(this.opts.reader);
    let done = false;
    const finish = (text?: string): void => {
      done = true;
      if (text === undefined) socket.end();
      else socket.end(text);
    };
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Parsed requests wait here while the client is not reading its answers.
    const pending: UapiRequest[] = [];
    let ended = false;
    let waitingForDrain = false;
    const work = (): void => {
      while (pending.length > 0 && !done) {
        if (socket.writableLength > MAX_UNSENT_BYTES) {
          if (!waitingForDrain) {
            waitingForDrain = true;
            socket.pause();
            socket.once('drain', () => {
              waitingForDrain = false;
              socket.resume();
              work();
            });
          }
          return;
        }
        const req = pending.shift()!;
        const answer = this.answer(req);
        if (req.op === 'fatal') {
          finish(answer);
          return;
        }
        socket.write(answer);
      }
      // A probe (connect and close, as `wg` does to list interfaces) ends idle: no answer.
      if (ended && !done) finish();
    };
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      for (const req of reader.push(chunk)) pending.push(req);
      work();
    });
    socket.on('end', () => {
      if (done) return;
      ended = true;
      const req = reader.end();
      if (req) pending.push(req);
      work();
    });
  }

  private answer(req: UapiRequest): string {
    switch (req.op) {
      case 'get':
        return answerGet(this.device);
      case 'set':
        try {
          applySet(this.device, req.lines);
          return formatStatus(0);
        } catch (err) {
          if (err instanceof UapiError) {
            this.opts.log(`uapi ${this.ifname}: set refused: ${err.message}`);
            return formatStatus(err.errno);
          }
          this.opts.log(`uapi ${this.ifname}: set failed: ${(err as Error)?.stack ?? String(err)}`);
          return formatStatus(Errno.ENOANO);
        }
      case 'fatal':
        this.opts.log(`uapi ${this.ifname}: ${req.error.message}`);
        return formatStatus(req.error.errno);
    }
  }
}
