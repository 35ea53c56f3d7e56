// Handshake load generator for npm run bench: many WireGuard initiators (distinct static keys
// the responder knows as peers, each on its own source address) send real initiations to one
// responder and count the valid responses. It behaves as real initiators would, only faster:
// at most one initiation outstanding per peer, never two from one peer within 25 ms (the
// responder refuses initiations closer than 20 ms as a flood), a cookie reply is consumed and
// the same initiation sent again with MAC2, an unanswered initiation is given up after
// timeoutMs. `window` bounds the initiations outstanding over all peers.
//
//   node wg-handshakes.js CONFIG.json   → one JSON line per phase, then {"done":true}
//
// CONFIG: { target: {address, port}, responderPublicKey (base64), peers: [{privateKey, source}],
//           phases: [{window, secs}], perPeer (initiations made per peer, before any phase),
//           spacingMs?, timeoutMs?, verifyEvery? (check every Nth response with the initiator's
//           full consumeResponse; the others are counted on receiver index and size) }
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { makeInitiations, checkResponse, type InitiatorPeer, type Initiation } from './wg-initiations.js';

interface Config {
  target: { address: string; port: number };
  responderPublicKey: string;
  peers: Array<{ privateKey: string; source: string }>;
  phases: Array<{ window: number; secs: number }>;
  perPeer: number;
  spacingMs?: number;
  timeoutMs?: number;
  verifyEvery?: number;
}

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Config;
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const spacing = cfg.spacingMs ?? 25;
const timeoutMs = cfg.timeoutMs ?? 1000;
const verifyEvery = cfg.verifyEvery ?? 16;

interface PeerState {
  p: InitiatorPeer;
  sock: Socket;
  next: number; // index of the next initiation to send
  out: Initiation | null;
  sentAt: number;
  allowedAt: number;
}

const tGen = performance.now();
const peers = makeInitiations(
  cfg.peers.map((p) => b64(p.privateKey)),
  b64(cfg.responderPublicKey),
  cfg.perPeer,
  Date.now(),
);
const genMs = performance.now() - tGen;

let onMessage: (s: PeerState, m: Buffer) => void = () => {};

async function bindAll(): Promise<PeerState[]> {
  return Promise.all(
    peers.map(
      (p, i) =>
        new Promise<PeerState>((resolve, reject) => {
          const sock = createSocket('udp4');
          const s: PeerState = { p, sock, next: 0, out: null, sentAt: 0, allowedAt: 0 };
          sock.on('message', (m) => onMessage(s, m));
          sock.once('error', reject);
          sock.bind({ address: cfg.peers[i].source, port: 0 }, () => resolve(s));
        }),
    ),
  );
}

interface PhaseResult {
  window: number;
  secs: number;
  sent: number;
  completed: number;
  handshakes_per_s: number;
  cookies: number;
  resent: number;
  timeouts: number;
  verified: number;
  verifyFailed: number;
  ranOut: boolean;
}

function phase(states: PeerState[], window: number, secs: number): Promise<PhaseResult> {
  return new Promise((resolve) => {
    const r: PhaseResult = {
      window,
      secs,
      sent: 0,
      completed: 0,
      handshakes_per_s: 0,
      cookies: 0,
      resent: 0,
      timeouts: 0,
      verified: 0,
      verifyFailed: 0,
      ranOut: false,
    };
    const ready: PeerState[] = states.filter((s) => s.next < s.p.initiations.length);
    let outstanding = 0;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const t0 = performance.now();
    const end = t0 + secs * 1000;
    const send = (s: PeerState, now: number): void => {
      const init = s.out!;
      s.p.cookies.addMacs(init.msg, now); // MAC1 again (the cookie reply checks it), MAC2 if a cookie is held
      s.sentAt = now;
      s.sock.send(init.msg, cfg.target.port, cfg.target.address);
    };
    const release = (s: PeerState, now: number): void => {
      s.out = null;
      outstanding--;
      s.allowedAt = Math.max(now, s.sentAt + spacing);
      if (s.next < s.p.initiations.length) ready.push(s);
    };
    const pump = (): void => {
      if (finished) return;
      const now = performance.now();
      if (now >= end) {
        finish(now);
        return;
      }
      while (outstanding < window && ready.length > 0 && ready[0].allowedAt <= now) {
        const s = ready.shift()!;
        s.out = s.p.initiations[s.next++];
        outstanding++;
        r.sent++;
        send(s, now);
      }
      if (outstanding === 0 && ready.length === 0) {
        r.ranOut = true;
        finish(now);
        return;
      }
      clearTimeout(timer);
      if (outstanding < window && ready.length > 0)
        timer = setTimeout(pump, Math.max(0, Math.min(ready[0].allowedAt, end) - now));
      else timer = setTimeout(pump, Math.max(0, end - now));
    };
    const finish = (now: number): void => {
      finished = true;
      clearTimeout(timer);
      clearInterval(sweep);
      r.handshakes_per_s = Math.round(r.completed / ((now - t0) / 1000));
      for (const s of states) if (s.out) s.out = null;
      onMessage = () => {};
      resolve(r);
    };
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const s of states) {
        if (s.out && now - s.sentAt > timeoutMs) {
          r.timeouts++;
          release(s, now);
        }
      }
      pump();
    }, 50);
    onMessage = (s, m) => {
      const init = s.out;
      if (init === null || m.length < 12) return;
      const now = performance.now();
      const type = m[0];
      const receiver = m.readUInt32LE(8);
      if (type === 2 && m.length === 92 && receiver === init.senderIndex) {
        r.completed++;
        if (r.completed % verifyEvery === 0) {
          if (checkResponse(s.p, init, new Uint8Array(m))) r.verified++;
          else r.verifyFailed++;
        }
        release(s, now);
        pump();
      } else if (type === 3 && m.length === 64 && m.readUInt32LE(4) === init.senderIndex) {
        r.cookies++;
        if (s.p.cookies.consumeReply(new Uint8Array(m), now)) {
          r.resent++;
          send(s, now);
        }
      }
    };
    pump();
  });
}

async function main(): Promise<void> {
  const states = await bindAll();
  process.stdout.write(`${JSON.stringify({ generated: peers.length * cfg.perPeer, genMs: Math.round(genMs) })}\n`);
  for (const ph of cfg.phases) {
    const r = await phase(states, ph.window, ph.secs);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    // Let stragglers of this phase arrive and be ignored, and every peer's flood interval pass.
    await new Promise((res) => setTimeout(res, 300));
  }
  for (const s of states) s.sock.close();
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`wg-handshakes: ${e.stack}\n`);
  process.exit(1);
});
