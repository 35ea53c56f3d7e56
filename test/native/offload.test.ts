// The shim's offloads (native-shims/offload.c and the vnet paths of weft_native.c) against
// the kernel's own: super-frames written into a TAP with offloads are bridged to a TAP without
// (the kernel segments them and finishes their checksums: the reference) and to a TAP with
// offloads (they arrive whole, with their virtio_net_hdr). gsoSplit / csumFill must produce the
// reference byte for byte. Needs root, /dev/net/tun and iproute2; everything stays inside one
// namespace of its own (wtgso-PID) with a bridge, and only 198.18.250.0/24 / 2001:db8:250::/64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  loadNative,
  isNativeError,
  GSO_TCP4,
  GSO_TCP6,
  GSO_UDP4,
  GSO_UDP6,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  VNET_WORDS,
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
  VNET_HDR_LEN,
} from '../../src/native/tap.js';
import { writeEthernet } from '../../src/wire/ethernet.js';
import { writeIpv4Header } from '../../src/wire/ipv4.js';
import { writeIpv6Header } from '../../src/wire/ipv6.js';
import { sum16, pseudoSum4, pseudoSum6 } from '../../src/wire/checksum.js';
import { put16, get16 } from '../../src/wire/bytes.js';

const n = loadNative();
const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun') && spawnSync('ip', ['-V']).status === 0;
const LAB = { timeout: 60_000, skip: canTap ? false : 'needs root, /dev/net/tun and iproute2' };

// virtio_net_hdr values (include/uapi/linux/virtio_net.h).
const NEEDS_CSUM = 1;
const GSO_NONE = 0;
const VIRTIO_TCPV4 = 1;
const VIRTIO_TCPV6 = 4;
const VIRTIO_UDP_L4 = 5;
const VIRTIO_ECN = 0x80;

const DST_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x99]); // unknown to the bridge: flooded
const SRC_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x0a]);
const SRC4 = Uint8Array.from([198, 18, 250, 1]);
const DST4 = Uint8Array.from([198, 18, 250, 2]);
const SRC6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x02, 0x50, 0, 0, 0, 0, 0, 0, 0, 1]);
const DST6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x02, 0x50, 0, 0, 0, 0, 0, 0, 0, 2]);

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

interface SuperFrame {
  frame: Uint8Array;
  kind: number;
  l3: number;
  l4: number;
  payload: number;
  vnet: Int32Array;
}

/**
 * A TCP or UDP super-frame as a sender with offloads hands it over: IP lengths of the whole,
 * the L4 checksum field holding the pseudo-header sum (not complemented), csum_start/offset set.
 */
function superFrame(opts: {
  v6: boolean;
  udp: boolean;
  payload: number;
  mss: number;
  tcpOptions?: number;
  flags?: number;
  gso?: boolean;
}): SuperFrame {
  const l3 = 14;
  const l4 = l3 + (opts.v6 ? 40 : 20);
  const l4h = opts.udp ? 8 : 20 + (opts.tcpOptions ?? 0);
  const payload = l4 + l4h;
  const f = new Uint8Array(payload + opts.payload);
  writeEthernet(f, 0, DST_MAC, 0, SRC_MAC, 0, opts.v6 ? 0x86dd : 0x0800);
  const proto = opts.udp ? 17 : 6;
  const l4len = f.length - l4;
  if (opts.v6) writeIpv6Header(f, l3, l4len, proto, 64, SRC6, 0, DST6, 0);
  else writeIpv4Header(f, l3, f.length - l3, 0x1234, true, 64, proto, SRC4, 0, DST4, 0);
  put16(f, l4, 40000);
  put16(f, l4 + 2, 5201);
  if (opts.udp) {
    put16(f, l4 + 4, l4len);
  } else {
    f.set([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0], l4 + 4); // seq, ack
    f[l4 + 12] = (l4h / 4) << 4;
    f[l4 + 13] = opts.flags ?? 0x18; // ACK|PSH
    put16(f, l4 + 14, 65000);
    for (let i = 0; i < (opts.tcpOptions ?? 0); i++) f[l4 + 20 + i] = i % 4 === 0 ? 1 : 8 + i; // NOPs and bytes
    if ((opts.tcpOptions ?? 0) >= 12) f.set([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9], l4 + 20); // NOP NOP timestamps
  }
  for (let i = payload; i < f.length; i++) f[i] = (i * 7 + 3) & 0xff;
  const pseudo = opts.v6 ? pseudoSum6(f, l3, proto, l4len) : pseudoSum4(f, l3, proto, l4len);
  const field = l4 + (opts.udp ? 6 : 16);
  put16(f, field, fold(pseudo));
  const vnet = new Int32Array(VNET_WORDS);
  vnet[VNET_FLAGS] = NEEDS_CSUM;
  const gso = opts.gso ?? true;
  vnet[VNET_GSO_TYPE] = !gso
    ? GSO_NONE
    : opts.udp
      ? VIRTIO_UDP_L4
      : (opts.v6 ? VIRTIO_TCPV6 : VIRTIO_TCPV4) | ((opts.flags ?? 0) & 0x80 ? VIRTIO_ECN : 0);
  vnet[VNET_HDR_LEN] = payload;
  vnet[VNET_GSO_SIZE] = gso ? opts.mss : 0;
  vnet[VNET_CSUM_START] = l4;
  vnet[VNET_CSUM_OFFSET] = opts.udp ? 6 : 16;
  const kind = opts.v6 ? (opts.udp ? GSO_UDP6 : GSO_TCP6) : opts.udp ? GSO_UDP4 : GSO_TCP4;
  return { frame: f, kind, l3, l4, payload, vnet };
}

