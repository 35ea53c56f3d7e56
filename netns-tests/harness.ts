// Builds throwaway topologies of network namespaces for end-to-end tests, runs real tools
// inside them, and always tears everything down. Every test gets its own name prefix so
// tests never see each other's namespaces, and every command is bounded in time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

/** dist/netns-tests/harness.js → repository root. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEFT = join(REPO, 'dist', 'src', 'cli', 'weft.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {}

export interface AgentHandle {
  ns: string;
  api: string;
  proc: ChildProcess;
  output: () => string;
  status: () => Promise<AgentStatus>;
  stop: () => Promise<number | null>;
}

/** The subset of `weft status --json` the tests read. */
export interface AgentStatus {
  node: string;
  health: string;
  ports: Array<{ name: string; mac: string; mtu: number; queues: number; addresses: string[] }>;
  workers: Array<{
    index: number;
    cpu: number;
    alive: boolean;
    rx: number;
    tx: number;
    drops: number;
    dropReasons: Record<string, number>;
    counters: Record<string, number>;
  }>;
  totals: Record<string, number>;
}

export class Topology {
  readonly prefix: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs: ChildProcess[] = [];

  /** `tag`: a short word naming the test (≤ 6 chars), part of every namespace name. */
  constructor(tag: string) {
    this.prefix = `wt${tag}${process.pid % 10000}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  /** Creates namespace `<prefix>-<name>` with loopback up, and returns its full name. */
  ns(name: string): string {
    const full = `${this.prefix}-${name}`;
    spawnSync('ip', ['netns', 'del', full]);
    this.must('', ['ip', 'netns', 'add', full]);
    this.namespaces.push(full);
    this.must(full, ['ip', 'link', 'set', 'lo', 'up']);
    return full;
  }

  /** Deletes namespace `full` at cleanup even though something else created it. */
  adopt(full: string): void {
    if (!this.namespaces.includes(full)) this.namespaces.push(full);
  }

  /** Runs argv inside ns ('' = here), bounded by timeoutMs; never throws. */
  run(ns: string, argv: string[], timeoutMs = 15000, input?: string): RunResult {
    const full = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
    const r = spawnSync(full[0], full.slice(1), { encoding: 'utf8', timeout: timeoutMs, input, maxBuffer: 64 << 20 });
    return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  /** Like run, but a non-zero exit throws with the command's output. */
  must(ns: string, argv: string[], timeoutMs = 15000, input?: string): string {
    const r = this.run(ns, argv, timeoutMs, input);
    if (r.code !== 0)
      throw new CommandError(`${ns ? `[${ns}] ` : ''}${argv.join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Starts argv in the background inside ns; killed at cleanup. */
  spawn(ns: string, argv: string[]): { proc: ChildProcess; output: () => string } {
    const full = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
    const proc = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout?.on('data', (d) => (out += d.toString()));
    proc.stderr?.on('data', (d) => (out += d.toString()));
    this.procs.push(proc);
    return { proc, output: () => out };
  }

  /** Writes a config, starts `weft agent` in ns and waits until its API answers. */
  async startAgent(ns: string, config: Record<string, unknown>, timeoutMs = 15000): Promise<AgentHandle> {
    const node = String(config.node);
    const api = join(this.dir, `${node}.sock`);
    const file = join(this.dir, `${node}.yaml`);
    // WEFT_OFFLOADS=off runs a test with every port's TAP offloads off (scripts/test does, for some).
    writeFileSync(file, stringify({ api, offloads: process.env.WEFT_OFFLOADS ?? 'on', ...config }));
    const { proc, output } = this.spawn(ns, ['node', WEFT, 'agent', '--config', file]);
    const status = async (): Promise<AgentStatus> => {
      const r = this.run(ns, ['node', WEFT, 'status', '--api', api, '--json'], 10000);
      if (r.code !== 0) throw new CommandError(`weft status failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as AgentStatus;
    };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null)
        throw new CommandError(`agent ${node} exited ${proc.exitCode} at start:\n${output()}`);
      if (existsSync(api) && this.run(ns, ['node', WEFT, 'status', '--api', api, '--json'], 5000).code === 0) break;
      if (Date.now() > deadline)
        throw new CommandError(`agent ${node} did not come up within ${timeoutMs} ms:\n${output()}`);
      await sleep(100);
    }
    const stop = async (): Promise<number | null> => {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await waitExit(proc, 5000);
      if (code === undefined) {
        proc.kill('SIGKILL');
        return waitExit(proc, 2000).then(() => null);
      }
      return code;
    };
    return { ns, api, proc, output, status, stop };
  }

  /** Kills every process we started and deletes every namespace; safe to call twice. */
  async cleanup(): Promise<void> {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    for (const p of this.procs) {
      if ((await waitExit(p, 3000)) === undefined) {
        p.kill('SIGKILL');
        await waitExit(p, 2000);
      }
    }
    this.procs.length = 0;
    for (const n of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', n]);
    this.namespaces.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the exit code, or undefined if the process is still running after ms. */
export function waitExit(p: ChildProcess, ms: number): Promise<number | null | undefined> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Runs fn with a fresh topology and tears it down whatever happens. */
export async function withTopology<T>(tag: string, fn: (t: Topology) => Promise<T>): Promise<T> {
  const t = new Topology(tag);
  try {
    return await fn(t);
  } finally {
    await t.cleanup();
  }
}

/** A node with two endpoints behind one agent: the topology of the frame-path tests. */
export async function twoEndpoints(
  t: Topology,
  opts: { workers?: number; mtu2?: number; offloads2?: 'on' | 'off'; extra?: Record<string, unknown> } = {},
): Promise<{ node: string; ep1: string; ep2: string; agent: AgentHandle }> {
  const node = t.ns('node');
  const ep1 = t.ns('ep1');
  const ep2 = t.ns('ep2');
  const agent = await t.startAgent(node, {
    node: t.prefix,
    workers: opts.workers ?? 2,
    gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
    ports: [
      { name: 'ep1', kind: 'endpoint', netns: ep1, ipv4: '198.19.1.10', ipv6: '2001:db8:19:1::10' },
      {
        name: 'ep2',
        kind: 'endpoint',
        netns: ep2,
        ipv4: '198.19.1.20',
        ipv6: '2001:db8:19:1::20',
        mtu: opts.mtu2 ?? 1500,
        ...(opts.offloads2 ? { offloads: opts.offloads2 } : {}),
      },
    ],
    ...opts.extra,
  });
  return { node, ep1, ep2, agent };
}

export { stringify as toYaml };
