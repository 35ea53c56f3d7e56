// HTTP+JSON API on a Unix socket (mode 0600), as cilium-agent serves its own.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdirSync, unlinkSync, chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';

/** Handlers keyed by "METHOD /path"; a path ending in "/*" matches any one more segment. */
export type ApiHandler = (req: { params: string[]; body: unknown }) => unknown | Promise<unknown>;
export type ApiRoutes = Record<string, ApiHandler>;

/** Thrown by a handler to answer with a status code and a message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
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
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`API socket ${path} is in use by another agent`);
  unlinkSync(path);
}

function match(routes: ApiRoutes, method: string, url: string): { h: ApiHandler; params: string[] } | undefined {
  const path = url.split('?')[0];
  if (routes[`${method} ${path}`]) return { h: routes[`${method} ${path}`], params: [] };
  const slash = path.lastIndexOf('/');
  const wild = routes[`${method} ${path.slice(0, slash)}/*`];
  return wild ? { h: wild, params: [decodeURIComponent(path.slice(slash + 1))] } : undefined;
}

const MAX_BODY = 1 << 20;

export async function startApi(path: string, routes: ApiRoutes): Promise<ApiServer> {
  mkdirSync(dirname(path), { recursive: true });
  await clearStaleSocket(path);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const m = match(routes, req.method ?? '', req.url ?? '');
    if (!m) return reply(res, 404, { error: `no such endpoint: ${req.method} ${req.url}` });
    let raw = '';
    req.on('data', (d: Buffer) => {
      raw += d.toString();
      if (raw.length > MAX_BODY) req.destroy();
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        return reply(res, 400, { error: 'request body is not valid JSON' });
      }
      Promise.resolve()
        .then(() => m.h({ params: m.params, body }))
        .then(
          (out) => reply(res, 200, out ?? { ok: true }),
          (e: Error) => reply(res, e instanceof ApiError ? e.status : 500, { error: e.message }),
        );
    });
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
  return apiCall(socketPath, 'GET', path, undefined, timeoutMs);
}

/** Client side: one request to an agent's API socket; rejects with the agent's error text. */
export function apiCall(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 3000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`agent at ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? `no agent is serving ${socketPath} (is weft agent running?)`
            : e.message,
        ),
      );
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
    const payload = body === undefined ? '' : JSON.stringify(body);
    s.write(
      `${method} ${path} HTTP/1.1\r\nHost: weft\r\nConnection: close\r\nContent-Type: ` +
        `application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
  });
}
