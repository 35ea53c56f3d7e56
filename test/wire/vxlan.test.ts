// VXLAN (RFC 7348) encapsulation and decapsulation against scapy-crafted frames
// (test/fixtures/wire/vxlan.json, made by gen_vxlan.py), then hostile variants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  vxlanCheck,
  vxlanVni,
  vxlanFlowHash,
  vxlanSourcePort,
  writeVxlanEncap4,
  writeVxlanEncap6,
  writeVxlanHeader,
  VXLAN_OK,
  VXLAN_TRUNCATED,
  VXLAN_BAD_FLAGS,
  VXLAN_HLEN,
  VXLAN_OVERHEAD4,
  VXLAN_OVERHEAD6,
  VXLAN_SPORT_MIN,
  VXLAN_SPORT_MAX,
  VXLAN_DEFAULT_PORT,
} from '../../src/wire/vxlan.js';
import { udpLengthValid, udpChecksumOk4, udpChecksumOk6, UDP_CSUM } from '../../src/wire/udp.js';
import { ipv4Check, IPV4_OK, parseIpv4 } from '../../src/wire/ipv4.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import { parseMac } from '../../src/wire/ethernet.js';
import { get16, put16 } from '../../src/wire/bytes.js';
import { hexBytes } from './frames.js';

interface VxlanFrame {
  name: string;
  description: string;
  hex: string;
  len: number;
  outer_family: 4 | 6;
  outer_src: string;
  outer_dst: string;
  outer_dst_mac: string;
  outer_src_mac: string;
  ip_off: number;
  udp_off: number;
  vxlan_off: number;
  inner_off: number;
  inner_len: number;
  sport: number;
  dport: number;
  udp_len: number;
  udp_chksum: number;
  vni: number;
  flow_hash: number;
  ip_chksum?: number;
}

const FRAMES: VxlanFrame[] = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/wire/vxlan.json', import.meta.url)), 'utf8'),
) as VxlanFrame[];

function addr(f: VxlanFrame, text: string): Uint8Array {
  const a = f.outer_family === 4 ? parseIpv4(text) : parseIpv6(text);
  assert.ok(a, text);
  return a;
}

const HEAD = 256;
const PAT = 0x5a;

/**
 * Encapsulates the fixture's inner frame with our writers in a buffer with headroom; returns [buffer, outer offset].
 */
function encapsulate(f: VxlanFrame, expected: Uint8Array): [Uint8Array, number] {
  const buf = new Uint8Array(HEAD + f.inner_len + 64).fill(PAT);
  buf.set(expected.subarray(f.inner_off), HEAD);
  const sport = vxlanSourcePort(vxlanFlowHash(buf, HEAD, f.inner_len));
  const src = addr(f, f.outer_src);
  const dst = addr(f, f.outer_dst);
  const o =
    f.outer_family === 4
      ? writeVxlanEncap4(buf, HEAD, f.inner_len, src, 0, dst, 0, sport, f.dport, f.vni)
      : writeVxlanEncap6(buf, HEAD, f.inner_len, src, 0, dst, 0, sport, f.dport, f.vni);
  buf.set(parseMac(f.outer_dst_mac), o);
  buf.set(parseMac(f.outer_src_mac), o + 6);
  return [buf, o];
}

test('fixture covers IPv4 and IPv6 underlays, several inner protocols and a large VNI', () => {
  assert.ok(FRAMES.length >= 6);
  assert.ok(FRAMES.some((f) => f.outer_family === 4) && FRAMES.some((f) => f.outer_family === 6));
  assert.ok(FRAMES.some((f) => f.vni > 0xffff));
  assert.ok(FRAMES.every((f) => f.dport === VXLAN_DEFAULT_PORT));
});

test("the flow hash and source port are the generator's (same function in Python)", () => {
  for (const f of FRAMES) {
    const b = hexBytes(f.hex);
    assert.equal(vxlanFlowHash(b, f.inner_off, f.inner_len), f.flow_hash, f.name);
    assert.equal(vxlanSourcePort(f.flow_hash), f.sport, f.name);
  }
});

