// Endpoints ("pods"): a namespace with a TAP port whose kernel side is its eth0, addresses
// from the node's pod CIDRs, labels for policies. Kept in the store, so an agent restart
// re-creates the ports with the same addresses.
import type { Store } from '../store/store.js';
import type { Agent, PortStats } from '../agent.js';
import type { PortConfig, Gateway } from '../port-config.js';
import { type Address, type Prefix, formatAddress, parseAddress } from '../../wire/addr.js';
import { claimAddress, reclaimAddress, releaseAddress, addressOf } from './ipam.js';
import { endpointKey, ENDPOINTS, type EndpointRecord } from './keys.js';
import { ApiError } from '../api.js';
import { netnsExists, ip } from '../kernel-side.js';
import { createHash } from 'node:crypto';

const NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

const NO_STATS: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxSuperFrames: 0, txSuperFrames: 0 };
export interface EndpointView extends EndpointRecord {
  port: string;
  stats: PortStats;
}

/** TAP name of an endpoint in the node namespace: "lxc" + hash, as Cilium names them. */
export function tapName(name: string): string {
  return `lxc${createHash('sha256').update(name).digest('hex').slice(0, 11)}`;
}

export function validateLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw new ApiError(400, 'labels must be a mapping of key to value');
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY.test(k))
      throw new ApiError(400, `label key "${k}" is not valid (letters, digits, -_. and an optional prefix/)`);
    if (typeof v !== 'string' || !LABEL_VALUE.test(v))
      throw new ApiError(400, `label ${k}: value "${String(v)}" is not valid`);
  }
  return labels as Record<string, string>;
}

export class EndpointManager {
  private readonly records = new Map<string, EndpointRecord>();

  constructor(
    private readonly agent: Agent,
    private readonly store: Store,
    private readonly podCidrs: { ipv4?: Prefix; ipv6?: Prefix },
    private readonly gateway: Gateway,
  ) {}

  private get node(): string {
    return this.agent.cfg.node;
  }

  private portConfig(r: EndpointRecord): PortConfig {
    return {
      name: r.name,
      kind: 'endpoint',
      mtu: this.agent.cfg.ports.find((p) => p.kind === 'uplink')?.mtu ?? 1500,
      netns: r.netns,
      ifname: 'eth0',
      ipv4: addressOf(r.ipv4),
      ipv6: addressOf(r.ipv6),
      addresses: [],
      peerAddresses: [],
      dsrBackend: (r.vips ?? []).length > 0,
      offloads: this.agent.cfg.offloads,
    };
  }

  /** Puts the endpoint's VIPs on its loopback (idempotent: an existing address is fine). */
  private addVips(r: EndpointRecord): void {
    for (const v of r.vips ?? []) {
      try {
        ip(['-n', r.netns, 'addr', 'add', `${v}/${v.includes(':') ? 128 : 32}`, 'dev', 'lo']);
      } catch (e) {
        if (!/File exists/.test((e as Error).message)) throw e;
      }
    }
  }

  /** Re-creates the ports of the endpoints the store holds for this node (agent restart). */
  async restore(): Promise<string[]> {
    const problems: string[] = [];
    for (const kv of await this.store.list(`${ENDPOINTS}${this.node}/`)) {
      let r: EndpointRecord;
      try {
        r = JSON.parse(kv.value) as EndpointRecord;
      } catch {
        problems.push(`${kv.key}: not valid JSON, skipped`);
        continue;
      }
      if (!netnsExists(r.netns)) {
        problems.push(
          `endpoint ${r.name}: namespace ${r.netns} is gone, skipped (delete it with weft endpoint delete ${r.name})`,
        );
        this.records.set(r.name, r);
        continue;
      }
      try {
        this.agent.addPort(this.portConfig(r), this.gateway, { tap: tapName(r.name) });
        this.addVips(r);
        this.records.set(r.name, r);
      } catch (e) {
        problems.push(`endpoint ${r.name}: ${(e as Error).message}`);
      }
    }
    return problems;
  }