/** What gsoSplit makes of a super-frame, as separate frames. */
function ourSegments(s: SuperFrame): Uint8Array[] {
  const stride = 2048;
  const buf = new Uint8Array(s.frame.length + 64 * stride);
  buf.set(s.frame, 0);
  const lens = new Int32Array(64);
  const dst = s.frame.length;
  const count = n.gsoSplit(
    buf,
    0,
    s.frame.length,
    s.kind,
    s.l3,
    s.l4,
    s.payload,
    s.vnet[VNET_GSO_SIZE]!,
    dst,
    stride,
    64,
    lens,
    0,
  );
  return Array.from({ length: count }, (_, i) => buf.slice(dst + i * stride, dst + i * stride + lens[i]!));
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

interface Lab {
  ns: string;
  /** Writes here (offloads on). */
  a: number;
  /** The kernel segments for this one (offloads off). */
  b: number;
  /** Super-frames arrive whole here (offloads on). */
  c: number;
  offloads: number;
}

async function withLab(fn: (lab: Lab) => Promise<void> | void): Promise<void> {
  const ns = `wtgso-${process.pid}`;
  const base = `wtg${process.pid % 100000}`;
  const ta = n.tapOpen(`${base}a`, 1, true);
  const tb = n.tapOpen(`${base}b`, 1);
  const tc = n.tapOpen(`${base}c`, 1, true);
  try {
    sh('ip', ['netns', 'add', ns]);
    const x = (...a: string[]): void => sh('ip', ['netns', 'exec', ns, ...a]);
    x('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    sh('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    for (const t of [ta, tb, tc]) {
      sh('ip', ['link', 'set', t.name, 'netns', ns]);
      sh('ip', ['-n', ns, 'link', 'set', t.name, 'master', 'br0', 'up']);
    }
    sh('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    await fn({ ns, a: ta.fds[0]!, b: tb.fds[0]!, c: tc.fds[0]!, offloads: ta.offloads });
  } finally {
    for (const t of [ta, tb, tc]) for (const fd of t.fds) n.close(fd);
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

const ARENA_SLOT = 70_000;
const arena = new Uint8Array(ARENA_SLOT * 64);
const lens = new Int32Array(64);
const vnets = new Int32Array(64 * VNET_WORDS);
const desc = new Int32Array(2);

/** Frames now queued on fd (those of our test MAC only), with their vnet headers when `vnet`. */
function drain(fd: number, vnet: boolean): { frame: Uint8Array; vnet: Int32Array }[] {
  const out: { frame: Uint8Array; vnet: Int32Array }[] = [];
  const ready = new Int32Array(1);
  const fds = Int32Array.of(fd);
  for (let rounds = 0; rounds < 50; rounds++) {
    const got = n.rxBatch(fd, arena, 0, 64, ARENA_SLOT, 0, lens, vnet ? vnets : undefined);
    for (let i = 0; i < got; i++) {
      const f = arena.slice(i * ARENA_SLOT, i * ARENA_SLOT + lens[i]!);
      if (f[5] === DST_MAC[5] && f[11] === SRC_MAC[5]) {
        out.push({ frame: f, vnet: vnets.slice(i * VNET_WORDS, (i + 1) * VNET_WORDS) });
      }
    }
    if (got === 0 && n.wait(fds, 1, out.length > 0 ? 20 : 200, ready) === 0 && out.length > 0) break;
  }
  return out;
}

function send(fd: number, s: SuperFrame): void {
  arena.set(s.frame, 0);
  desc[0] = 0;
  desc[1] = s.frame.length;
  assert.equal(n.txBatch(fd, arena, desc, 0, 1, undefined, s.vnet), 1);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const CASES: { name: string; opts: Parameters<typeof superFrame>[0] }[] = [
  { name: 'TCP/IPv4', opts: { v6: false, udp: false, payload: 20000, mss: 1460 } },
  {
    name: 'TCP/IPv4 with timestamps, FIN|PSH|ACK, a short last segment',
    opts: { v6: false, udp: false, payload: 9999, mss: 1448, tcpOptions: 12, flags: 0x19 },
  },
  { name: 'TCP/IPv4 with CWR (ECN)', opts: { v6: false, udp: false, payload: 6000, mss: 1460, flags: 0x98 } },
  { name: 'TCP/IPv6', opts: { v6: true, udp: false, payload: 30000, mss: 1440 } },
  { name: 'TCP/IPv6 with timestamps', opts: { v6: true, udp: false, payload: 5000, mss: 1428, tcpOptions: 12 } },
  { name: 'UDP/IPv4 (USO)', opts: { v6: false, udp: true, payload: 8000, mss: 1472 } },
  { name: 'UDP/IPv6 (USO), a short last datagram', opts: { v6: true, udp: true, payload: 7001, mss: 1452 } },
];

test('offloads: a TAP opened with offloads takes checksum and TSO offloads; bad arguments are refused', LAB, () => {
  const t = n.tapOpen(`wtgo${process.pid % 100000}`, 2, true);
  try {
    assert.equal(t.fds.length, 2);
    assert.equal(t.offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
  } finally {
    for (const fd of t.fds) n.close(fd);
  }
  assert.throws(
    () => n.tapOpen('wtgox', 1, 1 as unknown as boolean),
    (e) => isNativeError(e, 'EINVAL'),
  );
});

test('gsoSplit and csumFill refuse what does not fit, before writing anything', () => {
  const s = superFrame({ v6: false, udp: false, payload: 3000, mss: 1000 });
  const buf = new Uint8Array(16384);
  buf.set(s.frame, 0);
  const before = buf.slice();
  const l = new Int32Array(8);
  const bad = (f: () => unknown): void => {
    assert.throws(f, (e) => isNativeError(e, 'EINVAL'));
    assert.deepEqual(buf, before);
  };
  const len = s.frame.length;
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 4096, 2048, 2, l, 0)); // 3 segments > maxSegs
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 1024, 2048, 8, l, 0)); // overlaps the frame
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 4096, 512, 8, l, 0)); // stride too short
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 12000, 2048, 8, l, 0)); // past the end
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 30, 54, 1000, 4096, 2048, 8, l, 0)); // IPv4 header < 20
  bad(() => n.gsoSplit(buf, 0, len, GSO_UDP4, 14, 34, 54, 1000, 4096, 2048, 8, l, 0)); // UDP header != 8
  bad(() => n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 4096, 2048, 8, l, 6)); // past lens
  bad(() => n.gsoSplit(buf, 0, 20000, GSO_TCP4, 14, 34, 54, 1000, 4096, 2048, 8, l, 0)); // frame past buf
  bad(() => n.gsoSplit(buf, 0, len, 9, 14, 34, 54, 1000, 4096, 2048, 8, l, 0)); // unknown kind
  bad(() => n.csumFill(buf, 34, 20000, 50, false));
  bad(() => n.csumFill(buf, 34, len, 33, false));
  assert.equal(n.gsoSplit(buf, 0, len, GSO_TCP4, 14, 34, 54, 1000, 4096, 2048, 8, l, 0), 3);
});

