// Node-wide dataplane settings in shared memory (layout in ../tables/layout.ts): the control
// thread is the only writer, workers read the words per packet. Today: VXLAN on/off, VNI and
// UDP port; the load balancer's outer source prefixes. A worker started without a settings buffer gets a private one
// with VXLAN off.
import {
  SETTINGS_WORDS,
  SET_VXLAN_ENABLED,
  SET_VXLAN_VNI,
  SET_VXLAN_PORT,
  SET_LB4_SRC_PLEN1,
  SET_LB4_SRC,
  SET_LB6_SRC_PLEN1,
  SET_LB6_SRC,
} from '../tables/layout.js';
import { VXLAN_DEFAULT_PORT, VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI } from '../wire/vxlan.js';

export class NodeSettings {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.words = new Int32Array(sab);
  }

  static create(): NodeSettings {
    const s = new NodeSettings(new SharedArrayBuffer(SETTINGS_WORDS * 4));
    s.words[SET_VXLAN_VNI] = VXLAN_DEFAULT_VNI;
    s.words[SET_VXLAN_PORT] = VXLAN_DEFAULT_PORT;
    return s;
  }

  static attach(sab: SharedArrayBuffer): NodeSettings {
    return new NodeSettings(sab);
  }

  /** Control thread only. Turning VXLAN on publishes VNI and port first. */
  setVxlan(enabled: boolean, vni: number, port: number): void {
    if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_MAX_VNI) throw new RangeError(`VNI ${vni} out of range`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`UDP port ${port} out of range`);
    if (!enabled) Atomics.store(this.words, SET_VXLAN_ENABLED, 0);
    Atomics.store(this.words, SET_VXLAN_VNI, vni);
    Atomics.store(this.words, SET_VXLAN_PORT, port);
    if (enabled) Atomics.store(this.words, SET_VXLAN_ENABLED, 1);
  }

  vxlanEnabled(): boolean {
    return this.words[SET_VXLAN_ENABLED] === 1;
  }

  vxlanVni(): number {
    return this.words[SET_VXLAN_VNI];
  }

  vxlanPort(): number {
    return this.words[SET_VXLAN_PORT];
  }

  /**
   * Control thread only: the prefix the load balancer takes outer source addresses of one
   * family from (`addr` 4 or 16 bytes; host bits beyond `prefixLen` are ignored), or null to
   * use the egress port's address. The prefix is withdrawn while its words change, so a worker
   * sees the old prefix, none (port address), or the new one; never a mix.
   */
  setLbSourcePrefix(family: 4 | 6, addr: Uint8Array | null, prefixLen = family === 4 ? 32 : 128): void {
    const plenWord = family === 4 ? SET_LB4_SRC_PLEN1 : SET_LB6_SRC_PLEN1;
    const base = family === 4 ? SET_LB4_SRC : SET_LB6_SRC;
    const n = family === 4 ? 1 : 4;
    Atomics.store(this.words, plenWord, 0);
    if (addr === null) {
      for (let i = 0; i < n; i++) Atomics.store(this.words, base + i, 0);
      return;
    }
    if (addr.length !== 4 * n) throw new RangeError(`IPv${family} prefix needs ${4 * n} bytes, got ${addr.length}`);
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32 * n)
      throw new RangeError(`prefix length ${prefixLen} out of range`);
    for (let i = 0; i < n; i++) {
      const bits = Math.max(0, Math.min(32, prefixLen - 32 * i));
      const mask = bits === 0 ? 0 : bits === 32 ? -1 : ~(0xffffffff >>> bits);
      const o = 4 * i;
      const w = (addr[o] << 24) | (addr[o + 1] << 16) | (addr[o + 2] << 8) | addr[o + 3];
      Atomics.store(this.words, base + i, w & mask);
    }
    Atomics.store(this.words, plenWord, prefixLen + 1);
  }

  /** The outer source prefix length of a family, or -1 when none is set. */
  lbSourcePrefixLen(family: number): number {
    return this.words[family === 4 ? SET_LB4_SRC_PLEN1 : SET_LB6_SRC_PLEN1] - 1;
  }
}
