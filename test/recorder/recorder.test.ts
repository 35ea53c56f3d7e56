// The recorder end to end in one process: filters programmed by the control-side Recorder,
// frames run through the real pipeline (with the L4 load balancer), rings drained into pcap
// files that are then read back — and tcpdump reads them without complaint.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  Harness,
  C,
  UP,
  PORT_MACS,
  NH_MAC,
  ip,
  eth,
  ipv4,
  ipv6,
  tcp,
  udp,
  icmp4,
  extHeader,
  fragHeader,
  bytes,
  hex,
} from '../datapath/harness.js';
import { LbTables, LbReader } from '../../src/lb/tables.js';
import { maglevSeed, MAGLEV_DEFAULT_SEED } from '../../src/lb/maglev.js';
import { parseAddress, type Address } from '../../src/wire/addr.js';
import { RecorderTables, RecorderReader } from '../../src/recorder/tables.js';
import { Recorder, type RecordingInfo } from '../../src/recorder/recordings.js';
import { RecorderError } from '../../src/recorder/filter.js';
import { readPcap } from './pcap-reader.js';

const addr = (s: string): Address => parseAddress(s)!;
const VIP4 = ip('198.18.100.1');
const VIP6 = ip('2001:db8:18:100::1');
const CLIENT4 = ip('198.18.7.7');
const OTHER4 = ip('198.18.8.8');
const CLIENT6 = ip('2001:db8:7::7');

const lb = new LbTables({ maxServices: 8, maxBackends: 16, tableSize: 251 });
lb.upsert(
  { vip: addr('198.18.100.1'), port: 80, proto: 6 },
  0,
  [{ addr: addr('198.18.50.1'), port: 80, weight: 1 }],
  maglevSeed(MAGLEV_DEFAULT_SEED),
);
lb.upsert(
  { vip: addr('2001:db8:18:100::1'), port: 80, proto: 6 },
  0,
  [{ addr: addr('2001:db8:18::50'), port: 80, weight: 1 }],
  maglevSeed(MAGLEV_DEFAULT_SEED),
);

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(o: { maxMasks?: number; maxFilters?: number; ringBytes?: number } = {}): {
  h: Harness;
  rec: Recorder;
  tables: RecorderTables;
  dir: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'weft-rec-'));
  dirs.push(dir);
  const tables = new RecorderTables({ maxFilters: o.maxFilters ?? 64, workers: 1, ringBytes: o.ringBytes ?? 1 << 20 });
  const h = new Harness({ lb: new LbReader(lb.sabs), recorder: new RecorderReader(tables.sabs, 0) });
  const rec = new Recorder({ node: 'n1', directory: join(dir, 'rec'), maxMasks: o.maxMasks ?? 16, tables });
  return { h, rec, tables, dir };
}

function syn4(src: Uint8Array, sport: number, dport = 80, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return eth(
    PORT_MACS[UP],
    NH_MAC,
    0x0800,
    ipv4({ src, dst: VIP4, proto: 6, df: true }, tcp(src, VIP4, sport, dport, 0x02, payload)),
  );
}

function run(h: Harness, frame: Uint8Array): void {
  h.reset();
  h.learn(UP, 6, ip('2001:db8:18::50'), NH_MAC); // the IPv6 backend, on the uplink's subnet
  const r = h.inject(frame, UP);
  assert.equal(r.error, undefined);
}

function records(info: RecordingInfo): ReturnType<typeof readPcap>['records'] {
  return readPcap(readFileSync(info.file)).records;
}

