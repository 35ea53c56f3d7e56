// HTTP+JSON API on a Unix socket (mode 0600), as cilium-agent serves its own.
import { createServer, Server, IncomingMessage, ServerResponse } from 'node:http';
import { mkdirSync, unlinkSync, chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';

export interface ApiHandlers {
  status: () => unknown;
}

export interface ApiServer {
  close(): Promise<void>;
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Refuses to take over a socket another live agent is serving; removes a stale one. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`API socket ${path} is in use by another agent`);
  unlinkSync(path);
}

export async function startApi(path: string, h: ApiHandlers): Promise<ApiServer> {
  mkdirSync(dirname(path), { recursive: true });
  await clearStaleSocket(path);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      if (req.method === 'GET' && (req.url === '/v1/status' || req.url === '/v1/healthz')) reply(res, 200, h.status());
      else reply(res, 404, { error: `no such endpoint: ${req.method} ${req.url}` });
    } catch (e) {
      reply(res, 500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        try {
          unlinkSync(path);
        } catch {
          // Already removed.
        }
      }),
  };
}

/** Client side: GET a path from an agent's API socket. */
export function apiGet(socketPath: string, path: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`agent at ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no agent is serving ${socketPath} (is weft agent running?)` : e.message));
    });
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => {
      clearTimeout(timer);
      const split = data.indexOf('\r\n\r\n');
      const head = data.slice(0, split);
      const body = data.slice(split + 4);
      const code = Number(/^HTTP\/1\.\d (\d+)/.exec(head)?.[1] ?? 0);
      try {
        const parsed = JSON.parse(body) as { error?: string };
        if (code !== 200) reject(new Error(parsed.error ?? `HTTP ${code}`));
        else resolve(parsed);
      } catch {
        reject(new Error(`malformed answer from agent (HTTP ${code})`));
      }
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n`);
  });
}
