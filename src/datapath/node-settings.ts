// Node-wide dataplane settings in shared memory (layout in ../tables/layout.ts): the control
// thread is the only writer, workers read the words per packet. Today: VXLAN on/off, VNI and
// UDP port. A worker started without a settings buffer gets a private one with VXLAN off.
import { SETTINGS_WORDS, SET_VXLAN_ENABLED, SET_VXLAN_VNI, SET_VXLAN_PORT } from '../tables/layout.js';
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
}