test('gsoSplit with a window writes exactly the segments the whole split makes, at its own stride', () => {
  for (const v6 of [false, true]) {
    const s = superFrame({ v6, udp: false, payload: 7000, mss: 1000 });
    const len = s.frame.length;
    const { kind, l3, l4, payload: pay } = s;
    const buf = new Uint8Array(65536);
    buf.set(s.frame, 0);
    const all = new Int32Array(8);
    assert.equal(n.gsoSplit(buf, 0, len, kind, l3, l4, pay, 1000, 16384, 1500, 8, all, 0), 7);
    const whole = Array.from({ length: 7 }, (_, i) => buf.slice(16384 + i * 1500, 16384 + i * 1500 + all[i]!));
    const part = new Int32Array(8);
    // Segments 2..5 (a window of 4), written back to back 1100 bytes apart; then the last one alone.
    assert.equal(n.gsoSplit(buf, 0, len, kind, l3, l4, pay, 1000, 32768, 1100, 4, part, 0, 2), 4);
    for (let j = 0; j < 4; j++) {
      assert.deepEqual(buf.slice(32768 + j * 1100, 32768 + j * 1100 + part[j]!), whole[2 + j], `segment ${2 + j}`);
    }
    assert.equal(n.gsoSplit(buf, 0, len, kind, l3, l4, pay, 1000, 49152, 1100, 4, part, 0, 6), 1, 'only one left');
    assert.deepEqual(buf.slice(49152, 49152 + part[0]!), whole[6]);
    assert.throws(
      () => n.gsoSplit(buf, 0, len, kind, l3, l4, pay, 1000, 49152, 1100, 4, part, 0, 7),
      (e) => isNativeError(e, 'EINVAL'),
      'from past the last segment',
    );
  }
});

