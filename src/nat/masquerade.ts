// What to do with a packet leaving through this node, in one place for the datapath:
// egress-gateway policy first, then masquerading (Cilium's BPF masquerade: traffic from local
// endpoints to outside the cluster leaves with the node's address), else nothing.
//
//   natDecide(...) →
//     NAT_DECIDE_NONE          leave it alone (in-cluster destination, masquerade off, not ours)
//     NAT_DECIDE_REDIRECT      an egress policy matches and another node is the gateway: send it
//                              there unchanged over the node-to-node path (out = gateway address)
//     NAT_DECIDE_SNAT_EGRESS   an egress policy matches and this node is the gateway: SNAT with
//                              conntrack to the egress IP (out = egress IP)
//     NAT_DECIDE_MASQUERADE    SNAT with conntrack to the node's own address (out = that address)
//     NAT_DECIDE_DROP_NO_GATEWAY  the policy's egress IP has no owner right now: drop, count
//
// Decisions: destinations inside the "non-masquerade" CIDRs (the cluster's pod CIDRs and node
// addresses: Cilium's native-routing CIDR / ip-masq-agent list) are never translated nor
// redirected, even when a policy's CIDR covers them: cluster traffic stays cluster traffic.
// Masquerading applies only to packets from this node's endpoints (their own node masquerades
// the others'); redirected packets arriving at the gateway match their policy entry again,
// flagged local there, and get SNAT_EGRESS. Masquerade uses the same conntrack and port range
// as the egress gateway: the node's address is the dataplane's own (the kernel has no sockets
// on it), so no port range is shared with a kernel stack.
//
// Settings live in a small SharedArrayBuffer written by the control thread under a
// generation seqlock (odd while writing) and read by workers without allocating.
import { parseAddress } from '../wire/addr.js';
import { parseCidr } from './policy.js';
import { EV_FLAGS, EV_EGRESS_IP, EV_GATEWAY, EGRESS_LOCAL, EGRESS_NO_GATEWAY } from './egress-table.js';

export const NAT_DECIDE_NONE = 0;
export const NAT_DECIDE_REDIRECT = 1;
export const NAT_DECIDE_SNAT_EGRESS = 2;
export const NAT_DECIDE_MASQUERADE = 3;
export const NAT_DECIDE_DROP_NO_GATEWAY = 4;
export const NAT_DECIDE_NAMES: readonly string[] = ['none', 'redirect', 'snatEgress', 'masquerade', 'dropNoGateway'];

/** Most non-masquerade CIDRs per family (a linear scan per packet: kept short on purpose). */
export const MAX_NON_MASQ = 8;

const S_GEN = 0,
  S_FLAGS = 1,
  S_NODE4 = 2,
  S_NODE6 = 4,
  S_N4 = 8,
  S_N6 = 9;
const S_LIST4 = 16; // [addr, len] × 8
const S_LIST6 = S_LIST4 + 2 * MAX_NON_MASQ; // [addr (4), len] × 8
export const NAT_SETTINGS_WORDS = S_LIST6 + 5 * MAX_NON_MASQ;
const F_MASQ4 = 1,
  F_MASQ6 = 2;
const READ_RETRIES = 100;

export interface MasqueradeConfig {
  /** Masquerade traffic from local endpoints to outside (default on). */
  enabled: boolean;
  /** The node's own addresses used as masquerade source; a family without one is not masqueraded. */
  nodeIPv4?: string;
  nodeIPv6?: string;
  /** Destinations never translated (cluster CIDRs). */
  nonMasqueradeCIDRs: readonly string[];
}

