// A WireGuard peer made of Weft's protocol core and a plain node:dgram socket, for interop
// tests against wireguard-go. One JSON argument configures it; it prints one JSON object per
// line (events, then {"done": ...}) and exits by itself (bounded by timeoutMs).
//
//   initiate: handshake with the peer at `endpoint`, send `pings` ICMP echo requests per
//             family through the tunnel, wait for the replies and check them.
//   respond:  wait for the peer to initiate, answer every echo request that arrives through
//             the tunnel, exit once `answer` of them were answered.
//
// `fixed` (optional) pins the first ephemeral key, sender index and timestamp, so the first
// initiation is the golden one of test/fixtures/wireguard/transcript.json.
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Tunnel, type TunnelAction, type Endpoint } from '../../src/wireguard/tunnel.js';
import { systemRng, type Rng } from '../../src/wireguard/x25519.js';
import { echoRequest, echoReply, parseEcho, normalizeAddress } from './wg-icmp.js';

interface Config {
  mode: 'initiate' | 'respond';
  privateKey: string;
  peerPublicKey: string;
  presharedKey?: string;
  listenPort: number;
  endpoint?: Endpoint;
  local4: string;
  peer4: string;
  local6: string;
  peer6: string;
  pings?: number;
  answer?: number;
  timeoutMs: number;
  fixed?: { ephemeral: string; index: number; wallMs: number };
}

const cfg = JSON.parse(process.argv[2]) as Config;
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const emit = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

// Injected randomness: the pinned values first (if any), then the system's.
let rng: Rng = systemRng;
let wallClock = Date.now;
if (cfg.fixed) {
  const eph = new Uint8Array(Buffer.from(cfg.fixed.ephemeral, 'hex'));
  const idx = new Uint8Array(4);
  new DataView(idx.buffer).setUint32(0, cfg.fixed.index, true);
  const pending = new Map<number, Uint8Array>([
    [32, eph],
    [4, idx],
  ]);
  rng = (n) => {
    const v = pending.get(n);
    if (v) {
      pending.delete(n);
      return v;
    }
    return systemRng(n);
  };
  let first = true;
  wallClock = () => {
    if (first) {
      first = false;
      return cfg.fixed!.wallMs;
    }
    return Date.now();
  };
}

const tunnel = new Tunnel({
  privateKey: b64(cfg.privateKey),
  peerPublicKey: b64(cfg.peerPublicKey),
  presharedKey: cfg.presharedKey ? b64(cfg.presharedKey) : undefined,
  endpoint: cfg.endpoint ?? null,
  rng,
  wallClock,
});

const sock = createSocket('udp4');
const now = (): number => performance.now();
const errors: Record<string, number> = {};
const replies = new Set<string>();
let answered = 0;
let handshakes = 0;
let finished = false;
let transportsShown = 0;

function act(actions: TunnelAction[]): void {
  for (const a of actions) {
    if (a.type === 'network') {
      if (a.kind === 'initiation' || a.kind === 'response') emit({ event: 'sent', kind: a.kind, hex: hex(a.packet) });
      sock.send(a.packet, a.endpoint.port, a.endpoint.address);
    } else if (a.type === 'error') {
      errors[a.reason] = (errors[a.reason] ?? 0) + 1;
      emit({ event: 'error', reason: a.reason });
    } else if (a.type === 'event') {
      if (a.event === 'handshakeComplete') {
        handshakes++;
        emit({ event: 'handshakeComplete' });
      }
    } else {
      onTunnelPacket(a.packet);
    }
  }
}

function onTunnelPacket(p: Uint8Array): void {
  const e = parseEcho(p);
  if (e === null) {
    emit({ event: 'tunnelPacket', family: p[0] >> 4, len: p.length });
    return;
  }
  emit({ event: 'echo', ...e });
  const local = e.family === 4 ? normalizeAddress(cfg.local4) : normalizeAddress(cfg.local6);
  const peer = e.family === 4 ? normalizeAddress(cfg.peer4) : normalizeAddress(cfg.peer6);
  if (e.type === 'reply' && e.src === peer && e.dst === local && e.checksumOk && e.payloadOk) {
    replies.add(`${e.family}/${e.seq}`);
    if (cfg.mode === 'initiate' && replies.size === 2 * (cfg.pings ?? 1)) finish(true);
  }
  if (e.type === 'request' && e.dst === local && e.checksumOk) {
    act(tunnel.encapsulate(echoReply(p), now()));
    answered++;
    if (cfg.mode === 'respond' && answered >= (cfg.answer ?? 1)) setTimeout(() => finish(true), 300);
  }
}

function finish(ok: boolean): void {
  if (finished) return;
  finished = true;
  clearInterval(ticker);
  clearTimeout(deadline);
  emit({
    done: ok,
    handshakes,
    replies: [...replies].sort(),
    answered,
    errors,
    rxBytes: tunnel.rxBytes,
    txBytes: tunnel.txBytes,
  });
  sock.close();
}

sock.on('message', (msg, rinfo) => {
  if (msg.length > 0 && msg[0] === 1)
    emit({ event: 'received', kind: 'initiation', hex: msg.toString('hex'), from: `${rinfo.address}:${rinfo.port}` });
  if (msg.length > 0 && msg[0] === 2) emit({ event: 'received', kind: 'response', hex: msg.toString('hex') });
  if (msg.length > 0 && msg[0] === 4 && transportsShown++ < 3)
    emit({ event: 'received', kind: 'transport', hex: msg.toString('hex') });
  act(
    tunnel.decapsulate(
      new Uint8Array(msg.buffer, msg.byteOffset, msg.length),
      { address: rinfo.address, port: rinfo.port },
      now(),
    ),
  );
});

const ticker = setInterval(() => act(tunnel.tick(now())), 50);
const deadline = setTimeout(() => finish(false), cfg.timeoutMs);

sock.bind(cfg.listenPort, () => {
  emit({ event: 'listening', port: cfg.listenPort });
  if (cfg.mode === 'initiate') {
    const n = cfg.pings ?? 1;
    for (let seq = 1; seq <= n; seq++) {
      act(tunnel.encapsulate(echoRequest(cfg.local4, cfg.peer4, 0x5746, seq), now()));
      act(tunnel.encapsulate(echoRequest(cfg.local6, cfg.peer6, 0x5746, seq), now()));
    }
  }
});
