// Super-frames through the in-process pipeline (src/datapath/superframe.ts): a GSO frame from a
// port with offloads goes out whole to another such port, cut into segments toward a port
// without (or into a VXLAN tunnel), is measured by its segments for the path MTU, and every
// hostile virtio header ends in a named drop — never an exception, one outcome per frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Harness,
  EP1,
  EP2,
  UP,
  NH_6,
  NH_MAC,
  PORT_MACS,
  EP2_MAC,
  EP1_4,
  EP2_4,
  EP1_6,
  EP2_6,
  OUT_4,
  OUT_6,
  POD_B4,
  C,
  OUTCOME_IDX,
  csum,
  eth,
  arp,
  BCAST,
  GW4,
  EP1_MAC,
  type StepResult,
} from './harness.js';
import { COUNTER_NAMES } from '../../src/datapath/counters.js';
import {
  VNET_FLAGS,
  VNET_GSO_TYPE,
  VNET_GSO_SIZE,
  VNET_CSUM_START,
  VNET_CSUM_OFFSET,
  VNET_HDR_LEN,
} from '../../src/native/tap.js';

const NEEDS_CSUM = 1;
const TCPV4 = 1;
const TCPV6 = 4;
const UDP_L4 = 5;

interface Built {
  frame: Uint8Array;
  vnet: number[];
  l4: number;
  payload: number;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}
const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** Folded, not complemented: what a sender with checksum offload leaves in the L4 field. */
function pseudoPartial(b: Uint8Array, src: number, alen: number, proto: number, l4len: number): number {
  let s = proto + l4len;
  for (let i = 0; i < 2 * alen; i += 2) s += get16(b, src + i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** A TCP (or UDP) super-frame from the endpoint on EP2 to dst, as a kernel with TSO hands it over. */
function superFrame(opts: {
  v6?: boolean;
  udp?: boolean;
  dst: Uint8Array;
  payload: number;
  mss: number;
  gso?: boolean;
}): Built {
  const v6 = opts.v6 ?? false;
  const l4 = 14 + (v6 ? 40 : 20);
  const l4h = opts.udp ? 8 : 32; // TCP with 12 bytes of options
  const payload = l4 + l4h;
  const f = new Uint8Array(payload + opts.payload);
  f.set(PORT_MACS[EP2]!, 0);
  f.set(EP2_MAC, 6);
  put16(f, 12, v6 ? 0x86dd : 0x0800);
  const proto = opts.udp ? 17 : 6;
  if (v6) {
    f[14] = 0x60;
    put16(f, 18, f.length - l4);
    f[20] = proto;
    f[21] = 64;
    f.set(EP2_6, 22);
    f.set(opts.dst, 38);
  } else {
    f[14] = 0x45;
    put16(f, 16, f.length - 14);
    put16(f, 18, 0x4242);
    f[20] = 0x40; // DF
    f[22] = 64;
    f[23] = proto;
    f.set(EP2_4, 26);
    f.set(opts.dst, 30);
    put16(f, 24, csum(f, 14, 20));
  }
  put16(f, l4, 40000);
  put16(f, l4 + 2, 5201);
  if (opts.udp) put16(f, l4 + 4, f.length - l4);
  else {
    f.set([0, 0, 1, 0, 0, 0, 2, 0], l4 + 4);
    f[l4 + 12] = (l4h / 4) << 4;
    f[l4 + 13] = 0x18;
    put16(f, l4 + 14, 1000);
    f.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], l4 + 20);
  }
  for (let i = payload; i < f.length; i++) f[i] = (i * 13) & 255;
  put16(f, l4 + (opts.udp ? 6 : 16), pseudoPartial(f, v6 ? 22 : 26, v6 ? 16 : 4, proto, f.length - l4));
  const gso = opts.gso ?? true;
  const vnet = [
    NEEDS_CSUM,
    gso ? (opts.udp ? UDP_L4 : v6 ? TCPV6 : TCPV4) : 0,
    payload,
    gso ? opts.mss : 0,
    l4,
    opts.udp ? 6 : 16,
  ];
  return { frame: f, vnet, l4, payload };
}

/** The L4 checksum of a finished segment verifies (pseudo-header included). */
function l4Verifies(b: Uint8Array, v6: boolean, proto: number): boolean {
  const l4 = 14 + (v6 ? 40 : 20);
  let s = proto + (b.length - l4);
  for (let i = 0; i < (v6 ? 32 : 8); i += 2) s += get16(b, (v6 ? 22 : 26) + i);
  return csum(b, l4, b.length - l4, s) === 0;
}

function nonZero(r: StepResult): Record<string, number> {
  const o: Record<string, number> = {};
  r.delta.forEach((v, i) => {
    if (v !== 0) o[COUNTER_NAMES[i]!] = v;
  });
  return o;
}

