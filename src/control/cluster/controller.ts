// Turns one agent into a node of a cluster: claims pod CIDRs, publishes the node with a
// liveness lease, watches the other nodes and programs a route to each one's pod CIDRs
// (next hop on the underlay, or a VXLAN tunnel), runs the endpoints and the host port.
// The dataplane keeps forwarding with the routes it has whenever the store is away.
import type { Agent } from '../agent.js';
import type { AgentExtension } from '../extension.js';
import type { ClusterConfig } from '../cluster-config.js';
import type { Gateway } from '../port-config.js';
import type { Store, Lease, Watcher, WatchEvent } from '../store/store.js';
import { type Prefix, formatAddress, formatPrefix, parseAddress, parsePrefix, type Address } from '../../wire/addr.js';
import { claimPodCidr, gatewayOf, claimAddress, reclaimAddress } from './ipam.js';
import { NODES, nodeKey, type NodeRecord, addrPrefix } from './keys.js';
import { EndpointManager, type EndpointView } from './endpoints.js';
import { gatewayRoutes, type RouteEntry, tunnelRoute } from '../routes.js';
import { ROUTE_VIA, ROUTE_UNREACHABLE } from '../../tables/layout.js';
import type { WireGuardController } from '../wireguard-controller.js';

export interface NodeView {
  name: string;
  health: string;
  underlay: string[];
  podCIDRs: string[];
  self: boolean;
}

const HOST_PORT = '_host';
const HOST_IFNAME = 'weft_host';

function log(msg: string): void {
  process.stderr.write(`weft: ${msg}\n`);
}

export class ClusterController implements AgentExtension {
  private store?: Store;
  private lease?: Lease;
  private watcher?: Watcher;
  private endpoints?: EndpointManager;
  private podCidrs: { ipv4?: Prefix; ipv6?: Prefix } = {};
  private gateway: Gateway = {};
  private readonly nodes = new Map<string, NodeRecord>();
  private storeHealthy = true;
  private stopped = false;

  /** `wg`: the node's WireGuard device when the cluster encrypts node-to-node traffic (started first). */
  constructor(
    private readonly agent: Agent,
    private readonly cluster: ClusterConfig,
    private readonly wg?: WireGuardController,
  ) {}

  private get name(): string {
    return this.agent.cfg.node;
  }

  private underlay(): { ipv4?: Address; ipv6?: Address } {
    const up = this.agent.cfg.ports.find((p) => p.name === this.cluster.underlayPort)!;
    return { ipv4: up.addresses.find((a) => a.family === 4), ipv6: up.addresses.find((a) => a.family === 6) };
  }

  async start(): Promise<void> {
    const store = await this.agent.store();
    this.store = store;
    const c = this.cluster;
    if (c.ipv4)
      this.podCidrs.ipv4 = await claimPodCidr(store, this.name, c.ipv4, c.podPrefixLength.ipv4, c.podCIDR.ipv4);
    if (c.ipv6)
      this.podCidrs.ipv6 = await claimPodCidr(store, this.name, c.ipv6, c.podPrefixLength.ipv6, c.podCIDR.ipv6);
    this.gateway = {
      ipv4: this.podCidrs.ipv4 && gatewayOf(this.podCidrs.ipv4),
      ipv6: this.podCidrs.ipv6 && gatewayOf(this.podCidrs.ipv6),
    };
    this.agent.routes.set('gateway', gatewayRoutes(this.gateway));
    this.agent.setVxlanGateway(this.gateway);
    // Our own pod CIDRs: an address no endpoint holds is unreachable, never sent back out.
    this.agent.routes.set(
      'podcidr',
      Object.values(this.podCidrs)
        .filter((p): p is Prefix => !!p)
        .map((p) => ({ prefix: p, type: ROUTE_UNREACHABLE, port: -1 })),
    );
    this.endpoints = new EndpointManager(this.agent, store, this.podCidrs, this.gateway);
    for (const problem of await this.endpoints.restore()) log(problem);
    await this.endpoints.reclaim();
    if (c.hostPort) await this.addHostPort(store);
    await this.register();
    this.watcher = await store.watch(
      NODES,
      (e) => this.onNodeEvent(e),
      (e) => {
        this.storeHealthy = false;
        log(`store ${store.url}: ${e.message} (forwarding continues with the routes in place)`);
      },
    );
  }

