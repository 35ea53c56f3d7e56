// The egress gateway on every cluster node (issue 6): policies, endpoints, nodes and egress IP
// owners from the store → the shared egress table the workers read; masquerade settings; the
// connection table's sweeper; egress IP ownership with failover; the egress API.
//
// Ownership: a node lists the egress IPs it may own under egress/ips/<node> (with its lease),
// so `weft egress apply` can refuse an egress IP no node may own. The owner of an egress IP
// holds egress/owners/<ip> under its lease, taken with an atomic create: the primary (ownIPs)
// tries at once, a standby (standbyFor) after a short grace at start, both every 250 ms. When
// the owner's agent dies its lease expires, the key goes, and the next create (the standby's)
// wins: it installs a local route for the egress IP on the uplink (so ARP / NDP are answered),
// announces it (gratuitous ARP / unsolicited NA, three times), and every node's egress table
// points at it as soon as their watches see the new owner. No preemption: a primary that comes
// back stays standby until the IP is free again (moving live flows twice gains nothing).
import type { Agent } from './agent.js';
import type { AgentExtension, WorkerTables } from './extension.js';
import type { ClusterConfig } from './cluster-config.js';
import type { EgressConfig } from './egress-config.js';
import type { Store, Lease, Watcher, WatchEvent } from './store/store.js';
import { ApiError, type ApiRoutes } from './api.js';
import { parseAddress, formatAddress, formatPrefix, maskBytes, type Prefix } from '../wire/addr.js';
import { NODES, ENDPOINTS, type NodeRecord, type EndpointRecord } from './cluster/keys.js';
import type { RouteEntry } from './routes.js';
import { ROUTE_LOCAL } from '../tables/layout.js';
import { loadNative, VNET_WORDS } from '../native/tap.js';
import { ctNowSec } from '../lb/conntrack.js';
import {
  NatTable,
  EgressTable,
  NatSettings,
  LocalEgressIPs,
  compileEgress,
  parsePolicyFile,
  parsePolicy,
  policyManifest,
  policyKey,
  unownableEgressIPs,
  PolicyError,
  type EgressPolicy,
  type EgressEndpoint,
  type EgressNode,
  MAX_NON_MASQ,
  EV_POLICY,
} from '../nat/index.js';
import type { NatSabs } from '../datapath/nat-worker.js';
import { announceFrame } from './egress-announce.js';

const POLICIES = 'egress-policies/';
const OWNERS = 'egress/owners/';
const IPS = 'egress/ips/';
const CLAIM_MS = 250;
const STANDBY_GRACE_MS = 1000;
const SWEEP_MS = 1000;

function log(msg: string): void {
  process.stderr.write(`weft: egress: ${msg}\n`);
}

export class EgressController implements AgentExtension {
  readonly table: NatTable;
  readonly egress: EgressTable;
  readonly settings = NatSettings.create();
  readonly local = LocalEgressIPs.create();
  readonly workerTables: WorkerTables;
  private store?: Store;
  private lease?: Lease;
  private readonly watchers: Watcher[] = [];
  private readonly policies = new Map<string, EgressPolicy>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly owners = new Map<string, string>();
  private readonly held = new Set<string>();
  private readonly problems = new Set<string>();
  private nodeAddresses: string[] = [];
  private timers: NodeJS.Timeout[] = [];
  private compileQueued = false;
  private claiming = false;
  private stopped = false;
  private readonly startedAt = Date.now();
  private lastSync = { inserted: 0, updated: 0, deleted: 0, refused: 0 };

  constructor(
    private readonly agent: Agent,
    readonly cfg: EgressConfig,
    private readonly cluster: ClusterConfig,
  ) {
    this.table = NatTable.create({
      capacity: cfg.conntrackCapacity,
      workers: agent.cfg.workers,
      portMin: cfg.portMin,
      portMax: cfg.portMax,
    });
    this.egress = EgressTable.create(cfg.policyEntries);
    const natSabs: NatSabs = {
      table: this.table.sab,
      egress: this.egress.sab,
      settings: this.settings.sab,
      local: this.local.sab,
    };
    this.workerTables = { natSabs };
  }

  private get name(): string {
    return this.agent.cfg.node;
  }