function outcomes(r: StepResult): number {
  return OUTCOME_IDX.reduce((n, i) => n + (r.delta[i] ?? 0), 0);
}

function txFrames(h: Harness, r: StepResult): Uint8Array[] {
  return r.tx.map((d) => h.dp.arena.bytes.slice(d.off, d.off + d.len));
}

test('a super-frame between ports with offloads leaves whole, with its virtio header, TTL − 1', () => {
  const h = new Harness({ offloads: [true, true, true] });
  for (const v6 of [false, true]) {
    // Segments of 1500 bytes: the largest EP1's MTU takes.
    const s = superFrame({ v6, dst: v6 ? EP1_6 : EP1_4, payload: 30000, mss: v6 ? 1428 : 1448 });
    const r = h.inject(s.frame, EP2, s.vnet);
    assert.equal(r.error, undefined);
    assert.equal(r.delta[C.forwarded], 1, JSON.stringify(nonZero(r)));
    assert.equal(r.delta[C.rxSuperFrames], 1);
    assert.equal(r.delta[C.txSuperFrames], 1);
    assert.equal(r.tx.length, 1);
    const d = r.tx[0]!;
    assert.equal(d.port, EP1);
    assert.equal(d.len, s.frame.length);
    assert.deepEqual(d.vnet.slice(0, 2), [NEEDS_CSUM, v6 ? TCPV6 : TCPV4]);
    assert.equal(d.vnet[VNET_GSO_SIZE], v6 ? 1428 : 1448);
    assert.equal(d.vnet[VNET_HDR_LEN], s.payload);
    const out = txFrames(h, r)[0]!;
    assert.equal(out[v6 ? 21 : 22], 63, 'TTL / hop limit decremented');
    if (!v6) assert.equal(csum(out, 14, 20), 0, 'IPv4 header checksum');
    assert.deepEqual(out.subarray(s.l4), s.frame.subarray(s.l4), 'the L4 part (partial checksum) untouched');
    h.resetTx();
  }
});

test('a frame after a super-frame in the same descriptor carries no stale virtio header (an ARP reply)', () => {
  // The kernel refuses (EINVAL) a frame shorter than its header's hdr_len whatever the flags say:
  // a long TCP transfer into an endpoint stalled when the endpoint's ARP for its gateway got no reply.
  const h = new Harness({ offloads: [true, true, true] });
  const s = superFrame({ dst: EP1_4, payload: 30000, mss: 1448 });
  const r1 = h.inject(s.frame, EP2, s.vnet);
  assert.equal(r1.tx[0]!.port, EP1);
  assert.equal(r1.tx[0]!.vnet[VNET_HDR_LEN], s.payload);
  h.resetTx();
  const r2 = h.inject(eth(BCAST, EP1_MAC, 0x0806, arp(1, EP1_MAC, EP1_4, new Uint8Array(6), GW4)), EP1);
  assert.equal(r2.delta[C.arpReplied], 1);
  assert.equal(r2.tx.length, 1);
  assert.equal(r2.tx[0]!.port, EP1);
  assert.deepEqual(r2.tx[0]!.vnet, [0, 0, 0, 0, 0, 0], "every word of the reply's virtio header is zero");
});

test('toward a port without offloads a super-frame is cut into segments with finished checksums', () => {
  const h = new Harness({ offloads: [true, true, false] });
  for (const v6 of [false, true]) {
    for (const udp of [false, true]) {
      const s = superFrame({ v6, udp, dst: v6 ? OUT_6 : OUT_4, payload: 20000, mss: 1400 });
      let r = h.inject(s.frame, EP2, s.vnet);
      const name = `${v6 ? 'IPv6' : 'IPv4'} ${udp ? 'UDP' : 'TCP'}`;
      assert.equal(r.error, undefined, name);
      assert.equal(outcomes(r), 1, `${name}: one outcome`);
      if (r.delta[C.pendingQueued] === 1) {
        // The IPv6 gateway is not known yet: the super-frame waits whole, then leaves as segments.
        assert.equal(r.delta[C.segmentsMade], 0);
        h.resetTx();
        h.learn(UP, 6, NH_6, NH_MAC);
        r = h.tick(10);
        assert.equal(r.delta[C.pendingSent], 1, `${name}: ${JSON.stringify(nonZero(r))}`);
      }
      const segs = txFrames(h, r).filter((_, i) => r.tx[i]!.port === UP);
      const n = Math.ceil(20000 / 1400);
      assert.equal(r.delta[C.segmentsMade], n, `${name}: ${JSON.stringify(nonZero(r))}`);
      assert.equal(segs.length, n, `${name}: segments queued or parked`);
      let data: number[] = [];
      for (const [i, seg] of segs.entries()) {
        assert.ok(seg.length <= s.payload + 1400, `${name}: segment ${i} too long`);
        assert.ok(l4Verifies(seg, v6, udp ? 17 : 6), `${name}: segment ${i} checksum`);
        if (!v6) assert.equal(csum(seg, 14, 20), 0, `${name}: segment ${i} IPv4 header checksum`);
        data = data.concat(Array.from(seg.subarray(s.payload)));
        assert.ok(r.tx.every((d) => d.vnet[VNET_FLAGS] === 0 && d.vnet[VNET_GSO_TYPE] === 0));
      }
      assert.deepEqual(Uint8Array.from(data), s.frame.subarray(s.payload), `${name}: the payload, in order`);
      h.resetTx();
    }
  }
});