test('aeadSealMany seals each message as aeadSeal would, with counter + i (carrying into the high word)', () => {
  const keys = new Uint8Array(64);
  for (let i = 0; i < keys.length; i++) keys[i] = (i * 29 + 3) & 255;
  const stride = 200;
  const lens = Int32Array.of(160, 160, 160, 48);
  const one = new Uint8Array(8 + 4 * stride);
  for (let i = 0; i < one.length; i++) one[i] = (i * 11) & 255;
  const many = one.slice();
  const lo = 0xfffffffe; // the third message's counter carries into the high word
  n.aeadSealMany(keys, 32, many, 8, stride, lens, 0, 4, lo, 5);
  for (let i = 0; i < 4; i++) {
    const c = lo + i;
    n.aeadSeal(keys, 32, one, 8 + i * stride, lens[i]!, c >>> 0, c > 0xffffffff ? 6 : 5);
  }
  assert.deepEqual(many, one);
  const bad = (f: () => unknown): void => assert.throws(f, (e) => isNativeError(e, 'EINVAL'));
  bad(() => n.aeadSealMany(keys, 40, many, 8, stride, lens, 0, 4, 0, 0)); // key past the end
  bad(() => n.aeadSealMany(keys, 0, many, 8, 100, lens, 0, 4, 0, 0)); // messages overlap
  bad(() => n.aeadSealMany(keys, 0, many, 8, stride, lens, 2, 4, 0, 0)); // past lens
  bad(() => n.aeadSealMany(keys, 0, many, 200, stride, lens, 0, 4, 0, 0)); // past the buffer
});

