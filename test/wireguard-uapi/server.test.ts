// The Unix socket: file modes, stale and live sockets, several requests per connection,
// probes, half-closed partial requests, hostile input and connection limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceConfig } from '../../src/wireguard/uapi/device-config.js';
import { formatGet } from '../../src/wireguard/uapi/protocol.js';
import { UapiServer } from '../../src/wireguard/uapi/server.js';
import { readerLimitsFor } from '../../src/wireguard/uapi/request-reader.js';
import { PEER_A, PRIV_HEX, exchange, setRequest } from './helpers.js';

async function withServer(
  fn: (s: UapiServer, d: DeviceConfig, runDir: string) => Promise<void>,
  opts: { maxConnections?: number; idleTimeoutMs?: number } = {},
  limits: { maxPeers?: number; maxAllowedIps?: number } = {},
): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'wtua-'));
  const runDir = join(base, 'run', 'wireguard');
  const d = new DeviceConfig(limits);
  const s = await UapiServer.start('wtua0', d, { runDir, ...opts });
  try {
    await fn(s, d, runDir);
  } finally {
    await s.close();
    rmSync(base, { recursive: true, force: true });
  }
}

test('socket 0600 in a directory created 0755; removed on close', async () => {
  let path = '';
  await withServer(async (s, _d, runDir) => {
    path = s.path;
    assert.equal(s.path, join(runDir, 'wtua0.sock'));
    assert.equal(statSync(runDir).mode & 0o777, 0o755);
    const st = statSync(s.path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await s.close();
    assert.equal(existsSync(s.path), false);
  });
  assert.equal(existsSync(path), false);
});

test('set then get on one connection; a refused set keeps the connection usable', async () => {
  await withServer(async (s, d) => {
    const out = await exchange(
      s.path,
      setRequest(`private_key=${PRIV_HEX}`, 'listen_port=51871', `public_key=${PEER_A}`, 'allowed_ip=198.18.70.0/24') +
        'get=1\n\n',
    );
    assert.equal(out, `errno=0\n\n${formatGet(d)}errno=0\n\n`);
    assert.match(out, /allowed_ip=198\.18\.70\.0\/24\n/);
    const out2 = await exchange(s.path, `${setRequest('listen_port=99999')}get=1\n\n`);
    assert.equal(out2, `errno=-22\n\n${formatGet(d)}errno=0\n\n`);
    assert.equal(d.listenPort, 51871);
  });
});

test(
  'a probe (connect, close) gets no answer; half-closed partial requests answer EPROTO and change ' + 'nothing',
  async () => {
    await withServer(async (s, d) => {
      assert.equal(await exchange(s.path, ''), '');
      assert.equal(await exchange(s.path, 'set=1\nlisten_port=1\n'), 'errno=-71\n\n');
      assert.equal(await exchange(s.path, 'get=1\n'), 'errno=-71\n\n');
      assert.equal(d.listenPort, 0);
      assert.equal(d.version, 0);
    });
  },
);

test(
  'hostile streams: unknown op, binary garbage, an endless line, too many lines — one errno, then ' + 'closed',
  async () => {
    await withServer(
      async (s, d) => {
        assert.equal(await exchange(s.path, 'hello\n\nget=1\n\n'), 'errno=-71\n\n');
        assert.equal(await exchange(s.path, Buffer.from([0, 1, 2, 0xff, 0x0a])), 'errno=-71\n\n');
        assert.equal(await exchange(s.path, 'get=1\nX'), 'errno=-22\n\n');
        assert.equal(await exchange(s.path, `set=1\n${'a'.repeat(100_000)}`), 'errno=-90\n\n');
        // Request bounds follow the device's limits: 2 peers, 4 prefixes → 16 + 8·2 + 4 = 36 lines.
        assert.equal(await exchange(s.path, `set=1\n${'fwmark=1\n'.repeat(36)}\n`), 'errno=0\n\n');
        assert.equal(await exchange(s.path, `set=1\n${'fwmark=2\n'.repeat(37)}\n`), 'errno=-90\n\n');
        assert.equal(await exchange(s.path, `set=1\n${'fwmark=2\n'.repeat(200_000)}\n`), 'errno=-90\n\n');
        assert.equal(d.fwmark, 1);
        assert.equal(await exchange(s.path, 'get=1\n\n'), 'fwmark=1\nerrno=0\n\n', 'still serving');
      },
      {},
      { maxPeers: 2, maxAllowedIps: 4 },
    );
  },
);

test('default request bounds fit a full setconf of the default device limits, within 32 MiB', () => {
  const l = readerLimitsFor(new DeviceConfig().limits);
  assert.equal(l.maxLines, 16 + 8 * 65536 + 262144);
  assert.equal(l.maxRequestBytes, 32 << 20);
  assert.deepEqual(readerLimitsFor({ maxPeers: 2, maxAllowedIps: 4 }), {
    maxLines: 36,
    maxLineBytes: 4096,
    maxRequestBytes: 65536,
  });
});

test('a stale socket of a dead process is replaced; a live one is refused; a non-socket is left alone', async () => {
  const base = mkdtempSync(join(tmpdir(), 'wtua-'));
  try {
    const path = join(base, 'wtua1.sock');
    // A process that binds the socket and dies without cleaning up.
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ],
      { timeout: 10_000 },
    );
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(statSync(path).isSocket(), 'stale socket left behind');
    const a = await UapiServer.start('wtua1', new DeviceConfig(), { runDir: base });
    try {
      assert.equal(await exchange(path, 'get=1\n\n'), 'errno=0\n\n');
      await assert.rejects(
        UapiServer.start('wtua1', new DeviceConfig(), { runDir: base }),
        /UAPI socket .*wtua1\.sock is in use by a running process/,
      );
      assert.equal(await exchange(path, 'get=1\n\n'), 'errno=0\n\n', 'the refused start did not disturb the live one');
    } finally {
      await a.close();
    }
    writeFileSync(join(base, 'wtua2.sock'), 'not a socket');
    await assert.rejects(UapiServer.start('wtua2', new DeviceConfig(), { runDir: base }), /exists and is not a socket/);
    assert.ok(existsSync(join(base, 'wtua2.sock')));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('interface names: what `wg` could not address is refused', async () => {
  for (const name of ['', 'a/b', '..', 'x'.repeat(16), 'wg 0']) {
    await assert.rejects(UapiServer.start(name, new DeviceConfig(), { runDir: tmpdir() }), /interface name/);
  }
});

test('bounded connections: over the limit is closed unanswered; idle connections time out', async () => {
  await withServer(
    async (s) => {
      const open = (): Promise<ReturnType<typeof createConnection>> =>
        new Promise((resolve) => {
          const c = createConnection(s.path, () => resolve(c));
        });
      const c1 = await open();
      const c2 = await open();
      await new Promise((r) => setTimeout(r, 50));
      const third = await exchange(s.path, 'get=1\n\n').catch((e: Error) =>
        /EPIPE|ECONNRESET/.test(e.message) ? '' : Promise.reject(e),
      );
      assert.equal(third, '', 'third connection closed unanswered');
      const closedAt = await new Promise<number>((resolve) => c1.on('close', () => resolve(Date.now())));
      c2.destroy();
      assert.ok(closedAt > 0, 'idle connection closed by the server');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(await exchange(s.path, 'get=1\n\n'), 'errno=0\n\n');
    },
    { maxConnections: 2, idleTimeoutMs: 300 },
  );
});

test('many clients at once are all answered', async () => {
  await withServer(async (s, d) => {
    d.update((x) => x.setListenPort(51871));
    const answers = await Promise.all(Array.from({ length: 12 }, () => exchange(s.path, 'get=1\n\n')));
    assert.ok(answers.every((a) => a === 'listen_port=51871\nerrno=0\n\n'));
  });
});

test('pipelined gets larger than the send buffer are all answered, in order, then the connection ends', async () => {
  await withServer(async (s, d) => {
    d.update((x) => {
      for (let i = 0; i < 2000; i++) {
        const key = Buffer.alloc(32, 0x11);
        key.writeUInt16BE(i);
        x.addPeer(key);
        x.addAllowedIp(key, `198.18.${i >> 8}.${i & 255}/32`);
      }
    });
    const one = `${formatGet(d)}errno=0\n\n`;
    assert.ok(one.length > 500_000);
    const out = await exchange(s.path, 'get=1\n\n'.repeat(40), 30_000);
    assert.equal(out.length, one.length * 40);
    assert.ok(out === one.repeat(40));
  });
});
