// The translation addresses this node holds right now, for the workers: its egress IPs
// (primary, or standby after a failover), where a packet without a conntrack entry is
// unsolicited (dropped and counted), and its masquerade addresses (the node's own), where such
// a packet goes on to local delivery (echo, VXLAN...). A short list
// (a linear scan over at most MAX_LOCAL_EGRESS_IPS), written by the control thread under a
// generation seqlock and read by workers without allocating.
import { parseAddress } from '../wire/addr.js';

export const MAX_LOCAL_EGRESS_IPS = 16;
/** Egress IPs + node addresses. */
const SLOTS = 20;
export const LOCAL_NONE = 0;
export const LOCAL_EGRESS_IP = 1;
export const LOCAL_NODE_ADDRESS = 2;
const G = 0,
  N = 1,
  LIST = 2; // [family | kind << 8, a0..a3] × MAX
const WORDS = LIST + 5 * SLOTS;

function word(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

export class LocalEgressIPs {
  private readonly w: Int32Array;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.w = new Int32Array(sab);
  }

  static create(): LocalEgressIPs {
    return new LocalEgressIPs(new SharedArrayBuffer(WORDS * 4));
  }

  static attach(sab: SharedArrayBuffer): LocalEgressIPs {
    return new LocalEgressIPs(sab);
  }

  /** Control thread: the complete list (addresses beyond the maximum are refused with an error). */
  set(egressIPs: readonly string[], nodeAddresses: readonly string[] = []): void {
    const ips = [...egressIPs, ...nodeAddresses];
    if (egressIPs.length > MAX_LOCAL_EGRESS_IPS || ips.length > SLOTS)
      throw new RangeError(`more than ${MAX_LOCAL_EGRESS_IPS} egress IPs on one node`);
    const w = this.w,
      g = Atomics.load(w, G);
    Atomics.store(w, G, (g + 1) | 0);
    ips.forEach((text, i) => {
      const a = parseAddress(text);
      if (!a) throw new RangeError(`"${text}" is not an address`);
      const at = LIST + 5 * i;
      Atomics.store(w, at, a.family | ((i < egressIPs.length ? LOCAL_EGRESS_IP : LOCAL_NODE_ADDRESS) << 8));
      for (let j = 0; j < 4; j++) Atomics.store(w, at + 1 + j, 4 * j < a.bytes.length ? word(a.bytes, 4 * j) : 0);
    });
    Atomics.store(w, N, ips.length);
    Atomics.store(w, G, (g + 2) | 0);
  }

  /** Worker: LOCAL_EGRESS_IP, LOCAL_NODE_ADDRESS or LOCAL_NONE for the address at b[off] (family 4 or 6). */
  kindOf(family: number, b: Uint8Array, off: number): number {
    const w = this.w;
    for (let r = 0; r < 8; r++) {
      const g = Atomics.load(w, G);
      if (g & 1) continue;
      let found = LOCAL_NONE;
      const n = Math.min(w[N]!, SLOTS);
      for (let i = 0; i < n && found === LOCAL_NONE; i++) {
        const at = LIST + 5 * i;
        if ((w[at]! & 0xff) !== family) continue;
        const same =
          w[at + 1] === word(b, off) &&
          (family === 4 ||
            (w[at + 2] === word(b, off + 4) && w[at + 3] === word(b, off + 8) && w[at + 4] === word(b, off + 12)));
        if (same) found = w[at]! >>> 8;
      }
      if (Atomics.load(w, G) === g) return found;
    }
    return LOCAL_NONE;
  }
}
