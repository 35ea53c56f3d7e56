// Sends or receives numbered UDP datagrams so a test can prove every packet arrived once.
//   node udp-seq.js recv PORT COUNT             → prints {"received":N,"duplicates":D,"missing":M}
//   node udp-seq.js send HOST PORT COUNT FLOWS  → COUNT datagrams over FLOWS source ports
import { createSocket, type Socket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);

function recv(port: number, count: number): void {
  const seen = new Uint8Array(count);
  let received = 0;
  let duplicates = 0;
  let idle: NodeJS.Timeout | undefined;
  const sock = createSocket(port > 0 && args[2] === '6' ? 'udp6' : 'udp4');
  const finish = (): void => {
    sock.close();
    process.stdout.write(`${JSON.stringify({ received, duplicates, missing: count - received })}\n`);
  };
  sock.on('message', (m) => {
    if (m.length < 4) return;
    const seq = m.readUInt32BE(0);
    if (seq >= count) return;
    if (seen[seq]) duplicates++;
    else {
      seen[seq] = 1;
      received++;
    }
    clearTimeout(idle);
    idle = setTimeout(finish, 1500);
    if (received === count) {
      clearTimeout(idle);
      idle = setTimeout(finish, 500); // still count late duplicates
    }
  });
  sock.bind(port, () => process.stdout.write('ready\n'));
  setTimeout(finish, 60000).unref();
}

async function send(host: string, port: number, count: number, flows: number): Promise<void> {
  const family = host.includes(':') ? 'udp6' : 'udp4';
  const socks: Socket[] = [];
  for (let i = 0; i < flows; i++) {
    const s = createSocket(family);
    await new Promise<void>((r) => s.bind(0, r));
    socks.push(s);
  }
  const buf = Buffer.alloc(64);
  for (let seq = 0; seq < count; seq++) {
    buf.writeUInt32BE(seq, 0);
    await new Promise<void>((r, j) => socks[seq % flows].send(buf, port, host, (e) => (e ? j(e) : r())));
    // Pace to ~20k datagrams/s so loss can only come from the dataplane, not socket buffers.
    if (seq % 100 === 99) await new Promise((r) => setTimeout(r, 5));
  }
  for (const s of socks) s.close();
}

if (mode === 'recv') recv(Number(args[0]), Number(args[1]));
else if (mode === 'send') void send(args[0], Number(args[1]), Number(args[2]), Number(args[3]));
else {
  process.stderr.write('usage: udp-seq recv PORT COUNT [6] | send HOST PORT COUNT FLOWS\n');
  process.exitCode = 2;
}
