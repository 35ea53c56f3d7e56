// The VXLAN corpus: frames toward the remote pod CIDRs (encapsulated), and frames from the
// remote VTEPs (decapsulated), valid and malformed; and frames a Linux vxlan device sent.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BCAST,
  EP1,
  EP1_4,
  EP1_6,
  EP1_MAC,
  EP2,
  EP2_4,
  EP2_MAC,
  GW4,
  GW6,
  type Ipv4Opts,
  LINUX_VX_MAC,
  PORT_MACS,
  POD_B4,
  POD_B6,
  POD_C4,
  POD_C6,
  POD_D4,
  POD_E4,
  UNREACH_4,
  UP,
  UP_4,
  UP_6,
  VTEP_B4,
  VTEP_B_MAC,
  VTEP_C6,
  VTEP_MAC,
  arp,
  bytes,
  eth,
  icmp6,
  ip,
  ipv4,
  ipv6,
  mac,
  multicastMac,
  solicitedNode,
  tcp,
  udp,
  vxlanUdp,
} from '../../harness.js';
import { type Base, PAY, T, U, ZERO_MAC, echo4, echo6, nsBody, patched, v4, v6 } from './builders.js';
import { OPTS_MIXED } from './ipv4-options.js';

export const VTEP_C_MAC = mac('02:aa:00:00:00:0c');
export const LINUX_VX_4 = ip('198.19.2.1');
export const LINUX_VX_LL = ip('fe80::ff:fe00:201');

/** From VTEP B (the Linux node, IPv4 underlay) to our uplink address, carrying `inner`. */
function fromB(inner: Uint8Array, o: Parameters<typeof vxlanUdp>[3] = {}, dst = UP_4): Uint8Array {
  return v4(UP, VTEP_B_MAC, { src: VTEP_B4, dst, proto: U }, vxlanUdp(VTEP_B4, dst, inner, o));
}

/** From VTEP C over the IPv6 underlay. */
function fromC(inner: Uint8Array, o: Parameters<typeof vxlanUdp>[3] = {}, dst = UP_6): Uint8Array {
  return v6(UP, VTEP_C_MAC, VTEP_C6, dst, U, 64, vxlanUdp(VTEP_C6, dst, inner, o));
}

/** An inner IPv4 frame from the Linux node's vxlan device to our VXLAN MAC. */
function in4(o: Ipv4Opts, payload: Uint8Array, dstMac = VTEP_MAC, srcMac = LINUX_VX_MAC): Uint8Array {
  return eth(dstMac, srcMac, 0x0800, ipv4(o, payload));
}

function in6(
  src: Uint8Array,
  dst: Uint8Array,
  next: number,
  hops: number,
  payload: Uint8Array,
  dstMac = VTEP_MAC,
): Uint8Array {
  return eth(dstMac, LINUX_VX_MAC, 0x86dd, ipv6(src, dst, next, hops, payload));
}

/**
 * VXLAN frames a Linux vxlan device sent to Weft's uplink (test/fixtures/wire/vxlan-linux.json,
 * captured by capture_linux_vxlan.mjs): they arrive on the uplink as they are.
 */
export function linuxBases(): Base[] {
  const path = fileURLToPath(new URL('../../../../../test/fixtures/wire/vxlan-linux.json', import.meta.url));
  const frames = JSON.parse(readFileSync(path, 'utf8')) as { name: string; hex: string }[];
  return frames.map((f) => ({ name: f.name, port: UP, frame: Uint8Array.from(Buffer.from(f.hex, 'hex')) }));
}

