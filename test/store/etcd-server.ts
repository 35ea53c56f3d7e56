// A throwaway single-node etcd inside a network namespace of the test's own, listening on
// 198.18.0.2:2379 (clients) and 127.0.0.1:2380 (peers): nothing outside the namespace can
// reach it, and it reaches nothing. Clients run inside the namespace too (`ip netns exec`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ETCD_ADDR = '198.18.0.2';
export const ETCD_URL = `etcd://${ETCD_ADDR}:2379`;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? ''}${r.stderr}`);
}

/** Installs Debian's etcd-server if `etcd` is missing (scripts/setup should already have). */
export function ensureEtcd(): string {
  const which = (): string => spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
  if (!which()) {
    const install = ['install', '-y', '-qq', '--no-install-recommends', 'etcd-server'];
    try {
      run('apt-get', install);
    } catch {
      run('apt-get', ['update', '-qq']);
      run('apt-get', install);
    }
  }
  const v = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout;
  return /etcd Version: (\S+)/.exec(v)?.[1] ?? 'unknown';
}

export class EtcdServer {
  readonly ns = `wtetcd${process.pid}`;
  readonly wrap = ['ip', 'netns', 'exec', this.ns];
  private dataDir = '';
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  async setup(): Promise<void> {
    this.dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'weft-etcd-'));
    spawnSync('ip', ['netns', 'del', this.ns]); // a leftover of a crashed run with the same pid
    run('ip', ['netns', 'add', this.ns]);
    run('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', this.ns, 'addr', 'add', `${ETCD_ADDR}/32`, 'dev', 'lo']);
  }

  /** Starts (or restarts, on the same data) etcd and waits until it serves clients. */
  async start(timeoutMs = 15_000): Promise<number> {
    const t0 = Date.now();
    const peer = 'http://127.0.0.1:2380';
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns,
        'etcd',
        '--name',
        'wt',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        `http://${ETCD_ADDR}:2379`,
        '--advertise-client-urls',
        `http://${ETCD_ADDR}:2379`,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `wt=${peer}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc = proc;
    this.exited = new Promise((r) => proc.on('exit', () => r()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`etcd not ready within ${timeoutMs} ms:\n${log.slice(-3000)}`)),
        timeoutMs,
      );
      proc.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-20_000);
        if (/ready to serve client requests/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd exited (${code}):\n${log.slice(-3000)}`));
      });
    });
    proc.stderr!.resume(); // keep draining its log
    return Date.now() - t0;
  }

  async kill(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  async teardown(): Promise<void> {
    await this.kill();
    spawnSync('ip', ['netns', 'del', this.ns]);
    if (this.dataDir) await fsp.rm(this.dataDir, { recursive: true, force: true });
  }
}