  /** The node's own stack reaches the cluster CIDRs through the dataplane (cilium_host). */
  private async addHostPort(store: Store): Promise<void> {
    const held = (await store.list(addrPrefix(this.name)))
      .filter((kv) => kv.value === HOST_PORT)
      .map((kv) => parseAddress(kv.key.slice(addrPrefix(this.name).length)));
    const pick = async (cidr: Prefix | undefined, family: 4 | 6): Promise<Address | undefined> => {
      if (!cidr) return undefined;
      const have = held.find((a) => a?.family === family);
      if (have) {
        await reclaimAddress(store, this.name, have, HOST_PORT);
        return have;
      }
      return claimAddress(store, this.name, cidr, HOST_PORT);
    };
    const ipv4 = await pick(this.podCidrs.ipv4, 4);
    const ipv6 = await pick(this.podCidrs.ipv6, 6);
    const clusterCidrs = [this.cluster.ipv4, this.cluster.ipv6].filter((p): p is Prefix => !!p);
    this.agent.addPort(
      {
        name: HOST_PORT,
        kind: 'endpoint',
        mtu: 1500,
        ifname: HOST_IFNAME,
        ipv4,
        ipv6,
        addresses: [],
        peerAddresses: [],
        offloads: this.agent.cfg.offloads,
      },
      this.gateway,
      { tap: HOST_IFNAME, endpointRoutes: clusterCidrs },
    );
  }

  private record(): NodeRecord {
    const u = this.underlay();
    return {
      name: this.name,
      underlay: { ipv4: u.ipv4 && formatAddress(u.ipv4), ipv6: u.ipv6 && formatAddress(u.ipv6) },
      podCIDRs: {
        ipv4: this.podCidrs.ipv4 && formatPrefix(this.podCidrs.ipv4),
        ipv6: this.podCidrs.ipv6 && formatPrefix(this.podCidrs.ipv6),
      },
      mode: this.cluster.mode,
      ...(this.wg ? { wireguard: { publicKey: this.wg.publicKeyBase64(), port: this.wg.cfg.listenPort } } : {}),
    };
  }

  /** Publishes the node under a lease; when the lease is lost (store away too long), retries. */
  private async register(): Promise<void> {
    const store = this.store!;
    const lease = await store.lease(this.cluster.leaseTTL);
    await store.put(nodeKey(this.name), JSON.stringify(this.record()), { lease });
    this.lease = lease;
    lease.onLost(() => void this.reregister());
  }

