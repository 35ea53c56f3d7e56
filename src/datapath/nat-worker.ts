// One worker's view of the NAT tables (egress policies, flows, settings, local egress IPs) and
// the scratch the NAT stage (nat-stage.ts) reuses for every packet. Created once per worker.
import { NatFlows } from '../nat/conntrack.js';
import { EgressTable, EGRESS_VALUE_WORDS } from '../nat/egress-table.js';
import { NatSettings } from '../nat/masquerade.js';
import { NatPacket } from '../nat/packet.js';
import { LocalEgressIPs } from '../nat/local-ips.js';

/** The shared memory of the NAT stage (created by the agent's egress controller). */
export interface NatSabs {
  table: SharedArrayBuffer;
  egress: SharedArrayBuffer;
  settings: SharedArrayBuffer;
  local: SharedArrayBuffer;
}

export class NatWorker {
  readonly ct: NatFlows;
  readonly eg: EgressTable;
  readonly st: NatSettings;
  readonly local: LocalEgressIPs;
  readonly p = new NatPacket();
  readonly ev = new Int32Array(EGRESS_VALUE_WORDS);
  readonly addr = new Int32Array(4);
  readonly gw = new Uint8Array(16);
  readonly nh = new Uint8Array(16);
  /** The decision natEgress left for natApply (0: none), and natParse's verdict. */
  pending = 0;
  verdict = 0;

  constructor(s: NatSabs, worker: number) {
    this.ct = new NatFlows(s.table, worker);
    this.eg = EgressTable.attach(s.egress);
    this.st = NatSettings.attach(s.settings);
    this.local = LocalEgressIPs.attach(s.local);
  }
}