test("encapsulation of the inner frame reproduces scapy's frame byte for byte, moving only the offset", () => {
  for (const f of FRAMES) {
    const expected = hexBytes(f.hex);
    const [buf, o] = encapsulate(f, expected);
    const overhead = f.outer_family === 4 ? VXLAN_OVERHEAD4 : VXLAN_OVERHEAD6;
    assert.equal(o, HEAD - overhead, f.name);
    assert.equal(Buffer.from(buf.subarray(o, o + f.len)).toString('hex'), f.hex, f.name);
    // Nothing outside the outer frame was written.
    for (let i = 0; i < o; i++) assert.equal(buf[i], PAT, `${f.name}: byte ${i} before the frame`);
    for (let i = o + f.len; i < buf.length; i++) assert.equal(buf[i], PAT, `${f.name}: byte ${i} after the frame`);
    if (f.outer_family === 4) {
      assert.equal(ipv4Check(buf, o + 14, f.len - 14), IPV4_OK, f.name);
      assert.equal(get16(buf, o + 14 + 10), f.ip_chksum, f.name);
      assert.equal(get16(buf, o + f.udp_off + UDP_CSUM), 0, `${f.name}: UDP checksum 0 over IPv4`);
    } else {
      assert.equal(get16(buf, o + f.udp_off + UDP_CSUM), f.udp_chksum, f.name);
    }
  }
});

test("decapsulation reads scapy's frames: UDP length, checksum, flags, VNI, inner frame", () => {
  for (const f of FRAMES) {
    const b = hexBytes(f.hex);
    const l4avail = f.len - f.udp_off;
    assert.ok(udpLengthValid(b, f.udp_off, l4avail), f.name);
    assert.equal(get16(b, f.udp_off + 4), f.udp_len, f.name);
    assert.equal(f.udp_len, VXLAN_HLEN + 8 + f.inner_len, f.name);
    const ok =
      f.outer_family === 4
        ? udpChecksumOk4(b, f.ip_off, f.udp_off, f.udp_len)
        : udpChecksumOk6(b, f.ip_off, f.udp_off, f.udp_len);
    assert.ok(ok, `${f.name}: UDP checksum`);
    assert.equal(vxlanCheck(b, f.vxlan_off, f.udp_len - 8), VXLAN_OK, f.name);
    assert.equal(vxlanVni(b, f.vxlan_off), f.vni, f.name);
    assert.equal(f.vxlan_off + VXLAN_HLEN, f.inner_off, f.name);
  }
});

test('VXLAN header: I flag required, reserved bits ignored, truncation', () => {
  const f = FRAMES[0];
  const b = hexBytes(f.hex);
  const v = f.vxlan_off;
  assert.equal(vxlanCheck(b, v, 7), VXLAN_TRUNCATED);
  assert.equal(vxlanCheck(b, v, 0), VXLAN_TRUNCATED);
  b[v] = 0x00;
  assert.equal(vxlanCheck(b, v, 8), VXLAN_BAD_FLAGS);
  b[v] = 0xf7; // everything but I
  assert.equal(vxlanCheck(b, v, 8), VXLAN_BAD_FLAGS);
  b[v] = 0xff;
  b[v + 1] = 0xff;
  b[v + 3] = 0xff;
  b[v + 7] = 0xff;
  assert.equal(vxlanCheck(b, v, 8), VXLAN_OK, 'RFC 7348: reserved bits are ignored on receipt');
  assert.equal(vxlanVni(b, v), f.vni);
  const h = new Uint8Array(8).fill(0xff);
  writeVxlanHeader(h, 0, 0xabcdef);
  assert.deepEqual([...h], [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
});

test('UDP checksums: zero is "none" over IPv4 but invalid over IPv6; corruption is caught', () => {
  for (const f of FRAMES) {
    const b = hexBytes(f.hex);
    if (f.outer_family === 4) {
      // A sender that does checksum over IPv4 (Linux with udpcsum): verified.
      const u = f.udp_off;
      let s = 0;
      const ph = [...b.subarray(f.ip_off + 12, f.ip_off + 20)];
      for (let i = 0; i < 8; i += 2) s += (ph[i] << 8) | ph[i + 1];
      s += 17 + f.udp_len;
      for (let i = 0; i < f.udp_len; i += 2) s += (b[u + i] << 8) | (i + 1 < f.udp_len ? b[u + i + 1] : 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      const c = ~s & 0xffff;
      put16(b, u + UDP_CSUM, c === 0 ? 0xffff : c);
      assert.ok(udpChecksumOk4(b, f.ip_off, u, f.udp_len), f.name);
      b[f.inner_off + 20] ^= 0x40;
      assert.ok(!udpChecksumOk4(b, f.ip_off, u, f.udp_len), `${f.name}: corrupted`);
    } else {
      b[f.inner_off + 20] ^= 0x40;
      assert.ok(!udpChecksumOk6(b, f.ip_off, f.udp_off, f.udp_len), `${f.name}: corrupted`);
      b[f.inner_off + 20] ^= 0x40;
      put16(b, f.udp_off + UDP_CSUM, 0);
      assert.ok(!udpChecksumOk6(b, f.ip_off, f.udp_off, f.udp_len), `${f.name}: zero checksum over IPv6`);
    }
  }
});

test("source ports stay in Linux's range 32768..60999 and use the whole of it", () => {
  assert.equal(vxlanSourcePort(0), VXLAN_SPORT_MIN);
  assert.equal(vxlanSourcePort(0xffffffff), VXLAN_SPORT_MAX - 1);
  fc.assert(
    fc.property(fc.nat(0xffffffff), (h) => {
      const p = vxlanSourcePort(h);
      return Number.isInteger(p) && p >= VXLAN_SPORT_MIN && p < VXLAN_SPORT_MAX;
    }),
    { numRuns: 2000 },
  );
});

test('the flow hash follows the flow: TTL and payload do not matter, ports do, fragments hash alike', () => {
  const f = FRAMES.find((x) => x.name === 'vxlan4-udp')!;
  const inner = hexBytes(f.hex).slice(f.inner_off);
  const base = vxlanFlowHash(inner, 0, inner.length);
  const t = inner.slice();
  t[14 + 8] = 7; // TTL
  t[inner.length - 1] ^= 0xff; // payload
  assert.equal(vxlanFlowHash(t, 0, t.length), base);
  const p = inner.slice();
  p[14 + 20 + 1] ^= 1; // source port
  assert.notEqual(vxlanFlowHash(p, 0, p.length), base);
  const frag1 = inner.slice();
  put16(frag1, 14 + 6, 0x2000); // MF, offset 0: ports present but not hashed
  const frag2 = inner.slice();
  put16(frag2, 14 + 6, 0x0010); // later fragment: bytes there are payload
  frag2[14 + 20] ^= 0x55;
  assert.equal(vxlanFlowHash(frag1, 0, frag1.length), vxlanFlowHash(frag2, 0, frag2.length));
  // Short or odd frames hash without reading past len.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const buf = new Uint8Array(bytes.length + 8).fill(0xee);
      buf.set(bytes, 4);
      const a = vxlanFlowHash(buf, 4, bytes.length);
      buf.fill(0x11, 0, 4);
      buf.fill(0x11, 4 + bytes.length);
      return a === vxlanFlowHash(buf, 4, bytes.length) && a >= 0 && a <= 0xffffffff;
    }),
    { numRuns: 2000 },
  );
});