function word(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function maskWord(x: number, len: number, i: number): number {
  const bits = len - 32 * i;
  return bits >= 32 ? x : bits <= 0 ? 0 : x & (-1 << (32 - bits));
}

export class NatSettings {
  private readonly w: Int32Array;
  private readonly copy = new Int32Array(NAT_SETTINGS_WORDS);
  /** Generation of `copy` (-1: none yet); settings change rarely, so most calls copy nothing. */
  private copyGen = -1;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.w = new Int32Array(sab);
  }

  static create(): NatSettings {
    return new NatSettings(new SharedArrayBuffer(NAT_SETTINGS_WORDS * 4));
  }

  static attach(sab: SharedArrayBuffer): NatSettings {
    return new NatSettings(sab);
  }

  /** Control thread. Throws (naming the field) on bad input; nothing is changed then. */
  configure(c: MasqueradeConfig): void {
    const next = new Int32Array(NAT_SETTINGS_WORDS);
    const put = (text: string | undefined, field: string, family: 4 | 6, at: number): boolean => {
      if (text === undefined) return false;
      const a = parseAddress(text);
      if (!a || a.family !== family)
        throw new RangeError(`${field}: ${JSON.stringify(text)} is not an IPv${family} address`);
      for (let i = 0; i < a.bytes.length; i += 4) next[at + i / 4] = word(a.bytes, i);
      return true;
    };
    const has4 = put(c.nodeIPv4, 'masquerade.nodeIPv4', 4, S_NODE4);
    const has6 = put(c.nodeIPv6, 'masquerade.nodeIPv6', 6, S_NODE6);
    next[S_FLAGS] = c.enabled ? (has4 ? F_MASQ4 : 0) | (has6 ? F_MASQ6 : 0) : 0;
    let n4 = 0,
      n6 = 0;
    c.nonMasqueradeCIDRs.forEach((text, i) => {
      const p = parseCidr(text, `masquerade.nonMasqueradeCIDRs[${i}]`);
      const n = p.family === 4 ? n4++ : n6++;
      if (n >= MAX_NON_MASQ)
        throw new RangeError(`masquerade.nonMasqueradeCIDRs[${i}]: more than ${MAX_NON_MASQ} IPv${p.family} CIDRs`);
      if (p.family === 4) {
        next[S_LIST4 + 2 * n] = word(p.bytes, 0);
        next[S_LIST4 + 2 * n + 1] = p.len;
      } else {
        for (let j = 0; j < 4; j++) next[S_LIST6 + 5 * n + j] = word(p.bytes, 4 * j);
        next[S_LIST6 + 5 * n + 4] = p.len;
      }
    });
    next[S_N4] = n4;
    next[S_N6] = n6;
    const w = this.w,
      g = Atomics.load(w, S_GEN);
    Atomics.store(w, S_GEN, (g + 1) | 0); // odd: writing
    for (let i = 1; i < NAT_SETTINGS_WORDS; i++) Atomics.store(w, i, next[i]!);
    Atomics.store(w, S_GEN, (g + 2) | 0);
  }

  /** Consistent per-thread copy of the settings, or false (a writer kept it busy). */
  private snapshot(): boolean {
    const w = this.w,
      c = this.copy;
    for (let r = 0; r < READ_RETRIES; r++) {
      const g = Atomics.load(w, S_GEN);
      if (g & 1) continue;
      if (g === this.copyGen) return true;
      for (let i = 1; i < NAT_SETTINGS_WORDS; i++) c[i] = w[i]!;
      if (Atomics.load(w, S_GEN) === g) {
        this.copyGen = g;
        return true;
      }
    }
    return false;
  }

  /** The destination at b[dstOff] is in a non-masquerade CIDR (reads the snapshot). */
  private inCluster(family: number, b: Uint8Array, dstOff: number): boolean {
    const c = this.copy;
    if (family === 4) {
      const d = word(b, dstOff);
      for (let i = 0; i < c[S_N4]!; i++) {
        const at = S_LIST4 + 2 * i;
        if (maskWord(d, c[at + 1]!, 0) === c[at]) return true;
      }
      return false;
    }
    for (let i = 0; i < c[S_N6]!; i++) {
      const at = S_LIST6 + 5 * i,
        len = c[at + 4]!;
      let match = true;
      for (let j = 0; j < 4 && match; j++) match = maskWord(word(b, dstOff + 4 * j), len, j) === c[at + j];
      if (match) return true;
    }
    return false;
  }

  /**
   * Worker, per packet leaving through this node. egressLen/egress: the result of
   * EgressTable.lookup for the packet (-1: no policy). fromEndpoint: it came from one of this
   * node's endpoints. out (4 words) receives the address for REDIRECT / SNAT_EGRESS / MASQUERADE.
   */
  decide(
    family: number,
    b: Uint8Array,
    dstOff: number,
    fromEndpoint: boolean,
    egressLen: number,
    egress: Int32Array,
    out: Int32Array,
  ): number {
    const nb = family === 4 ? 4 : family === 6 ? 16 : 0;
    if (nb === 0 || dstOff < 0 || dstOff + nb > b.length || !this.snapshot()) return NAT_DECIDE_NONE;
    if (this.inCluster(family, b, dstOff)) return NAT_DECIDE_NONE;
    if (egressLen >= 0) {
      const f = egress[EV_FLAGS]!;
      if (f & EGRESS_NO_GATEWAY) return NAT_DECIDE_DROP_NO_GATEWAY;
      const from = f & EGRESS_LOCAL ? EV_EGRESS_IP : EV_GATEWAY;
      for (let i = 0; i < 4; i++) out[i] = egress[from + i]!;
      return f & EGRESS_LOCAL ? NAT_DECIDE_SNAT_EGRESS : NAT_DECIDE_REDIRECT;
    }
    const c = this.copy;
    if (!fromEndpoint || !(c[S_FLAGS]! & (family === 4 ? F_MASQ4 : F_MASQ6))) return NAT_DECIDE_NONE;
    if (family === 4) {
      out[0] = c[S_NODE4]!;
      out[1] = 0;
      out[2] = 0;
      out[3] = 0;
    } else for (let i = 0; i < 4; i++) out[i] = c[S_NODE6 + i]!;
    return NAT_DECIDE_MASQUERADE;
  }
}