test('a matching flow is captured as it arrives and again as IPIP toward the backend; tcpdump reads the file', () => {
  const { h, rec } = setup();
  const info = rec.start({ filters: ['198.18.7.0/24 0 198.18.100.1/32 80 TCP'] });
  assert.match(info.file, /\/weft_\d{10}_[0-9a-f]{8}_n1\.pcap$/);
  assert.equal(statSync(info.file).mode & 0o777, 0o600);
  const input = Uint8Array.from(syn4(CLIENT4, 40000, 80, bytes(100)));
  run(h, input);
  run(h, syn4(OTHER4, 40000)); // another client: not recorded
  run(h, syn4(CLIENT4, 40000, 81)); // another port: not recorded
  const done = rec.stop(info.id)!;
  assert.equal(done.state, 'done');
  assert.equal(done.stopReason, 'stopped');
  assert.equal(done.packets, 2);
  const [inb, out] = records(done);
  assert.equal(hex(inb.data), hex(input), 'inbound: the frame as received');
  assert.equal(inb.origLen, input.length);
  assert.equal(out.data[23], 4, 'outbound: IPv4 protocol 4 (IPIP)');
  assert.deepEqual(out.data.subarray(30, 34), ip('198.18.50.1'));
  assert.equal(hex(out.data.subarray(34)), hex(input.subarray(14)), 'the IPIP packet carries the client packet');
  const td = spawnSync('tcpdump', ['-nn', '-r', done.file], { encoding: 'utf8' });
  assert.equal(td.status, 0, td.stderr);
  assert.doesNotMatch(td.stderr, /warning|cut short|truncated/i);
  assert.equal(td.stdout.trim().split('\n').length, 2);
  assert.match(td.stdout, /198\.18\.7\.7\.40000 > 198\.18\.100\.1\.80: Flags \[S\]/);
  assert.match(td.stdout, /> 198\.18\.50\.1: IP 198\.18\.7\.7\.40000 > 198\.18\.100\.1\.80: Flags \[S\]/);
});

test('IPv6: the client packet and the IP6IP6 packet carrying it', () => {
  const { h, rec } = setup();
  const info = rec.start({ filters: ['2001:db8:7::/48 0 2001:db8:18:100::1/128 80 TCP'] });
  const input = eth(
    PORT_MACS[UP],
    NH_MAC,
    0x86dd,
    ipv6(CLIENT6, VIP6, 6, 64, tcp(CLIENT6, VIP6, 40001, 80, 0x02, new Uint8Array(0))),
  );
  run(h, input);
  const [inb, out] = records(rec.stop(info.id)!);
  assert.equal(hex(inb.data), hex(input));
  assert.equal(out.data[20], 41, 'outer next header 41 (IPv6 in IPv6)');
  assert.equal(hex(out.data.subarray(54)), hex(input.subarray(14)));
});

test('partial capture keeps the original length; overlapping recordings each get the packet', () => {
  const { h, rec } = setup();
  const full = rec.start({ filters: ['198.18.7.0/24 0 198.18.100.1/32 80 TCP'] });
  const short = rec.start({ filters: ['198.18.7.7/32 0 198.18.100.1/32 0 ANY'], maxCaptureLen: 64 });
  const input = syn4(CLIENT4, 40002, 80, bytes(500));
  run(h, input);
  const a = records(rec.stop(full.id)!);
  const b = records(rec.stop(short.id)!);
  assert.equal(a.length, 2);
  assert.equal(a[0].capLen, input.length);
  assert.equal(b.length, 2);
  for (const r of b) assert.equal(r.capLen, 64);
  assert.equal(b[0].origLen, input.length);
  assert.equal(b[1].origLen, input.length + 20);
  assert.equal(readFileSync(short.file).readUInt32LE(16), 64, 'snaplen in the file header');
});