  private uplink(): { prefixes: Prefix[]; index: number } {
    const up = this.agent.cfg.ports.find((p) => p.name === this.cluster.underlayPort)!;
    return { prefixes: up.addresses, index: this.agent.ports.find(up.name)?.index ?? -1 };
  }

  /**
   * Masquerade source = the node's underlay addresses; never translated: cluster CIDRs, underlay subnets, configured
   * CIDRs.
   */
  private configureMasquerade(): void {
    const { prefixes } = this.uplink();
    const v4 = prefixes.find((p) => p.family === 4),
      v6 = prefixes.find((p) => p.family === 6);
    this.nodeAddresses = [v4, v6].filter((p): p is Prefix => !!p).map((p) => formatAddress(p));
    const cidrs: Prefix[] = [this.cluster.ipv4, this.cluster.ipv6].filter((p): p is Prefix => !!p);
    for (const p of prefixes) cidrs.push({ family: p.family, bytes: maskBytes(p.bytes, p.len), len: p.len });
    cidrs.push(...this.cfg.nonMasqueradeCIDRs);
    const texts = [...new Set(cidrs.map(formatPrefix))];
    for (const fam of [4, 6]) {
      const n = texts.filter((t) => (fam === 4) === !t.includes(':')).length;
      if (n > MAX_NON_MASQ)
        throw new Error(
          `egress.nonMasqueradeCIDRs: more than ${MAX_NON_MASQ} IPv${fam} CIDRs with the cluster CIDRs and ` +
            `underlay subnets`,
        );
    }
    this.settings.configure({
      enabled: this.cfg.masquerade,
      nodeIPv4: v4 && formatAddress(v4),
      nodeIPv6: v6 && formatAddress(v6),
      nonMasqueradeCIDRs: texts,
    });
    this.local.set([...this.held], this.nodeAddresses);
  }

  async start(): Promise<void> {
    this.configureMasquerade();
    const store = await this.agent.store();
    this.store = store;
    await this.grantLease();
    const onErr = (e: Error): void => log(`store ${store.url}: ${e.message} (the egress table keeps its entries)`);
    this.watchers.push(
      await store.watch(POLICIES, (e) => this.onPolicy(e), onErr),
      await store.watch(ENDPOINTS, (e) => this.onRecord(e, ENDPOINTS, this.endpoints), onErr),
      await store.watch(NODES, (e) => this.onRecord(e, NODES, this.nodes), onErr),
      await store.watch(OWNERS, (e) => this.onOwner(e), onErr),
    );
    this.compile();
    const claim = setInterval(() => void this.claim(), CLAIM_MS);
    const sweep = setInterval(() => this.table.sweep(ctNowSec(performance.now()), this.cfg.timeouts), SWEEP_MS);
    claim.unref();
    sweep.unref();
    this.timers.push(claim, sweep);
    await this.claim();
  }

  private async grantLease(): Promise<void> {
    const store = this.store!;
    const lease = await store.lease(this.cluster.leaseTTL);
    this.lease = lease;
    await store.put(`${IPS}${this.name}`, JSON.stringify({ own: this.cfg.ownIPs, standby: this.cfg.standbyFor }), {
      lease,
    });
    lease.onLost(() => {
      if (this.stopped) return;
      log('lease lost (store away too long): giving up the egress IPs this node held');
      for (const ip of [...this.held]) this.release(ip);
      this.lease = undefined;
    });
  }

  /** Tries to take the egress IPs this node may own and nobody holds. */
  private async claim(): Promise<void> {
    if (this.claiming || this.stopped || !this.store) return;
    this.claiming = true;
    try {
      if (!this.lease) await this.grantLease();
      const want = [
        ...this.cfg.ownIPs,
        ...(Date.now() - this.startedAt >= STANDBY_GRACE_MS ? this.cfg.standbyFor : []),
      ];
      for (const ip of want) {
        if (this.held.has(ip) || this.owners.has(ip)) continue;
        if (await this.store.create(`${OWNERS}${ip}`, this.name, { lease: this.lease })) {
          this.owners.set(ip, this.name);
          this.take(ip);
        }
      }
    } catch (e) {
      log(`claiming egress IPs: ${(e as Error).message}`);
    } finally {
      this.claiming = false;
    }
  }

