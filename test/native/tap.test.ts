// Tests for the native shim (native-shims/weft_native.c) via src/native/tap.ts.
//
// TAP tests need root, /dev/net/tun and iproute2. Each one opens a TAP in the
// root namespace, moves it straight into a fresh namespace (the fd keeps
// working), and only ever uses 198.18.250.0/24 inside that namespace, so no
// traffic can leave it. Argument-validation, eventfd and pin tests need none
// of that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { loadNative, nativePath, isNativeError } from '../../src/native/tap.js';

const n = loadNative();
const T = { timeout: 20_000 };
const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun') && spawnSync('ip', ['-V']).status === 0;
const TAP = { ...T, skip: canTap ? false : 'needs root, /dev/net/tun and iproute2' };

const LOCAL_MAC = '02:00:00:00:00:01'; // the TAP interface inside the namespace
const PEER_MAC = '02:00:00:00:00:02'; // the "wire" side we play from JS
const LOCAL_IP = [198, 18, 250, 1];
const PEER_IP = [198, 18, 250, 2];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

interface Lab {
  name: string;
  ns: string;
  fds: number[];
}

let labSeq = 0;

/** Open a TAP, move it into a new namespace, configure it, run fn, clean up. */
async function withLab(queues: number, fn: (lab: Lab) => void | Promise<void>, template = false): Promise<void> {
  const i = labSeq++;
  const ns = `wtn-${process.pid}-${i}`;
  const want = `wtn${process.pid % 10000}${template ? 't%d' : `q${i}`}`;
  const tap = n.tapOpen(want, queues);
  let nsCreated = false;
  try {
    sh('ip', ['netns', 'add', ns]);
    nsCreated = true;
    sh('ip', ['link', 'set', tap.name, 'netns', ns]);
    // No IPv6 on the TAP: keeps router solicitations/MLD off the queue.
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${tap.name}.disable_ipv6=1`]);
    sh('ip', ['-n', ns, 'link', 'set', tap.name, 'address', LOCAL_MAC]);
    sh('ip', ['-n', ns, 'addr', 'add', `${LOCAL_IP.join('.')}/24`, 'dev', tap.name]);
    sh('ip', ['-n', ns, 'link', 'set', tap.name, 'up']);
    // Static neighbour: the kernel sends IP frames to PEER_MAC without ARP.
    sh('ip', ['-n', ns, 'neigh', 'add', PEER_IP.join('.'), 'lladdr', PEER_MAC, 'dev', tap.name]);
    await fn({ name: tap.name, ns, fds: tap.fds });
  } finally {
    for (const fd of tap.fds) n.close(fd); // the TAP goes away with its last fd
    if (nsCreated) spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Make the kernel in lab.ns send `count` ICMP echo requests to PEER_IP. */
function ping(lab: Lab, count: number): void {
  // No reply ever comes, so ping exits 1; only a spawn failure matters.
  const r = spawnSync(
    'ip',
    ['netns', 'exec', lab.ns, 'ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', PEER_IP.join('.')],
    { timeout: 10_000 },
  );
  assert.equal(r.error, undefined);
}

const mac = (b: Uint8Array, off: number): string =>
  Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

function checksum(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

interface Icmp {
  dst: string;
  src: string;
  ipSrc: string;
  ipDst: string;
  type: number;
  id: number;
}

/** Parse an Ethernet/IPv4/ICMP frame, or return null. */
function parseIcmp(b: Uint8Array, off: number, len: number): Icmp | null {
  const f = b.subarray(off, off + len);
  if (len < 34 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 1) return null;
  const l4 = 14 + (f[14]! & 0x0f) * 4;
  if (len < l4 + 8) return null;
  return {
    dst: mac(f, 0),
    src: mac(f, 6),
    ipSrc: Array.from(f.subarray(26, 30)).join('.'),
    ipDst: Array.from(f.subarray(30, 34)).join('.'),
    type: f[l4]!,
    id: (f[l4 + 4]! << 8) | f[l4 + 5]!,
  };
}

/** Write an ICMP echo request PEER -> LOCAL into b at off; returns its length. */
function buildEcho(b: Uint8Array, off: number, id: number): number {
  const payload = new TextEncoder().encode('weft native shim test');
  const len = 14 + 20 + 8 + payload.length;
  const f = b.subarray(off, off + len);
  f.fill(0);
  f.set(
    LOCAL_MAC.split(':').map((x) => parseInt(x, 16)),
    0,
  );
  f.set(
    PEER_MAC.split(':').map((x) => parseInt(x, 16)),
    6,
  );
  f.set([0x08, 0x00], 12);
  const ipLen = len - 14;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 1, 0, 0], 14);
  f.set(PEER_IP, 26);
  f.set(LOCAL_IP, 30);
  const ipSum = checksum(f, 14, 34);
  f.set([ipSum >> 8, ipSum & 0xff], 24);
  f.set([8, 0, 0, 0, id >> 8, id & 0xff, 0, 1], 34);
  f.set(payload, 42);
  const icmpSum = checksum(f, 34, len);
  f.set([icmpSum >> 8, icmpSum & 0xff], 36);
  return len;
}

/** Poll+read from fd until `pred` matched `want` frames or `ms` passed. */
function collect(fd: number, ms: number, want: number, pred: (f: Icmp) => boolean): Icmp[] {
  const slot = 2048;
  const arena = new Uint8Array(64 * slot);
  const lens = new Int32Array(64);
  const ready = new Int32Array(1);
  const got: Icmp[] = [];
  const deadline = Date.now() + ms;
  while (got.length < want && Date.now() < deadline) {
    if (n.wait(Int32Array.of(fd), 1, Math.max(1, deadline - Date.now()), ready) === 0) continue;
    const k = n.rxBatch(fd, arena, 0, 64, slot, 0, lens);
    for (let i = 0; i < k; i++) {
      const p = parseIcmp(arena, i * slot, lens[i]!);
      if (p && pred(p)) got.push(p);
    }
  }
  return got;
}

function assertCode(fn: () => unknown, code: string, msg?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isNativeError(e), `not a native error: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return true;
  });
}

