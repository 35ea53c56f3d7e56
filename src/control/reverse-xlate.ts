// On every cluster node: the reverse of `l4Xlate: backend`. The LB rewrote the destination
// port to the backend's; this node's DSR backends answer from it; the workers put the service
// port back (src/datapath/lb-reverse.ts) using the table programmed here from the services in
// the store.
import type { Agent } from './agent.js';
import type { AgentExtension, WorkerTables } from './extension.js';
import type { Watcher, WatchEvent } from './store/store.js';
import { parseAddress } from '../wire/addr.js';
import { SharedHashMap } from '../tables/hashmap.js';
import { SVC_KEY_WORDS } from '../tables/layout.js';
import { fillServiceKey } from '../lb/tables.js';
import { parseService, protoNumber, SERVICES } from '../lb/service.js';
import { REVERSE_VALUE_WORDS } from '../datapath/lb-reverse.js';

export class ReverseXlateController implements AgentExtension {
  /** (VIP, backend port, protocol) → service port, for replies of DSR backends. */
  private readonly table: SharedHashMap;
  readonly workerTables: WorkerTables;
  private watcher?: Watcher;
  /** Keys each service installed, so an update or delete removes exactly those. */
  private readonly installed = new Map<string, Int32Array[]>();

  constructor(
    private readonly agent: Agent,
    capacity = 4096,
  ) {
    this.table = SharedHashMap.create({ keyWords: SVC_KEY_WORDS, valueWords: REVERSE_VALUE_WORDS, capacity });
    this.workerTables = { reverseXlateSab: this.table.sab };
  }

  async start(): Promise<void> {
    const store = await this.agent.store();
    this.watcher = await store.watch(SERVICES, (e) => this.onEvent(e));
  }

  private onEvent(e: WatchEvent): void {
    const name = e.key.slice(SERVICES.length);
    for (const k of this.installed.get(name) ?? []) this.table.delete(k, 0);
    this.installed.delete(name);
    if (e.type === 'delete') return;
    let spec: ReturnType<typeof parseService>;
    try {
      spec = parseService(JSON.parse(e.value), e.key);
    } catch {
      return; // the LB agents report invalid services
    }
    if (spec.l4Xlate !== 'backend') return;
    const vip = parseAddress(spec.vip)!;
    const keys: Int32Array[] = [];
    for (const b of spec.backends) {
      if (b.port === spec.port) continue;
      const k = new Int32Array(SVC_KEY_WORDS);
      fillServiceKey(k, vip.family, vip.bytes, 0, b.port, protoNumber(spec.protocol));
      if (this.table.insert(k, 0, Int32Array.of(spec.port), 0)) keys.push(k);
    }
    this.installed.set(name, keys);
  }

  async stop(): Promise<void> {
    this.watcher?.close();
  }
}