test('wildcards: prefix lengths, port 0, ANY, IPv6 extension headers and fragments', () => {
  const { tables, rec } = setup();
  const reader = new RecorderReader(tables.sabs, 0);
  const ids = [
    '198.18.0.0/15 0 198.18.100.1/32 0 ANY',
    '198.18.7.0/24 40000 0.0.0.0/0 0 UDP',
    '198.18.7.7/32 0 198.18.100.0/24 53 UDP',
    '2001:db8::/32 0 2001:db8:18:100::/64 443 TCP',
  ].map((f) => rec.start({ filters: [f] }));
  reader.refresh();
  const bit = (k: number): number => 1 << k;
  const cases: Array<[string, Uint8Array, number]> = [
    ['tcp to VIP', syn4(CLIENT4, 1234), bit(0)],
    [
      'udp 40000→53',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x0800,
        ipv4({ src: CLIENT4, dst: VIP4, proto: 17 }, udp(CLIENT4, VIP4, 40000, 53, bytes(10))),
      ),
      bit(0) | bit(1) | bit(2),
    ],
    [
      'udp 40001→53',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x0800,
        ipv4({ src: CLIENT4, dst: VIP4, proto: 17 }, udp(CLIENT4, VIP4, 40001, 53, bytes(10))),
      ),
      bit(0) | bit(2),
    ],
    [
      'udp 40000→54 from /24 to elsewhere',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x0800,
        ipv4(
          { src: ip('198.18.7.9'), dst: ip('198.18.9.9'), proto: 17 },
          udp(ip('198.18.7.9'), ip('198.18.9.9'), 40000, 54, bytes(10)),
        ),
      ),
      bit(1),
    ],
    [
      'icmp to VIP',
      eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 1 }, icmp4(8, 0, 0x10001, bytes(8)))),
      bit(0),
    ],
    ['from outside the /15', syn4(ip('198.20.0.1'), 1234), 0],
    [
      'later fragment (no ports): only port-wildcard filters',
      eth(PORT_MACS[UP], NH_MAC, 0x0800, ipv4({ src: CLIENT4, dst: VIP4, proto: 17, fragOff: 10 }, bytes(40))),
      bit(0),
    ],
    [
      'ipv6 tcp 443 behind hop-by-hop + dest opts',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x86dd,
        ipv6(
          CLIENT6,
          VIP6,
          0,
          64,
          new Uint8Array([
            ...extHeader(60, 8),
            ...extHeader(6, 16),
            ...tcp(CLIENT6, VIP6, 5000, 443, 2, new Uint8Array(0)),
          ]),
        ),
      ),
      bit(3),
    ],
    [
      'ipv6 tcp 443 first fragment',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x86dd,
        ipv6(
          CLIENT6,
          VIP6,
          44,
          64,
          new Uint8Array([...fragHeader(6, 0, true, 7), ...tcp(CLIENT6, VIP6, 5000, 443, 2, bytes(16))]),
        ),
      ),
      bit(3),
    ],
    [
      'ipv6 tcp 80',
      eth(
        PORT_MACS[UP],
        NH_MAC,
        0x86dd,
        ipv6(CLIENT6, VIP6, 6, 64, tcp(CLIENT6, VIP6, 5000, 80, 2, new Uint8Array(0))),
      ),
      0,
    ],
    ['truncated ipv4', syn4(CLIENT4, 1).subarray(0, 30), 0],
    ['arp', eth(PORT_MACS[UP], NH_MAC, 0x0806, bytes(28)), 0],
  ];
  const slotBits = ids.map((i) => i.id); // recordings 1..4 took slots 0..3
  assert.deepEqual(slotBits, [1, 2, 3, 4]);
  for (const [name, frame, want] of cases) {
    const f = Uint8Array.from(frame);
    assert.equal(reader.classify(f, 0, f.length) >>> 0, want >>> 0, name);
  }
  for (const i of ids) rec.stop(i.id);
  assert.equal(tables.filterCount(), 0, 'stopping removes every filter');
  reader.refresh();
  assert.equal(reader.maskCount, 0);
});

test("classify: a tuple only from headers that pass the views' checks, ports only from inside the packet", () => {
  const { tables, rec } = setup();
  const reader = new RecorderReader(tables.sabs, 0);
  const ids = [
    '198.18.7.7/32 0 198.18.100.1/32 0 ANY',
    '198.18.7.7/32 0 198.18.100.1/32 80 TCP',
    '2001:db8:7::/48 0 2001:db8:18:100::/64 0 ANY',
    '2001:db8:7::/48 0 2001:db8:18:100::/64 443 TCP',
  ].map((f) => rec.start({ filters: [f] }));
  assert.deepEqual(
    ids.map((i) => i.id),
    [1, 2, 3, 4],
    'recordings 1..4 in slots 0..3',
  );
  reader.refresh();
  const v4 = (mutate: (ip: Uint8Array) => void): Uint8Array => {
    const frame = Uint8Array.from(syn4(CLIENT4, 1234));
    mutate(frame.subarray(14));
    return frame;
  };
  const syn6 = (first: number, chain: Uint8Array): Uint8Array =>
    eth(
      PORT_MACS[UP],
      NH_MAC,
      0x86dd,
      ipv6(
        CLIENT6,
        VIP6,
        first,
        64,
        new Uint8Array([...chain, ...tcp(CLIENT6, VIP6, 5000, 443, 2, new Uint8Array(0))]),
      ),
    );
  const ah = Uint8Array.of(6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, ...new Array<number>(12).fill(0)); // (4 + 2) * 4 bytes
  const headerOnly = ipv4({ src: CLIENT4, dst: VIP4, proto: 6 }, new Uint8Array(0));
  const padding = tcp(CLIENT4, VIP4, 1234, 80, 2, new Uint8Array(0)); // looks like ports, is not in the packet
  const padded = eth(PORT_MACS[UP], NH_MAC, 0x0800, new Uint8Array([...headerOnly, ...padding]));
  const hbhSecond = new Uint8Array([...extHeader(0, 8), ...extHeader(6, 8)]);
  const cases: Array<[string, Uint8Array, number]> = [
    ['ipv4 tcp 80', v4(() => {}), 0b0011],
    [
      'ipv4 header checksum wrong: still recorded',
      v4((h) => {
        h[10] ^= 1;
      }),
      0b0011,
    ],
    [
      'ipv4 total length past the frame',
      v4((h) => {
        h[3] += 1;
      }),
      0,
    ],
    ['ipv4 header only, then Ethernet padding', padded, 0b0001],
    ['ipv6 tcp 443', syn6(6, new Uint8Array(0)), 0b1100],
    ['ipv6 payload length past the frame', syn6(6, new Uint8Array(0)).subarray(0, 14 + 40 + 19), 0],
    ['ipv6 tcp 443 behind AH (walked past)', syn6(51, ah), 0b1100],
    ['ipv6 hop-by-hop second: refused chain, no ports', syn6(0, hbhSecond), 0b0100],
  ];
  for (const [name, frame, want] of cases) {
    const f = Uint8Array.from(frame);
    assert.equal(reader.classify(f, 0, f.length), want, name);
  }
  for (const i of ids) rec.stop(i.id);
});