test('addon loads from the default path with every export', T, () => {
  assert.match(nativePath(), /native-shims\/build\/Release\/weft_native\.node$/);
  for (const f of [
    'tapOpen',
    'rxBatch',
    'txBatch',
    'wait',
    'pin',
    'close',
    'eventfdCreate',
    'eventfdSignal',
    'eventfdDrain',
    'aeadSeal',
    'aeadOpen',
  ] as const) {
    assert.equal(typeof n[f], 'function', f);
  }
});

test('rxBatch reads kernel-generated echo requests into the right slots', TAP, () =>
  withLab(1, (lab) => {
    const fd = lab.fds[0]!;
    const slot = 2048,
      head = 64,
      first = 2;
    const arena = new Uint8Array(70 * slot).fill(0xaa);
    const lens = new Int32Array(70).fill(-1);
    assert.equal(n.rxBatch(fd, arena, first, 64, slot, head, lens), 0, 'queue starts empty');
    ping(lab, 3);
    const k = n.rxBatch(fd, arena, first, 64, slot, head, lens);
    assert.ok(k >= 3, `read ${k} frames`);
    let echoes = 0;
    for (let i = 0; i < k; i++) {
      const base = (first + i) * slot;
      assert.ok(
        arena.subarray(base, base + head).every((x) => x === 0xaa),
        'headroom untouched',
      );
      const p = parseIcmp(arena, base + head, lens[first + i]!);
      if (p?.type === 8 && p.ipDst === PEER_IP.join('.')) {
        assert.equal(p.dst, PEER_MAC);
        assert.equal(p.src, LOCAL_MAC);
        assert.equal(lens[first + i], 98); // 14 + 20 + 8 + 56 bytes of ping data
        echoes++;
      }
    }
    assert.equal(echoes, 3);
    assert.equal(lens[first - 1], -1, 'slots before firstSlot untouched');
    assert.equal(lens[first + k], -1, 'slots after the last frame untouched');
    assert.equal(n.rxBatch(fd, arena, first, 64, slot, head, lens), 0, 'drained');
  }),
);

