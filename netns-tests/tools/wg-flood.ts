// A flood of forged WireGuard initiations, for the flood acceptance test: 148-byte type-1
// messages with random contents (sender index, ephemeral, sealed static and timestamp) and a
// *valid MAC1* — MAC1 needs only the responder's public key, so any attacker can compute it,
// and without cookies each such message would cost the responder a Diffie-Hellman — from
// several source addresses and ports, at a steady rate. MAC2 is random: it never verifies.
// Counts what comes back (cookie replies, anything else) and prints one JSON line per second
// and a last one at the end:
//   {"t": seconds, "sent": n, "sendErrors": n, "cookieReplies": n, "otherReplies": n}
//
// node dist/netns-tests/tools/wg-flood.js --target 198.18.2.1:51871 --public-key <base64>
//   --sources 198.18.2.2,198.18.2.3 [--ports-per-source 4] [--rate 5000] [--seconds 30]
import dgram from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import { hash, mac } from '../../src/wireguard/crypto.js';
import {
  LABEL_MAC1,
  MSG_INITIATION,
  MSG_INITIATION_SIZE,
  MSG_COOKIE_REPLY,
  MSG_COOKIE_REPLY_SIZE,
  MAC_LEN,
} from '../../src/wireguard/constants.js';

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (def === undefined) {
    process.stderr.write(`wg-flood: --${name} is required\n`);
    process.exit(2);
  }
  return def;
}

const [host, portText] = arg('target').split(/:(?=\d+$)/);
const port = Number(portText);
const responderPublic = new Uint8Array(Buffer.from(arg('public-key'), 'base64'));
const sources = arg('sources').split(',').filter(Boolean);
const portsPerSource = Number(arg('ports-per-source', '4'));
const rate = Number(arg('rate', '5000'));
const seconds = Number(arg('seconds', '30'));
if (responderPublic.length !== 32 || !port || sources.length === 0) {
  process.stderr.write('wg-flood: bad arguments\n');
  process.exit(2);
}

const mac1Key = hash(new TextEncoder().encode(LABEL_MAC1), responderPublic);
const m1 = MSG_INITIATION_SIZE - 2 * MAC_LEN;
const st = { sent: 0, sendErrors: 0, cookieReplies: 0, otherReplies: 0 };

function forged(): Buffer {
  const msg = Buffer.alloc(MSG_INITIATION_SIZE);
  randomFillSync(msg, 4);
  msg[0] = MSG_INITIATION;
  msg[1] = msg[2] = msg[3] = 0;
  msg.set(mac(mac1Key, msg.subarray(0, m1)), m1);
  return msg;
}

async function bind(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
  s.on('message', (m) => {
    if (m.length === MSG_COOKIE_REPLY_SIZE && m[0] === MSG_COOKIE_REPLY) st.cookieReplies++;
    else st.otherReplies++;
  });
  s.on('error', () => st.sendErrors++);
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  return s;
}

const sockets: dgram.Socket[] = [];
for (const a of sources) for (let i = 0; i < portsPerSource; i++) sockets.push(await bind(a));

const start = performance.now();
let next = 0;
let lastReport = 0;
const report = (): void => {
  process.stdout.write(`${JSON.stringify({ t: Math.round((performance.now() - start) / 100) / 10, ...st })}\n`);
};

await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed >= seconds) {
      clearInterval(timer);
      resolve();
      return;
    }
    // Catch up to the rate, at most 100 ms worth at once.
    const due = Math.min(Math.floor(elapsed * rate), st.sent + rate / 10);
    while (st.sent < due) {
      const s = sockets[next];
      next = (next + 1) % sockets.length;
      st.sent++;
      s.send(forged(), port, host, (e) => {
        if (e) st.sendErrors++;
      });
    }
    if (elapsed - lastReport >= 1) {
      lastReport = Math.floor(elapsed);
      report();
    }
  }, 5);
});
// Late replies.
await new Promise((r) => setTimeout(r, 300));
report();
for (const s of sockets) s.close();