test('a frame whose checksum is left to us gets it finished toward a port without offloads', () => {
  const h = new Harness({ offloads: [true, true, false] });
  const s = superFrame({ dst: OUT_4, payload: 1000, mss: 0, gso: false });
  const r = h.inject(s.frame, EP2, s.vnet);
  assert.equal(r.delta[C.forwarded], 1);
  assert.equal(r.delta[C.checksumsFinished], 1);
  const out = txFrames(h, r)[0]!;
  assert.ok(l4Verifies(out, false, 6));
});

test('path MTU: a super-frame whose segments fit is not too big; one whose segments do not gets frag needed', () => {
  const h = new Harness({ offloads: [true, true, true] });
  // EP2 has MTU 1400: segments of 1448 payload bytes (1500 on the wire) do not fit, 1300 do.
  const fits = superFrame({ dst: EP2_4, payload: 9000, mss: 1300 });
  fits.frame.set(PORT_MACS[EP1]!, 0);
  const r1 = h.inject(fits.frame, EP1, fits.vnet);
  assert.equal(r1.delta[C.dropTooBig], 0);
  assert.equal(r1.delta[C.pendingQueued] + r1.delta[C.forwarded], 1);
  h.resetTx();
  const big = superFrame({ dst: EP2_4, payload: 9000, mss: 1448 });
  big.frame.set(PORT_MACS[EP1]!, 0);
  const r2 = h.inject(big.frame, EP1, big.vnet);
  assert.equal(r2.delta[C.dropTooBig], 1);
  assert.equal(r2.delta[C.icmpErrorsSent], 1);
  const icmp = txFrames(h, r2)[0]!;
  assert.equal(icmp[34], 3); // destination unreachable
  assert.equal(icmp[35], 4); // fragmentation needed
  assert.equal(get16(icmp, 40), 1400); // next-hop MTU
  assert.equal(r2.tx[0]!.vnet[VNET_GSO_TYPE], 0, 'the ICMP error carries no offload state');
});

test('into a VXLAN tunnel a super-frame goes as segments, each encapsulated', () => {
  const h = new Harness({ offloads: [true, true, true] });
  const s = superFrame({ dst: POD_B4, payload: 6000, mss: 1380 });
  const r = h.inject(s.frame, EP2, s.vnet);
  assert.equal(r.error, undefined);
  assert.equal(r.delta[C.segmented], 1);
  assert.equal(r.delta[C.vxlanEncapsulated], Math.ceil(6000 / 1380));
  assert.equal(r.delta[C.segmentsSent] + r.delta[C.segmentsQueued], Math.ceil(6000 / 1380));
});

test('hostile virtio headers: handled or dropped by name, never an exception, one outcome per frame', () => {
  const h = new Harness({ offloads: [true, true, true] });
  const dsts = [EP1_4, OUT_4, POD_B4, EP1_6, OUT_6];
  fc.assert(
    fc.property(
      fc.record({
        dst: fc.integer({ min: 0, max: dsts.length - 1 }),
        udp: fc.boolean(),
        payload: fc.integer({ min: 0, max: 20000 }),
        vnet: fc.tuple(
          fc.integer({ min: 0, max: 7 }),
          fc.constantFrom(0, 1, 3, 4, 5, 0x81, 0x84, 2, 200),
          fc.integer({ min: 0, max: 70000 }),
          fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70000 })),
          fc.integer({ min: 0, max: 200 }),
          fc.integer({ min: 0, max: 40 }),
        ),
        keepCsum: fc.boolean(),
        cut: fc.integer({ min: 0, max: 200 }),
      }),
      (x) => {
        const dst = dsts[x.dst]!;
        const s = superFrame({ v6: dst.length === 16, udp: x.udp, dst, payload: x.payload, mss: 1400 });
        const vnet = x.keepCsum
          ? [x.vnet[0], x.vnet[1], x.vnet[2], x.vnet[3], s.l4, s.vnet[VNET_CSUM_OFFSET]!]
          : x.vnet;
        const frame = s.frame.subarray(0, Math.max(14, s.frame.length - x.cut));
        const r = h.inject(frame, EP2, vnet);
        h.resetTx();
        h.dp.pending.used.fill(0);
        h.dp.pending.count = 0;
        if (r.error !== undefined) throw r.error;
        return outcomes(r) === 1;
      },
    ),
    { numRuns: 3000, seed: 0x5eed },
  );
  void VNET_CSUM_START;
});