test('rxBatch truncates a frame longer than the slot and reports the truncated length', TAP, () =>
  withLab(1, (lab) => {
    ping(lab, 1);
    const lens = new Int32Array(1);
    const arena = new Uint8Array(64);
    assert.equal(n.rxBatch(lab.fds[0]!, arena, 0, 1, 64, 24, lens), 1);
    assert.equal(lens[0], 40);
    assert.equal(mac(arena, 24), PEER_MAC);
  }),
);

test('txBatch frames reach the kernel, which answers with an echo reply', TAP, () =>
  withLab(1, (lab) => {
    const fd = lab.fds[0]!;
    const arena = new Uint8Array(4096);
    const len = buildEcho(arena, 300, 0x5eed);
    const stats = new Float64Array(1);
    assert.equal(n.txBatch(fd, arena, Int32Array.of(0, 0, 300, len), 1, 1, stats), 1);
    assert.equal(stats[0], 0);
    const replies = collect(fd, 3000, 1, (p) => p.type === 0 && p.id === 0x5eed);
    assert.equal(replies.length, 1);
    assert.deepEqual(replies[0], {
      dst: PEER_MAC,
      src: LOCAL_MAC,
      ipSrc: LOCAL_IP.join('.'),
      ipDst: PEER_IP.join('.'),
      type: 0,
      id: 0x5eed,
    });
  }),
);

test('txBatch counts per-frame errors in stats[0]: runt frame, interface down (EIO)', TAP, () =>
  withLab(1, (lab) => {
    const fd = lab.fds[0]!;
    const arena = new Uint8Array(4096);
    const len = buildEcho(arena, 0, 1);
    const stats = new Float64Array(2);
    // frame 0: good, frame 1: 5-byte runt (kernel EINVAL), frame 2: good
    assert.equal(n.txBatch(fd, arena, Int32Array.of(0, len, 0, 5, 0, len), 0, 3, stats), 3);
    assert.equal(stats[0], 1);
    sh('ip', ['-n', lab.ns, 'link', 'set', lab.name, 'down']);
    assert.equal(n.txBatch(fd, arena, Int32Array.of(0, len, 0, len), 0, 2, stats), 2, 'consumed, not written');
    assert.equal(stats[0], 3);
    assert.equal(n.txBatch(fd, arena, Int32Array.of(), 0, 0), 0, 'n = 0, no stats');
  }),
);

test('2 queues give 2 fds on one device; a template name is expanded', TAP, () =>
  withLab(
    2,
    (lab) => {
      assert.equal(lab.fds.length, 2);
      assert.notEqual(lab.fds[0], lab.fds[1]);
      assert.match(lab.name, new RegExp(`^wtn${process.pid % 10000}t\\d+$`));
      const queues = sh('ip', ['netns', 'exec', lab.ns, 'ls', `/sys/class/net/${lab.name}/queues`]).split(/\s+/);
      assert.deepEqual(queues.filter((q) => q.startsWith('tx-')).sort(), ['tx-0', 'tx-1']);
      // the flow lands on one of the two queues
      ping(lab, 1);
      const ready = new Int32Array(2);
      assert.equal(n.wait(Int32Array.from(lab.fds), 2, 2000, ready), 1);
      const fd = lab.fds[ready[0] ? 0 : 1]!;
      assert.ok(collect(fd, 1000, 1, (p) => p.type === 8).length === 1);
    },
    true,
  ),
);