  async add(body: unknown): Promise<EndpointView> {
    const b = (body ?? {}) as {
      name?: unknown;
      netns?: unknown;
      labels?: unknown;
      vips?: unknown;
      namespace?: unknown;
    };
    if (typeof b.name !== 'string' || !NAME.test(b.name))
      throw new ApiError(
        400,
        `endpoint name ${JSON.stringify(b.name)} is not valid (lower-case letters, digits, - and ., at most 63)`,
      );
    const name = b.name;
    const netns = b.netns === undefined ? name : b.netns;
    if (typeof netns !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(netns))
      throw new ApiError(400, `netns ${JSON.stringify(netns)} is not valid`);
    if (!netnsExists(netns))
      throw new ApiError(
        400,
        `network namespace "${netns}" does not exist (weft endpoint add creates it; with the API, create it first)`,
      );
    const labels = validateLabels(b.labels);
    const namespace = b.namespace === undefined ? 'default' : b.namespace;
    if (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
      throw new ApiError(
        400,
        `namespace ${JSON.stringify(b.namespace)} is not a valid name (a DNS label: lower-case letters, digits and ` +
          `-, at most 63)`,
      );
    const vips = b.vips === undefined ? [] : b.vips;
    if (!Array.isArray(vips) || vips.some((v) => typeof v !== 'string' || !parseAddress(v)))
      throw new ApiError(400, `vips must be a list of IP addresses, got ${JSON.stringify(b.vips)}`);
    if (this.records.has(name)) throw new ApiError(409, `endpoint "${name}" already exists`);
    const claimed: Address[] = [];
    const record: EndpointRecord = {
      name,
      node: this.node,
      netns,
      labels,
      namespace,
      ...(vips.length ? { vips: vips.map((v: string) => formatAddress(parseAddress(v)!)) } : {}),
    };
    try {
      if (this.podCidrs.ipv4) claimed.push(await claimAddress(this.store, this.node, this.podCidrs.ipv4, name));
      if (this.podCidrs.ipv6) claimed.push(await claimAddress(this.store, this.node, this.podCidrs.ipv6, name));
      record.ipv4 = claimed.find((a) => a.family === 4) && formatAddress(claimed.find((a) => a.family === 4)!);
      record.ipv6 = claimed.find((a) => a.family === 6) && formatAddress(claimed.find((a) => a.family === 6)!);
      this.agent.addPort(this.portConfig(record), this.gateway, { tap: tapName(name) });
      this.addVips(record);
    } catch (e) {
      for (const a of claimed) await releaseAddress(this.store, this.node, a).catch(() => undefined);
      throw e instanceof ApiError ? e : new ApiError(409, (e as Error).message);
    }
    this.records.set(name, record);
    await this.store.put(endpointKey(this.node, name), JSON.stringify(record));
    return this.view(record);
  }

  async delete(name: string): Promise<void> {
    const r = this.records.get(name);
    if (!r) throw new ApiError(404, `no endpoint named "${name}" on node ${this.node}`);
    if (this.agent.ports.find(name)) await this.agent.removePort(name);
    for (const a of [addressOf(r.ipv4), addressOf(r.ipv6)]) if (a) await releaseAddress(this.store, this.node, a);
    await this.store.delete(endpointKey(this.node, name));
    this.records.delete(name);
  }

  /** Keeps a restored endpoint's addresses claimed (idempotent). */
  async reclaim(): Promise<void> {
    for (const r of this.records.values()) {
      for (const a of [addressOf(r.ipv4), addressOf(r.ipv6)])
        if (a) await reclaimAddress(this.store, this.node, a, r.name);
    }
  }

  list(): EndpointView[] {
    return [...this.records.values()].map((r) => this.view(r));
  }

  private view(r: EndpointRecord): EndpointView {
    const rt = this.agent.ports.find(r.name);
    return { ...r, port: rt ? rt.tap : '(missing)', stats: rt ? this.agent.portStats(rt) : NO_STATS };
  }
}