/** Plain TCP segments of one flow as a sender without offloads sends them: full checksums, consecutive IDs. */
function segments(opts: { v6?: boolean; count: number; mss: number; last?: number; from?: number }): Uint8Array[] {
  const sf = superFrame({
    v6: opts.v6,
    dst: opts.v6 ? EP1_6 : EP1_4,
    payload: opts.mss * (opts.count - 1) + (opts.last ?? opts.mss),
    mss: opts.mss,
  });
  // Our own segmentation of the super-frame is the reference sender (checked against the kernel's in test/native).
  const b = new Uint8Array(sf.frame.length + opts.count * 2048 + 4096);
  b.set(sf.frame, 0);
  const lens = new Int32Array(opts.count);
  const l4 = sf.l4;
  const n = h0.dp.native.gsoSplit(
    b,
    0,
    sf.frame.length,
    opts.v6 ? 2 : 1,
    14,
    l4,
    sf.payload,
    opts.mss,
    sf.frame.length,
    2048,
    opts.count,
    lens,
    0,
  );
  return Array.from({ length: n }, (_, i) => {
    const f = b.slice(sf.frame.length + i * 2048, sf.frame.length + i * 2048 + lens[i]!);
    f.set(PORT_MACS[opts.from ?? UP]!, 0); // as received on that port
    return f;
  });
}
const h0 = new Harness();

test(
  'GRO: segments of one flow toward a port with offloads leave as one super-frame that segments back to ' + 'them',
  () => {
    for (const v6 of [false, true]) {
      const h = new Harness({ offloads: [true, true, false] });
      const segs = segments({ v6, count: 12, mss: 1300, last: 700 });
      let merged = 0;
      let forwarded = 0;
      segs.forEach((s, i) => {
        const r = h.inject(s, UP, undefined, i + 1);
        assert.equal(r.error, undefined);
        merged += r.delta[C.groMerged]!;
        forwarded += r.delta[C.forwarded]!;
      });
      assert.equal(forwarded, 12, 'one outcome per segment');
      assert.equal(merged, 11);
      const tx = h.txQueued();
      assert.equal(tx.length, 1);
      const d = tx[0]!;
      assert.equal(d.port, EP1);
      assert.deepEqual(d.vnet.slice(0, 2), [NEEDS_CSUM, v6 ? TCPV6 : TCPV4]);
      assert.equal(d.vnet[VNET_GSO_SIZE], 1300);
      // What the kernel would make of it: the segments as they were, TTL − 1 and the new MACs aside.
      const out = h.dp.arena.bytes.slice(d.off, d.off + d.len);
      const b = new Uint8Array(out.length + 16 * 2048);
      b.set(out, 0);
      const lens = new Int32Array(16);
      const l4 = 14 + (v6 ? 40 : 20);
      const n = h.dp.native.gsoSplit(
        b,
        0,
        out.length,
        v6 ? 2 : 1,
        14,
        l4,
        l4 + 32,
        1300,
        out.length,
        2048,
        16,
        lens,
        0,
      );
      assert.equal(n, 12);
      for (let i = 0; i < n; i++) {
        const seg = b.subarray(out.length + i * 2048, out.length + i * 2048 + lens[i]!);
        const want = segs[i]!.slice();
        want.set(seg.subarray(0, 12), 0); // MACs
        want[v6 ? 21 : 22]!--; // TTL / hop limit
        if (!v6) {
          put16(want, 24, 0);
          put16(want, 24, csum(want, 14, 20));
        }
        assert.equal(Buffer.from(seg).toString('hex'), Buffer.from(want).toString('hex'), `segment ${i}`);
      }
    }
  },
);

test('GRO: a corrupted segment, a gap or a PSH ends the merge; nothing else is merged', () => {
  const h = new Harness({ offloads: [true, true, false] });
  const segs = segments({ count: 6, mss: 1000 });
  segs[2]![100] ^= 0xff; // payload of segment 2 corrupted: its checksum no longer verifies
  for (const [i, s] of segs.entries()) h.inject(s, UP, undefined, i + 1);
  // 0+1 merged, 2 on its own (bad), 3 cannot follow 1 (gap) and starts anew, 4 and 5 join it.
  assert.deepEqual(
    h.txQueued().map((d) => d.len - 66),
    [2000, 1000, 3000],
  );
});