// Frames a Linux vxlan device sent (test/fixtures/wire/vxlan-linux.json, captured by
// capture_linux_vxlan.mjs from a device configured as docs/vxlan.md documents).
interface LinuxFrame {
  name: string;
  description: string;
  outer_family: 4 | 6;
  inner_off: number;
  hex: string;
}

const LINUX: LinuxFrame[] = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/wire/vxlan-linux.json', import.meta.url)), 'utf8'),
) as LinuxFrame[];

test("Linux's VXLAN frames decapsulate: I flag only, VNI 2, UDP checksums valid, source port in 32768..60999", () => {
  assert.ok(LINUX.some((f) => f.outer_family === 4) && LINUX.some((f) => f.outer_family === 6));
  for (const f of LINUX) {
    const b = hexBytes(f.hex);
    const ip = 14;
    const u = ip + (f.outer_family === 4 ? 20 : 40);
    assert.equal(get16(b, 12), f.outer_family === 4 ? 0x0800 : 0x86dd, f.name);
    const ulen = get16(b, u + 4);
    assert.ok(udpLengthValid(b, u, b.length - u), f.name);
    assert.equal(u + ulen, b.length, f.name);
    assert.equal(get16(b, u + 2), VXLAN_DEFAULT_PORT, f.name);
    const sport = get16(b, u);
    assert.ok(sport >= VXLAN_SPORT_MIN && sport < VXLAN_SPORT_MAX, `${f.name}: source port ${sport}`);
    if (f.outer_family === 4) {
      // `udpcsum` is on by default for IPv4 in the kernels tested: a real checksum, which we verify.
      assert.ok(udpChecksumOk4(b, ip, u, ulen), `${f.name}: UDP checksum over IPv4`);
    } else {
      assert.ok(udpChecksumOk6(b, ip, u, ulen), `${f.name}: UDP checksum over IPv6`);
    }
    assert.equal(vxlanCheck(b, u + 8, ulen - 8), VXLAN_OK, f.name);
    assert.equal(b[u + 8], 0x08, f.name);
    assert.equal(vxlanVni(b, u + 8), 2, f.name);
    assert.equal(u + 8 + VXLAN_HLEN, f.inner_off, f.name);
  }
});
