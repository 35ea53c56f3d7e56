// Test-only process: a Weft UAPI device without a dataplane, so `wg` can be pointed at it.
//
//   node dist/test/wireguard-uapi/uapi-device-runner.js IFNAME [--run-dir DIR] [--max-peers N] [--max-allowed-ips N]
//
// Prints JSON lines on stdout: {"ready": "<socket path>"} once listening, {"event": ...} for
// every committed change. Reads JSON commands on stdin, one per line, and answers each with
// {"reply": ...}:
//   {"op":"stats","peer":HEX,"handshakeSec":S,"handshakeNsec":N,"rx":R,"tx":T}  what a dataplane would write
//   {"op":"dump"}                                                            the model as JSON
// SIGTERM / SIGINT / end of stdin close the socket and exit.
import { createInterface } from 'node:readline';
import { DeviceConfig, type PeerSnapshot } from '../../src/wireguard/uapi/device-config.js';
import { formatHexKey } from '../../src/wireguard/uapi/keys.js';
import { UapiServer } from '../../src/wireguard/uapi/server.js';

interface Command {
  op: string;
  peer?: string;
  handshakeSec?: number;
  handshakeNsec?: number;
  rx?: number;
  tx?: number;
}

/** The model as plain JSON (bigints as decimal strings). */
export function dumpDevice(device: DeviceConfig): Record<string, unknown> {
  const pub = device.publicKey;
  return {
    version: device.version,
    publicKey: pub && formatHexKey(pub),
    listenPort: device.listenPort,
    fwmark: device.fwmark,
    peers: device.peers().map((p: PeerSnapshot) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey && formatHexKey(p.presharedKey),
      endpoint: p.endpoint?.text ?? null,
      persistentKeepaliveInterval: p.persistentKeepaliveInterval,
      allowedIps: p.allowedIps.map((a) => a.text),
      lastHandshakeSec: String(p.lastHandshake.sec),
      lastHandshakeNsec: p.lastHandshake.nsec,
      rxBytes: String(p.rxBytes),
      txBytes: String(p.txBytes),
    })),
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function run(cmd: Command, device: DeviceConfig): unknown {
  if (cmd.op === 'dump') return dumpDevice(device);
  if (cmd.op === 'stats' && cmd.peer) {
    const hs =
      cmd.handshakeSec === undefined || device.recordHandshake(cmd.peer, cmd.handshakeSec, cmd.handshakeNsec ?? 0);
    const tr = device.setTransfer(cmd.peer, cmd.rx ?? 0, cmd.tx ?? 0);
    return { ok: hs && tr };
  }
  return { error: `unknown command ${JSON.stringify(cmd)}` };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ifname = args[0];
  if (!ifname)
    throw new Error('usage: uapi-device-runner IFNAME [--run-dir DIR] [--max-peers N] [--max-allowed-ips N]');
  const maxPeers = flag(args, '--max-peers');
  const maxAllowedIps = flag(args, '--max-allowed-ips');
  const device = new DeviceConfig({
    ...(maxPeers ? { maxPeers: Number(maxPeers) } : {}),
    ...(maxAllowedIps ? { maxAllowedIps: Number(maxAllowedIps) } : {}),
  });
  const plain = (_k: string, v: unknown): unknown =>
    typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? formatHexKey(v) : v;
  const say = (o: unknown): void => {
    process.stdout.write(`${JSON.stringify(o, plain)}\n`);
  };
  device.onChange((e) => say({ event: e }));
  const server = await UapiServer.start(ifname, device, {
    runDir: flag(args, '--run-dir'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    try {
      say({ reply: run(JSON.parse(line) as Command, device) });
    } catch (err) {
      say({ reply: { error: (err as Error).message } });
    }
  });
  rl.on('close', stop);
  say({ ready: server.path });
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