test('aeadOpenMany opens each message of a train as aeadOpen would, and says which verified', () => {
  const keys = new Uint8Array(32);
  for (let i = 0; i < keys.length; i++) keys[i] = (i * 13 + 1) & 255;
  const stride = 96;
  const lens = Int32Array.of(64, 64, 64, 32); // plaintexts: 3 × 64 bytes and an empty one (a keepalive)
  const buf = new Uint8Array(4 * stride);
  const plain = buf.slice();
  for (let i = 0; i < 4; i++) {
    const m = i * stride;
    buf[m] = 4; // a transport message header: type, index, then the counter (little-endian) at +8
    buf[m + 8] = 0xfe + i; // counters 0xfe, 0xff, 0x100, 0x101: carries into the next byte
    if (i >= 2) {
      buf[m + 8] = i - 2;
      buf[m + 9] = 1;
    }
    for (let k = 0; k < lens[i]!; k++) buf[m + 16 + k] = (k * 5 + i) & 255;
    plain.set(buf.subarray(m, m + 16 + lens[i]!), m);
    n.aeadSeal(keys, 0, buf, m + 16, lens[i]!, i < 2 ? 0xfe + i : 0x100 + i - 2, 0);
  }
  buf[2 * stride + 20] ^= 0x80; // the third message tampered with
  const ok = new Int32Array(4);
  n.aeadOpenMany(keys, 0, buf, 0, stride, 4, 16 + 32 + 16, ok);
  assert.deepEqual([...ok], [1, 1, 0, 1]);
  for (const i of [0, 1, 3]) {
    const m = i * stride;
    assert.deepEqual(buf.subarray(m + 16, m + 16 + lens[i]!), plain.subarray(m + 16, m + 16 + lens[i]!));
  }
  assert.throws(
    () => n.aeadOpenMany(keys, 0, buf, 0, stride, 4, 200, ok),
    (e) => isNativeError(e, 'EINVAL'),
    'the last message past the end',
  );
});

test('gsoSplit cuts super-frames exactly as the kernel does (TCP and UDP, IPv4 and IPv6, options, flags)', LAB, () =>
  withLab(async (lab) => {
    for (const c of CASES) {
      const s = superFrame(c.opts);
      send(lab.a, s);
      const kernel = drain(lab.b, false).map((x) => x.frame);
      const whole = drain(lab.c, true);
      const ours = ourSegments(s);
      assert.ok(kernel.length > 1, `${c.name}: the kernel did not segment`);
      assert.equal(ours.length, kernel.length, `${c.name}: segment count`);
      for (let i = 0; i < ours.length; i++) assert.equal(hex(ours[i]!), hex(kernel[i]!), `${c.name}: segment ${i}`);
      // Through a TAP with offloads the super-frame arrives whole, with its GSO header.
      assert.equal(whole.length, 1, `${c.name}: not one super-frame on the offload TAP`);
      assert.equal(whole[0]!.vnet[VNET_GSO_SIZE], s.vnet[VNET_GSO_SIZE]);
      assert.equal(whole[0]!.vnet[VNET_GSO_TYPE]! & 0x7f, s.vnet[VNET_GSO_TYPE]! & 0x7f);
      assert.equal(whole[0]!.frame.length, s.frame.length);
    }
  }),
);

test('csumFill finishes a partial checksum exactly as the kernel does (TCP and UDP, IPv4 and IPv6)', LAB, () =>
  withLab(async (lab) => {
    for (const c of CASES) {
      const s = superFrame({ ...c.opts, payload: 1001, gso: false });
      send(lab.a, s);
      const kernel = drain(lab.b, false).map((x) => x.frame);
      drain(lab.c, true);
      assert.equal(kernel.length, 1, `${c.name}: one frame expected`);
      const ours = s.frame.slice();
      const field = s.l4 + s.vnet[VNET_CSUM_OFFSET]!;
      n.csumFill(ours, s.vnet[VNET_CSUM_START]!, ours.length, field, c.opts.udp);
      assert.equal(hex(ours), hex(kernel[0]!), c.name);
      // And it verifies: the sum over pseudo header and L4 bytes is all ones.
      const l4len = ours.length - s.l4;
      const proto = c.opts.udp ? 17 : 6;
      const ps = c.opts.v6 ? pseudoSum6(ours, s.l3, proto, l4len) : pseudoSum4(ours, s.l3, proto, l4len);
      assert.equal(fold(sum16(ours, s.l4, l4len, ps)), 0xffff, `${c.name}: checksum does not verify`);
      assert.notEqual(get16(ours, field), 0);
    }
  }),
);