  private take(ip: string): void {
    if (this.held.has(ip)) return;
    this.held.add(ip);
    log(`${this.name} now owns egress IP ${ip}`);
    this.programHeld();
    this.announce(ip);
    this.scheduleCompile();
  }

  private release(ip: string): void {
    if (!this.held.delete(ip)) return;
    log(`${this.name} no longer owns egress IP ${ip}`);
    this.programHeld();
    this.scheduleCompile();
  }

  /** Local routes for the held egress IPs on the uplink (ARP / NDP answers), and the workers' list. */
  private programHeld(): void {
    const { index } = this.uplink();
    const routes: RouteEntry[] = [...this.held].map((ip) => {
      const a = parseAddress(ip)!;
      return { prefix: { ...a, len: a.family === 4 ? 32 : 128 }, type: ROUTE_LOCAL, port: index };
    });
    this.agent.routes.set('egress', routes);
    this.local.set([...this.held], this.nodeAddresses);
  }

  /** Gratuitous ARP / unsolicited NA for ip out of the uplink, now and twice more. */
  private announce(ip: string): void {
    const send = (): void => {
      const rt = this.agent.ports.find(this.cluster.underlayPort);
      const a = parseAddress(ip);
      if (!rt || !a || this.stopped || !this.held.has(ip)) return;
      const frame = announceFrame(a, rt.mac);
      try {
        // A TAP with offloads takes a virtio_net_hdr in front of every frame: an empty one here.
        const vnet = rt.offloads !== 0 ? new Int32Array(VNET_WORDS) : undefined;
        loadNative().txBatch(rt.fds[0], frame, Int32Array.of(0, frame.length), 0, 1, undefined, vnet);
      } catch (e) {
        log(`announcing ${ip}: ${(e as Error).message}`);
      }
    };
    send();
    for (const ms of [200, 1000]) setTimeout(send, ms).unref();
  }

  private onPolicy(e: WatchEvent): void {
    const name = e.key.slice(POLICIES.length);
    if (e.type === 'delete') this.policies.delete(name);
    else {
      try {
        this.policies.set(name, parsePolicy(JSON.parse(e.value)));
      } catch (err) {
        log(`store: ${e.key}: ${(err as Error).message}; ignored`);
        return;
      }
    }
    this.scheduleCompile();
  }

  private onRecord<T>(e: WatchEvent, prefix: string, into: Map<string, T>): void {
    const key = e.key.slice(prefix.length);
    if (e.type === 'delete') into.delete(key);
    else {
      try {
        into.set(key, JSON.parse(e.value) as T);
      } catch {
        return;
      }
    }
    this.scheduleCompile();
  }

  private onOwner(e: WatchEvent): void {
    const ip = e.key.slice(OWNERS.length);
    if (e.type === 'delete') this.owners.delete(ip);
    else this.owners.set(ip, e.value);
    // Our key is gone or someone else's (lease expired while we were stalled): let go.
    if (this.held.has(ip) && this.owners.get(ip) !== this.name) this.release(ip);
    this.scheduleCompile();
    if (e.type === 'delete') void this.claim();
  }

  private scheduleCompile(): void {
    if (this.compileQueued) return;
    this.compileQueued = true;
    setImmediate(() => {
      this.compileQueued = false;
      this.compile();
    });
  }

  private compile(): void {
    const endpoints: EgressEndpoint[] = [...this.endpoints.values()].map((r) => ({
      name: `${r.node}/${r.name}`,
      labels: r.labels ?? {},
      namespace: r.namespace,
      addresses: [r.ipv4, r.ipv6].filter((x): x is string => !!x),
    }));
    const nodes: EgressNode[] = [...this.nodes.values()]
      .filter((n) => n?.name)
      .map((n) => ({ name: n.name, ipv4: n.underlay?.ipv4, ipv6: n.underlay?.ipv6 }));
    if (!this.nodes.has(this.name)) {
      const v4 = this.nodeAddresses.find((a) => !a.includes(':')),
        v6 = this.nodeAddresses.find((a) => a.includes(':'));
      nodes.push({ name: this.name, ipv4: v4, ipv6: v6 });
    }
    // Only live owners count: the held set is the truth for this node.
    const owners = new Map([...this.owners].filter(([ip, n]) => n !== this.name || this.held.has(ip)));
    for (const ip of this.held) owners.set(ip, this.name);
    const { entries, problems } = compileEgress({
      policies: [...this.policies.values()],
      endpoints,
      owners,
      nodes,
      localNode: this.name,
    });
    this.lastSync = this.egress.sync(entries);
    for (const p of problems) if (!this.problems.has(p)) log(p);
    this.problems.clear();
    for (const p of problems) this.problems.add(p);
    if (this.lastSync.refused)
      log(`egress table full: ${this.lastSync.refused} entries refused (egress.policyEntries)`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of this.watchers) w.close();
    try {
      await this.lease?.revoke();
    } catch {
      // The store is away: the lease expires by itself.
    }
  }

