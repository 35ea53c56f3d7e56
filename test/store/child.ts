// Another agent process for the store tests: `node child.js URL [connectTimeoutMs]`.
// Reads one JSON command per stdin line ({id, op, args}), answers one JSON line per command
// ({id, ok, result | error, t}), and streams watch events, watch errors and lost leases as
// they happen. Tests kill it (SIGKILL) or freeze it (SIGSTOP) to play a dead or stuck agent.
import { createInterface } from 'node:readline';
import { openStore } from '../../src/control/store/index.js';
import type { Lease, Store } from '../../src/control/store/index.js';

const send = (msg: object): void => {
  process.stdout.write(`${JSON.stringify({ ...msg, t: Date.now() })}\n`);
};

process.on('unhandledRejection', (e) => {
  send({ unhandled: String((e as Error)?.stack ?? e) });
  process.exit(3);
});

const [url, timeout] = process.argv.slice(2);
const started = Date.now();
let store: Store;
try {
  store = await openStore(url!, timeout ? { connectTimeoutMs: Number(timeout) } : {});
} catch (e) {
  send({ fatal: (e as Error).message, name: (e as Error).name, openMs: Date.now() - started });
  process.exit(1);
}
const leases = new Map<string, Lease>();
send({ ready: true, openMs: Date.now() - started });

// biome-ignore lint/suspicious/noExplicitAny: arguments arrive as JSON from the parent, one shape per op.
type Args = any[];
const ops: Record<string, (...a: Args) => Promise<unknown>> = {
  get: (k) => store.get(k),
  put: (k, v, l) => store.put(k, v, { lease: l ? leases.get(l) : undefined }),
  create: (k, v, l) => store.create(k, v, { lease: l ? leases.get(l) : undefined }),
  delete: (k) => store.delete(k),
  list: (p) => store.list(p),
  lease: async (name, ttl) => {
    const l = await store.lease(ttl);
    l.onLost(() => send({ lost: name }));
    leases.set(name, l);
    return l.id;
  },
  revoke: (name) => leases.get(name)!.revoke(),
  watch: async (prefix) => {
    await store.watch(
      prefix,
      (e) => send({ event: e }),
      (e) => send({ watchError: e.message }),
    );
  },
  // Creates key i at startAt + i*slotMs exactly (sleep, then spin on the shared clock), so
  // the racers really collide on every key; returns the indices this process won.
  race: async (keys: string[], startAt: number, slotMs: number, me: string) => {
    const won: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const at = startAt + i * slotMs;
      if (at - Date.now() > 2) await new Promise((r) => setTimeout(r, at - Date.now() - 2));
      while (Date.now() < at) {
        /* spin: both processes leave within the same tick */
      }
      if (await store.create(keys[i]!, me)) won.push(i);
    }
    return won;
  },
  exit: async () => {
    await store.close();
    setImmediate(() => process.exit(0));
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: Args };
  const fn = ops[op];
  if (!fn) {
    send({ id, ok: false, error: `unknown op ${op}` });
    continue;
  }
  fn(...args).then(
    (result) => send({ id, ok: true, result }),
    (e) => send({ id, ok: false, error: (e as Error).message, name: (e as Error).name }),
  );
}
// stdin closed: the test is done with us (or gone), so leave like a stopping agent would
await store.close();
process.exit(0);