test('--packet-limit stops at exactly N packets', () => {
  const { h, rec } = setup();
  const info = rec.start({ filters: ['198.18.7.7/32 0 198.18.100.1/32 80 TCP'], packetLimit: 5 });
  for (let i = 0; i < 4; i++) run(h, syn4(CLIENT4, 41000 + i)); // 8 captures (in + out)
  rec.drain();
  const done = rec.get(info.id)!;
  assert.equal(done.state, 'done');
  assert.equal(done.stopReason, 'packet-limit');
  assert.equal(records(done).length, 5);
  run(h, syn4(CLIENT4, 42000));
  rec.drain();
  assert.equal(records(done).length, 5, 'nothing after the limit');
});

test('--bytes-limit never writes past N captured bytes', () => {
  const { h, rec } = setup();
  const input = syn4(CLIENT4, 43000, 80, bytes(200));
  const info = rec.start({ filters: ['198.18.7.7/32 0 198.18.100.1/32 80 TCP'], bytesLimit: 3 * input.length });
  for (let i = 0; i < 3; i++) run(h, input);
  rec.drain();
  const done = rec.get(info.id)!;
  assert.equal(done.stopReason, 'bytes-limit');
  assert.ok(done.bytes <= 3 * input.length);
  assert.equal(records(done).length, 2, 'in (234 B) + out (254 B) fit, the next in would not');
});

test('a full ring loses captures (counted) and never the packet', () => {
  const { h, rec } = setup({ ringBytes: 8192 });
  const info = rec.start({ filters: ['198.18.7.7/32 0 198.18.100.1/32 80 TCP'] });
  let forwarded = 0;
  for (let i = 0; i < 40; i++) {
    h.reset();
    const r = h.inject(syn4(CLIENT4, 44000 + i, 80, bytes(1000)), UP);
    forwarded += r.delta[C.forwarded];
  }
  assert.equal(forwarded, 40, 'every packet forwarded');
  const lost = rec.get(info.id)!.lost;
  assert.ok(lost > 40, `lost ${lost}`);
  assert.equal(h.dp.ctr[C.recorderLost], lost);
  const done = rec.stop(info.id)!;
  assert.equal(done.packets + done.lost, 80);
  assert.equal(records(done).length, done.packets);
});