  private async reregister(): Promise<void> {
    for (let delay = 200; !this.stopped; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.register();
        this.storeHealthy = true;
        log(`store ${this.store!.url}: node ${this.name} registered again`);
        return;
      } catch {
        this.storeHealthy = false;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private onNodeEvent(e: WatchEvent): void {
    this.storeHealthy = true;
    const name = e.key.slice(NODES.length);
    if (name === this.name || name.includes('/')) return;
    if (e.type === 'delete') {
      this.nodes.delete(name);
      this.agent.routes.set(`node:${name}`, []);
      this.wg?.removeNodePeer(name);
      return;
    }
    let rec: NodeRecord;
    try {
      rec = JSON.parse(e.value) as NodeRecord;
    } catch {
      log(`store: ${e.key} is not valid JSON; ignored`);
      return;
    }
    this.nodes.set(name, rec);
    if (this.wg && rec.wireguard && this.encrypt(name, rec)) {
      this.agent.routes.set(`node:${name}`, []); // the tunnel's routes (allowed IPs) carry its pods
      return;
    }
    if (this.wg) log(`node ${name} publishes no WireGuard key: its traffic is not encrypted`);
    this.wg?.removeNodePeer(name);
    this.agent.routes.set(`node:${name}`, this.nodeRoutes(rec));
  }

  /** Peers with node `name` over WireGuard (its pod CIDRs as allowed IPs); false if it cannot be reached. */
  private encrypt(name: string, rec: NodeRecord): boolean {
    const fam =
      this.hasUnderlay(4) && rec.underlay.ipv4 ? 'ipv4' : this.hasUnderlay(6) && rec.underlay.ipv6 ? 'ipv6' : undefined;
    if (!fam || !rec.wireguard) return false;
    const allowed: Prefix[] = [];
    for (const f of ['ipv4', 'ipv6'] as const) {
      const p = rec.podCIDRs[f] ? parsePrefix(rec.podCIDRs[f]!, { allowHostBits: false }) : undefined;
      if (p && typeof p !== 'string') allowed.push(p);
    }
    this.wg!.setNodePeer(
      name,
      rec.wireguard.publicKey,
      { address: rec.underlay[fam]!, port: rec.wireguard.port },
      allowed,
      rec.underlay,
    );
    return true;
  }

  /** Routes to a remote node's pod CIDRs through its underlay address. */
  private nodeRoutes(rec: NodeRecord): RouteEntry[] {
    const port = this.agent.ports.find(this.cluster.underlayPort)?.index ?? -1;
    const out: RouteEntry[] = [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const cidr = rec.podCIDRs[fam] ? parsePrefix(rec.podCIDRs[fam]!, { allowHostBits: false }) : undefined;
      if (!cidr || typeof cidr === 'string') continue;
      if (this.cluster.mode === 'vxlan') {
        // Any underlay family carries any inner family; prefer the same one.
        const remote = parseAddress(rec.underlay[fam] ?? rec.underlay.ipv4 ?? rec.underlay.ipv6 ?? '');
        if (remote && this.hasUnderlay(remote.family)) out.push(tunnelRoute(cidr, remote, port));
        continue;
      }
      // Direct routing: the remote node is the next hop for its pods, on the same underlay.
      const via = parseAddress(rec.underlay[fam] ?? '') ?? undefined;
      if (!via) continue;
      out.push({ prefix: cidr, type: ROUTE_VIA, port, via });
    }
    return out;
  }

  private hasUnderlay(family: 4 | 6): boolean {
    const u = this.underlay();
    return family === 4 ? !!u.ipv4 : !!u.ipv6;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    try {
      await this.lease?.revoke();
    } catch {
      // The store is away: the lease expires by itself.
    }
  }

  nodeViews(): NodeView[] {
    const self = this.record();
    const fmt = (r: NodeRecord, isSelf: boolean): NodeView => ({
      name: r.name,
      health: isSelf ? (this.storeHealthy ? 'ok' : 'store unreachable') : 'alive (lease held)',
      underlay: [r.underlay.ipv4, r.underlay.ipv6].filter((x): x is string => !!x),
      podCIDRs: [r.podCIDRs.ipv4, r.podCIDRs.ipv6].filter((x): x is string => !!x),
      self: isSelf,
    });
    return [
      fmt(self, true),
      ...[...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name)).map((r) => fmt(r, false)),
    ];
  }

  readonly api = {
    'GET /v1/nodes': () => this.nodeViews(),
    'GET /v1/endpoints': (): EndpointView[] => this.endpoints!.list(),
    'POST /v1/endpoints': (r: { body: unknown }) => this.endpoints!.add(r.body),
    'DELETE /v1/endpoints/*': async (r: { params: string[] }) => {
      await this.endpoints!.delete(r.params[0]);
      return { deleted: r.params[0] };
    },
  };

  status(): Record<string, unknown> {
    return { nodes: this.nodeViews(), store: this.agent.storeUrl };
  }
}