  /** Every egress IP some live node may own (from egress/ips/*). */
  private async ownable(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const kv of await this.store!.list(IPS)) {
      try {
        const v = JSON.parse(kv.value) as { own?: string[]; standby?: string[] };
        for (const ip of [...(v.own ?? []), ...(v.standby ?? [])]) out.add(ip);
      } catch {
        // a broken record names nothing
      }
    }
    return out;
  }

  private async apply(body: unknown): Promise<{ applied: string[] }> {
    const b = (body ?? {}) as { text?: unknown; source?: unknown };
    if (typeof b.text !== 'string') throw new ApiError(400, "body.text: the policy file's text is required");
    let policies: EgressPolicy[];
    try {
      policies = parsePolicyFile(b.text, typeof b.source === 'string' ? b.source : 'policy');
    } catch (e) {
      if (e instanceof PolicyError) throw new ApiError(400, e.message);
      throw e;
    }
    if (policies.length === 0)
      throw new ApiError(400, `${typeof b.source === 'string' ? b.source : 'policy'}: no policy in the file`);
    const ownable = await this.ownable();
    const problems = policies.flatMap((p) => unownableEgressIPs(p, ownable).map((m) => `policy ${p.name}: ${m}`));
    if (problems.length) throw new ApiError(400, `${problems.join('\n')}\nnothing applied`);
    for (const p of policies) await this.store!.put(policyKey(p.name), JSON.stringify(policyManifest(p)));
    // Program now rather than when the watch comes round.
    for (const p of policies) this.policies.set(p.name, p);
    this.compile();
    return { applied: policies.map((p) => p.name) };
  }

  private conntrack(): unknown[] {
    return this.table.entries(ctNowSec(performance.now()));
  }

  readonly api: ApiRoutes = {
    'GET /v1/egress-policies': () => {
      // compileEgress numbers policies in name order (the policy index of each entry).
      const names = [...this.policies.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const count = new Map<number, number>();
      for (const e of this.egress.entries()) count.set(e.value[EV_POLICY]!, (count.get(e.value[EV_POLICY]!) ?? 0) + 1);
      return names.map((n, i) => ({
        ...policyManifest(this.policies.get(n)!),
        status: { entries: count.get(i) ?? 0 },
      }));
    },
    'POST /v1/egress-policies': ({ body }) => this.apply(body),
    'DELETE /v1/egress-policies/*': async ({ params }) => {
      if (!(await this.store!.delete(policyKey(params[0]))))
        throw new ApiError(404, `no egress policy named "${params[0]}"`);
      this.policies.delete(params[0]);
      this.compile();
      return { deleted: params[0] };
    },
    'GET /v1/egress-conntrack': () => this.conntrack(),
    'GET /v1/egress': () => this.status(),
  };

  status(): Record<string, unknown> {
    const s = this.table.stats();
    const e = this.egress.stats();
    return {
      egress: {
        masquerade: this.cfg.masquerade,
        ownIPs: this.cfg.ownIPs,
        standbyFor: this.cfg.standbyFor,
        held: [...this.held].sort(),
        owners: Object.fromEntries([...this.owners].sort()),
        policies: this.policies.size,
        ports: `${this.cfg.portMin}-${this.cfg.portMax}`,
        conntrack: s,
        policyEntries: { size: e.size, capacity: e.capacity, refused: e.refused },
        problems: [...this.problems],
      },
    };
  }
}