test('wait: 0 on timeout, 1 once a frame is queued, negative fds ignored', TAP, () =>
  withLab(1, (lab) => {
    const fd = lab.fds[0]!;
    const efd = n.eventfdCreate();
    try {
      const fds = Int32Array.of(fd, efd, -1);
      const ready = new Int32Array(3).fill(7);
      const t0 = Date.now();
      assert.equal(n.wait(fds, 3, 100, ready), 0);
      assert.ok(Date.now() - t0 >= 90, 'blocked for the timeout');
      assert.deepEqual([...ready], [0, 0, 0]);
      ping(lab, 1);
      assert.equal(n.wait(fds, 3, 2000, ready), 1);
      assert.deepEqual([...ready], [1, 0, 0]);
    } finally {
      n.close(efd);
    }
  }),
);

test('eventfd wakes a wait() blocked in another thread', T, async () => {
  const efd = n.eventfdCreate();
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const n = require(workerData.path);
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
     n.eventfdSignal(workerData.efd);`,
    { eval: true, workerData: { path: nativePath(), efd } },
  );
  try {
    await once(worker, 'online');
    const ready = new Int32Array(1);
    const t0 = Date.now();
    assert.equal(n.wait(Int32Array.of(efd), 1, 5000, ready), 1);
    assert.ok(Date.now() - t0 < 4000, 'woken before the timeout');
    assert.equal(ready[0], 1);
    n.eventfdSignal(efd); // counter already non-zero: still fine
    n.eventfdDrain(efd);
    assert.equal(n.wait(Int32Array.of(efd), 1, 0, ready), 0, 'drained');
    n.eventfdDrain(efd); // draining an empty eventfd is not an error
    const [code] = (await once(worker, 'exit')) as [number];
    assert.equal(code, 0);
  } finally {
    await worker.terminate();
    n.close(efd);
  }
});

test('pin() pins the calling worker thread, not the process', T, async () => {
  const cpu = cpus().length - 1;
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const { readFileSync } = require('node:fs');
     require(workerData.path).pin(workerData.cpu);
     parentPort.postMessage(readFileSync('/proc/thread-self/status', 'utf8'));`,
    { eval: true, workerData: { path: nativePath(), cpu } },
  );
  const allowed = (s: string): string => /^Cpus_allowed_list:\s*(\S+)$/m.exec(s)?.[1] ?? '?';
  try {
    const before = allowed(sh('cat', [`/proc/${process.pid}/status`]));
    const [status] = (await once(worker, 'message')) as [string];
    assert.equal(allowed(status), String(cpu));
    assert.equal(allowed(sh('cat', [`/proc/${process.pid}/status`])), before, 'main thread unchanged');
  } finally {
    await worker.terminate();
  }
});