export function tunnelBases(): Base[] {
  const b4ep1 = in4({ src: POD_B4, dst: EP1_4, proto: U }, udp(POD_B4, EP1_4, 5000, 53, PAY));
  return [
    // Out through the tunnel.
    {
      name: 'udp4-ep1-to-pod-b',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U }, udp(EP1_4, POD_B4, 5000, 53, PAY)),
    },
    {
      name: 'tcp6-ep1-to-pod-b',
      port: EP1,
      frame: v6(EP1, EP1_MAC, EP1_6, POD_B6, T, 64, tcp(EP1_6, POD_B6, 40000, 443, 0x02, PAY)),
    },
    {
      name: 'udp4-ep1-to-pod-c',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_C4, proto: U }, udp(EP1_4, POD_C4, 5000, 53, PAY)),
    },
    { name: 'echo6-ep1-to-pod-c', port: EP1, frame: v6(EP1, EP1_MAC, EP1_6, POD_C6, 58, 64, echo6(EP1_6, POD_C6)) },
    {
      name: 'udp4-ep2-to-pod-d',
      port: EP2,
      frame: v4(EP2, EP2_MAC, { src: EP2_4, dst: POD_D4, proto: U }, udp(EP2_4, POD_D4, 5000, 53, PAY)),
    },
    {
      name: 'udp4-ep1-to-pod-e',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_E4, proto: U }, udp(EP1_4, POD_E4, 5000, 53, PAY)),
    },
    {
      name: 'udp4-1450-df-to-pod-b',
      port: EP1,
      frame: v4(
        EP1,
        EP1_MAC,
        { src: EP1_4, dst: POD_B4, proto: U, df: true },
        udp(EP1_4, POD_B4, 1, 2, bytes(1422, 1)),
      ),
    },
    {
      name: 'udp4-1451-df-to-pod-b',
      port: EP1,
      frame: v4(
        EP1,
        EP1_MAC,
        { src: EP1_4, dst: POD_B4, proto: U, df: true },
        udp(EP1_4, POD_B4, 1, 2, bytes(1423, 1)),
      ),
    },
    {
      name: 'udp4-1451-nodf-to-pod-b',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U }, udp(EP1_4, POD_B4, 1, 2, bytes(1423, 1))),
    },
    {
      name: 'udp4-1500-opts-nodf-to-pod-c',
      port: EP1,
      frame: v4(
        EP1,
        EP1_MAC,
        { src: EP1_4, dst: POD_C4, proto: U, options: OPTS_MIXED },
        udp(EP1_4, POD_C4, 1, 2, bytes(1456, 2)),
      ),
    },
    {
      name: 'udp6-1431-to-pod-c',
      port: EP1,
      frame: v6(EP1, EP1_MAC, EP1_6, POD_C6, U, 64, udp(EP1_6, POD_C6, 1, 2, bytes(1383, 4))),
    },
    {
      name: 'udp4-ttl1-to-pod-b',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: POD_B4, proto: U, ttl: 1 }, udp(EP1_4, POD_B4, 33434, 33434, PAY)),
    },
    // In from the tunnel.
    { name: 'vx4-udp4-b-to-ep1', port: UP, frame: fromB(b4ep1) },
    { name: 'vx4-udp6-b-to-ep1', port: UP, frame: fromB(in6(POD_B6, EP1_6, U, 64, udp(POD_B6, EP1_6, 5000, 53, PAY))) },
    { name: 'vx4-echo-b-to-gw', port: UP, frame: fromB(in4({ src: POD_B4, dst: GW4, proto: 1 }, echo4(POD_B4, GW4))) },
    {
      name: 'vx4-arp-b-gw',
      port: UP,
      frame: fromB(eth(BCAST, LINUX_VX_MAC, 0x0806, arp(1, LINUX_VX_MAC, LINUX_VX_4, ZERO_MAC, GW4))),
    },
    {
      name: 'vx4-ns-b-gw6',
      port: UP,
      frame: fromB(
        in6(
          LINUX_VX_LL,
          solicitedNode(GW6),
          58,
          255,
          icmp6(LINUX_VX_LL, solicitedNode(GW6), 135, 0, nsBody(GW6, LINUX_VX_MAC)),
          multicastMac(solicitedNode(GW6)),
        ),
      ),
    },
    {
      name: 'vx4-udp4-b-ttl1',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: EP1_4, proto: U, ttl: 1 }, udp(POD_B4, EP1_4, 33434, 33434, PAY))),
    },
    {
      name: 'vx4-udp4-b-to-ep2',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U }, udp(POD_B4, EP2_4, 5000, 53, PAY))),
    },
    {
      name: 'vx4-udp4-big-b-to-ep2',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U }, udp(POD_B4, EP2_4, 5000, 53, bytes(1422, 6)))),
    },
    {
      name: 'vx4-udp4-big-df-b-to-ep2',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: EP2_4, proto: U, df: true }, udp(POD_B4, EP2_4, 5000, 53, bytes(1422, 6)))),
    },
    {
      name: 'vx4-udp4-big-b-to-pod-c',
      port: UP,
      frame: fromB(
        in4({ src: POD_B4, dst: POD_C4, proto: U, options: OPTS_MIXED }, udp(POD_B4, POD_C4, 5000, 53, bytes(1406, 6))),
      ),
    },
    {
      name: 'vx4-udp4-b-to-pod-d',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: POD_D4, proto: U }, udp(POD_B4, POD_D4, 5000, 53, PAY))),
    },
    {
      name: 'vx4-udp4-b-unreachable',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: UNREACH_4, proto: U }, udp(POD_B4, UNREACH_4, 5000, 53, PAY))),
    },
    { name: 'vx4-udp4-b-csum-to-ep1', port: UP, frame: fromB(b4ep1, { csum: true }) },
    { name: 'vx4-udp4-b-to-gw-addr', port: UP, frame: fromB(b4ep1, {}, GW4) },
    {
      name: 'vx6-udp4-c-to-ep1',
      port: UP,
      frame: fromC(in4({ src: POD_C4, dst: EP1_4, proto: U }, udp(POD_C4, EP1_4, 5000, 53, PAY))),
    },
    { name: 'vx6-echo6-c-to-gw', port: UP, frame: fromC(in6(POD_C6, GW6, 58, 64, echo6(POD_C6, GW6))) },
    // Malformed, each with its drop counter.
    { name: 'vx4-bad-vni', port: UP, frame: fromB(b4ep1, { vni: 3 }) },
    { name: 'vx4-no-i-flag', port: UP, frame: fromB(b4ep1, { flags: 0x80 }) },
    {
      name: 'vx4-inner-mac',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: EP1_4, proto: U }, udp(POD_B4, EP1_4, 5000, 53, PAY), PORT_MACS[UP])),
    },
    {
      name: 'vx4-inner-group-src',
      port: UP,
      frame: fromB(
        in4(
          { src: POD_B4, dst: EP1_4, proto: U },
          udp(POD_B4, EP1_4, 5000, 53, PAY),
          VTEP_MAC,
          mac('01:00:5e:00:00:01'),
        ),
      ),
    },
    { name: 'vx4-inner-lldp', port: UP, frame: fromB(eth(VTEP_MAC, LINUX_VX_MAC, 0x88cc, PAY)) },
    { name: 'vx4-inner-short', port: UP, frame: fromB(bytes(10, 7)) },
    {
      name: 'vx4-udp-len',
      port: UP,
      frame: patched(fromB(b4ep1), (f) => {
        f[38] = 0xff;
      }),
    },
    {
      name: 'vx4-bad-csum',
      port: UP,
      frame: patched(fromB(b4ep1, { csum: true }), (f) => {
        f[f.length - 1] ^= 0x10;
      }),
    },
    {
      name: 'vx6-zero-csum',
      port: UP,
      frame: patched(fromC(in4({ src: POD_C4, dst: EP1_4, proto: U }, udp(POD_C4, EP1_4, 5000, 53, PAY))), (f) => {
        f[60] = 0;
        f[61] = 0;
      }),
    },
    {
      name: 'vx4-on-endpoint',
      port: EP1,
      frame: v4(EP1, EP1_MAC, { src: EP1_4, dst: GW4, proto: U }, vxlanUdp(EP1_4, GW4, b4ep1)),
    },
    { name: 'vx4-port-4789', port: UP, frame: fromB(b4ep1, { dport: 4789 }) },
    {
      name: 'vx4-nested',
      port: UP,
      frame: fromB(in4({ src: POD_B4, dst: GW4, proto: U }, vxlanUdp(POD_B4, GW4, b4ep1))),
    },
  ];
}