test('10 000 filters under 2 masks: a non-matching packet matches nothing, a listed one its recording', () => {
  const { tables, rec } = setup({ maxFilters: 16384 });
  const filters: string[] = [];
  for (let i = 0; i < 5000; i++)
    filters.push(`198.18.${(i >> 8) & 255}.${i & 255}/32 0 198.18.100.1/32 ${1000 + (i % 7)} UDP`);
  for (let i = 0; i < 5000; i++) filters.push(`198.19.${(i >> 8) & 255}.0/24 ${2000 + i} 198.18.100.0/24 0 UDP`);
  const info = rec.start({ filters });
  assert.equal(rec.usage().masks, 2);
  assert.equal(tables.filterCount(), 10000);
  const reader = new RecorderReader(tables.sabs, 0);
  reader.refresh();
  const f1 = Uint8Array.from(
    eth(
      PORT_MACS[UP],
      NH_MAC,
      0x0800,
      ipv4(
        { src: ip('198.18.1.44'), dst: VIP4, proto: 17 },
        udp(ip('198.18.1.44'), VIP4, 9, 1000 + (300 % 7), bytes(4)),
      ),
    ),
  );
  assert.equal(reader.classify(f1, 0, f1.length), 1, 'slot 0: the first recording');
  const f2 = Uint8Array.from(
    eth(
      PORT_MACS[UP],
      NH_MAC,
      0x0800,
      ipv4({ src: ip('198.18.1.44'), dst: VIP4, proto: 17 }, udp(ip('198.18.1.44'), VIP4, 9, 999, bytes(4))),
    ),
  );
  assert.equal(reader.classify(f2, 0, f2.length), 0);
  const f3 = Uint8Array.from(
    eth(
      PORT_MACS[UP],
      NH_MAC,
      0x0800,
      ipv4(
        { src: ip('198.19.3.9'), dst: ip('198.18.100.77'), proto: 17 },
        udp(ip('198.19.3.9'), ip('198.18.100.77'), 2000 + 800, 5, bytes(4)),
      ),
    ),
  );
  assert.notEqual(reader.classify(f3, 0, f3.length), 0);
  rec.stop(info.id);
});

test('bad requests start nothing: mask cap, full filter table, unwritable directory, bad options', () => {
  const { rec, tables, dir } = setup({ maxMasks: 2, maxFilters: 4 });
  const files = (): string[] => {
    try {
      return readdirSync(join(dir, 'rec'));
    } catch {
      return [];
    }
  };
  assert.throws(
    () =>
      rec.start({
        filters: [
          '198.18.7.0/24 0 198.18.100.1/32 80 TCP',
          '198.18.7.0/25 0 198.18.100.1/32 80 TCP',
          '198.18.7.0/26 0 198.18.100.1/32 80 TCP',
        ],
      }),
    (e: Error) => e instanceof RecorderError && /need 3 new filter masks.*at most 2/.test(e.message),
  );
  assert.throws(
    () =>
      rec.start({
        filters: [
          '198.18.7.1/32 0 198.18.100.1/32 80 TCP',
          '198.18.7.2/32 0 198.18.100.1/32 80 TCP',
          '198.18.7.3/32 0 198.18.100.1/32 80 TCP',
          '198.18.7.4/32 0 198.18.100.1/32 80 TCP',
          '198.18.7.5/32 0 198.18.100.1/32 80 TCP',
        ],
      }),
    (e: Error) => e instanceof RecorderError && /filter table is full/.test(e.message),
  );
  assert.throws(
    () => rec.start({ filters: ['198.18.7.1/32 0 198.18.100.1/32 80 TCP'], maxCaptureLen: -1 }),
    /maxCaptureLen must be an integer/,
  );
  assert.throws(
    () => rec.start({ filters: ['198.18.7.1/32 0 198.18.100.1/32 80 TCP'], filePrefix: '../x' }),
    /file prefix/,
  );
  assert.throws(
    () => rec.start({ filters: ['198.18.7.1/32 0 198.18.100.1/32 80 TCP', '198.18.7.1/32 0 198.18.100.1/32 80 TCP'] }),
    /given twice/,
  );
  assert.deepEqual(files(), [], 'no file left behind');
  assert.equal(tables.filterCount(), 0, 'no filter left behind');
  assert.deepEqual(rec.list(), []);
  const blocker = join(dir, 'not-a-dir');
  writeFileSync(blocker, '');
  const r2 = new Recorder({ node: 'n1', directory: join(blocker, 'rec'), maxMasks: 4, tables });
  assert.throws(
    () => r2.start({ filters: ['198.18.7.1/32 0 198.18.100.1/32 80 TCP'] }),
    (e: Error) => e instanceof RecorderError && /recording directory .*not-a-dir\/rec/.test(e.message),
  );
  assert.equal(tables.filterCount(), 0);
});