test('bad arguments throw EINVAL (or the errno) and never crash', T, () => {
  const arena = new Uint8Array(4096);
  const lens = new Int32Array(8);
  const BIG = 2147483647; // never an open fd
  // rxBatch
  assertCode(() => n.rxBatch(BIG, arena, 1, 2, 2048, 0, lens), 'EINVAL', /^rxBatch: slots extend beyond the arena/);
  assertCode(() => n.rxBatch(BIG, arena, 0, 8, 512, 0, new Int32Array(4)), 'EINVAL', /beyond lens/);
  assertCode(() => n.rxBatch(-1, arena, 0, 1, 2048, 0, lens), 'EINVAL', /fd must be an integer/);
  assertCode(() => n.rxBatch(1.5, arena, 0, 1, 2048, 0, lens), 'EINVAL');
  assertCode(() => n.rxBatch(BIG, arena, 0, 0, 2048, 0, lens), 'EINVAL', /maxFrames/);
  assertCode(() => n.rxBatch(BIG, arena, 0, 257, 64, 0, new Int32Array(257)), 'EINVAL', /maxFrames/);
  assertCode(() => n.rxBatch(BIG, arena, 0, 1, 2048, 2048, lens), 'EINVAL', /headroom/);
  assertCode(() => n.rxBatch(BIG, arena, 0, 1, 0, 0, lens), 'EINVAL', /slotSize/);
  assertCode(() => n.rxBatch(BIG, new Uint16Array(2048) as never, 0, 1, 2048, 0, lens), 'EINVAL', /arena/);
  assertCode(() => n.rxBatch(BIG, arena, 0, 1, 2048, 0, new Float64Array(8) as never), 'EINVAL', /lens/);
  assertCode(() => n.rxBatch('3' as never, arena, 0, 1, 2048, 0, lens), 'EINVAL');
  assertCode(() => (n.rxBatch as () => number)(), 'EINVAL');
  assertCode(() => n.rxBatch(BIG, arena, 0, 1, 2048, 0, lens), 'EBADF', /^rxBatch\(fd 2147483647\): read: Bad file/);
  // txBatch
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(4000, 100), 0, 1), 'EINVAL', /desc\[0\] lies outside/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(0, -1), 0, 1), 'EINVAL', /outside/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(-1, 10), 0, 1), 'EINVAL', /outside/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(0, 60), 0, 2), 'EINVAL', /beyond desc/);
  assertCode(() => n.txBatch(BIG, arena, new Int32Array(514), 0, 257), 'EINVAL', /n must be/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(0, 60), 0, 1, new Float64Array(0)), 'EINVAL', /stats/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(0, 60), 0, 1, [0] as never), 'EINVAL', /stats/);
  assertCode(() => n.txBatch(BIG, arena, Int32Array.of(0, 60), 0, 1), 'EBADF', /^txBatch\(fd \d+\): write/);
  // wait
  const fds = new Int32Array(513);
  assertCode(() => n.wait(fds, 513, 0, new Int32Array(513)), 'EINVAL', /n must be/);
  assertCode(() => n.wait(fds, 4, 0, new Int32Array(2)), 'EINVAL', /exceeds/);
  assertCode(() => n.wait(fds, 1, -2, new Int32Array(1)), 'EINVAL', /timeoutMs/);
  // pin / close / eventfd
  assertCode(() => n.pin(-1), 'EINVAL');
  assertCode(() => n.pin(1024), 'EINVAL');
  assertCode(() => n.close(-1), 'EINVAL');
  assertCode(() => n.close(BIG), 'EBADF', /^close\(2147483647\): Bad file descriptor$/);
  assertCode(() => n.eventfdSignal(BIG), 'EBADF');
  assertCode(() => n.eventfdDrain(-3), 'EINVAL');
  // tapOpen argument checks happen before any syscall
  assertCode(() => n.tapOpen('x'.repeat(16), 1), 'EINVAL', /name must be 1\.\.15 bytes/);
  assertCode(() => n.tapOpen('é'.repeat(8), 1), 'EINVAL', /name/); // 16 UTF-8 bytes
  assertCode(() => n.tapOpen('', 1), 'EINVAL', /name/);
  assertCode(() => n.tapOpen('a\0b', 1), 'EINVAL', /name/);
  assertCode(() => n.tapOpen(7 as never, 1), 'EINVAL', /name must be a string/);
  assertCode(() => n.tapOpen('wtn', 0), 'EINVAL', /queues/);
  assertCode(() => n.tapOpen('wtn', 17), 'EINVAL', /queues/);
});

test('tapOpen with a name the kernel rejects throws with the ioctl errno', TAP, () => {
  assertCode(() => n.tapOpen('bad/name', 2), 'EINVAL', /^tapOpen\(bad\/name\): TUNSETIFF: Invalid argument$/);
  // "lo" exists but is not a TAP
  assertCode(() => n.tapOpen('lo', 1), 'EINVAL', /^tapOpen\(lo\): TUNSETIFF: /);
});
