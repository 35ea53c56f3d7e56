// The WireGuard device of an agent (a `wireguard:` config section): the UAPI socket that `wg`
// talks to, the configuration model behind it, the WgDevice running handshakes and timers,
// and the glue to the workers — the rings they hand handshake messages and session requests
// through, the ring datagrams go back out on, the WireGuard pseudo-port and its routes (the
// peers' allowed IPs, the device's own addresses), and the cryptokey table.
import type { Agent } from './agent.js';
import type { AgentExtension, WorkerTables } from './extension.js';
import type { WireGuardConfig } from './wireguard-config.js';
import type { RouteEntry } from './routes.js';
import { linkLocalFromMac, formatAddress, maskBytes, type Prefix } from '../wire/addr.js';
import { WgDevice, type Datagram } from '../wireguard/device.js';
import { systemClock } from '../wireguard/clock.js';
import {
  WgShared,
  MSG_HANDSHAKE,
  MSG_NEED_SESSION,
  MSG_CONFIRMED,
  MSG_SEND,
  RING_META_WORDS,
} from '../wireguard/dataplane-tables.js';
import { generatePrivateKey } from '../wireguard/x25519.js';
import { DeviceConfig, UapiServer, type ChangeEvent, makeEndpoint } from '../wireguard/uapi/index.js';
import type { Endpoint as UapiEndpoint } from '../wireguard/uapi/index.js';
import type { Endpoint } from '../wireguard/tunnel.js';
import { parseAddress } from '../wire/addr.js';
import { WG_PORT, ROUTE_CONNECTED, ROUTE_LOCAL } from '../tables/layout.js';
import { PORT_KIND_WIREGUARD } from '../tables/port-table.js';

/** The WireGuard port's MAC (never on a wire: decrypted frames carry it), locally administered. */
const WG_MAC = Uint8Array.of(0x02, 0x77, 0x65, 0x66, 0x74, 0x77);
const POLL_MS = 10;
const TICK_MS = 100;
const STATS_MS = 500;
/** Handshake messages per poll above which the device counts as under load (cookies, rate limits). */
const LOAD_THRESHOLD = 32;
const LOAD_HOLD_MS = 1000;
/**
 * The handshake pool (handshake-pool.ts): threads identifying initiations (the X25519 off this
 * thread), initiations per batch, batches in flight. Saturated = under load; beyond, dropped.
 */
const HANDSHAKE_POOL = { threads: 1, batchSize: 32, maxInFlight: 2 };
/**
 * Milliseconds of a poll spent on handshake messages (MAC checks, cookie replies) at most;
 * beyond, the poll's remaining handshake messages are dropped and counted (`overBudget`), so a
 * flood larger than this thread can answer leaves it free for the API, `wg` and the timers.
 * Within the budget, sources take turns (one message per source address per round), so a
 * peer among a few flooding addresses still gets its initiation looked at.
 */
const HANDSHAKE_BUDGET_MS = 4;
/** Handshake messages a poll keeps for its turns at most; beyond, dropped (`overBudget`). */
const HANDSHAKE_QUEUE_MAX = 1024;

function log(msg: string): void {
  process.stderr.write(`weft: wireguard: ${msg}\n`);
}

export class WireGuardController implements AgentExtension {
  readonly model: DeviceConfig;
  device!: WgDevice;
  private uapi?: UapiServer;
  private timer?: NodeJS.Timeout;
  private readonly shared: WgShared;
  readonly workerTables: WorkerTables;
  private readonly scratch: Uint8Array;
  private readonly meta = new Int32Array(RING_META_WORDS);
  private readonly metaBytes = new Uint8Array(this.meta.buffer);
  private lastTick = 0;
  private lastStats = 0;
  private loadUntil = 0;
  private nextWorker = 0;
  /** The ring a poll starts with (rotates, so no worker's handshakes always come last). */
  private nextRing = 0;
  private readonly cryptokey = new Map<string, { prefix: Prefix; peer: number }>();
  private readonly shown = new Map<string, { hs: number; rx: number; tx: number; ep: string }>();
  /** Cluster encryption: node name → its peer's public key (hex). */
  private readonly nodePeers = new Map<string, string>();

  constructor(
    private readonly agent: Agent,
    readonly cfg: WireGuardConfig,
  ) {
    this.shared = WgShared.create({ maxPeers: cfg.maxPeers, maxAllowedIps: 4096, workers: agent.cfg.workers });
    this.workerTables = { wgSabs: this.shared.sabs };
    this.scratch = new Uint8Array(this.shared.toControl[0].capacity);
    this.model = new DeviceConfig({ maxPeers: cfg.maxPeers });
  }

  async start(): Promise<void> {
    const privateKey = this.cfg.privateKey ?? generatePrivateKey();
    this.device = new WgDevice(this.shared, this.agent.cfg.workers, {
      privateKey,
      listenPort: this.cfg.listenPort,
      mtu: this.cfg.mtu,
      underLoad: (now) => now < this.loadUntil,
      clock: systemClock,
      handshakePool: HANDSHAKE_POOL,
      // Identified initiations are answered as soon as the pool hands them back.
      onIdentified: () => this.identified(),
    });
    const a4 = this.cfg.addresses.find((p) => p.family === 4);
    const a6 = this.cfg.addresses.find((p) => p.family === 6);
    this.agent.portTable.set(WG_PORT, {
      kind: PORT_KIND_WIREGUARD,
      mtu: this.cfg.mtu,
      mac: WG_MAC,
      ipv4: a4?.bytes,
      ipv6: a6?.bytes,
      ipv6LinkLocal: linkLocalFromMac(WG_MAC),
      fds: [],
    });
    this.model.onChange((e) => this.apply(e));
    this.model.update((d) => {
      d.setPrivateKey(privateKey);
      d.setListenPort(this.cfg.listenPort);
      for (const p of this.cfg.peers) {
        const hex = d.addPeer(p.publicKey);
        if (p.presharedKey) d.setPresharedKey(hex, p.presharedKey);
        if (p.endpoint) {
          const a = parseAddress(p.endpoint.address)!;
          d.setEndpoint(hex, makeEndpoint(a.family, a.bytes, p.endpoint.port));
        }
        if (p.persistentKeepalive) d.setPersistentKeepalive(hex, p.persistentKeepalive);
        for (const ip of p.allowedIPs) d.addAllowedIp(hex, `${formatAddress(ip)}/${ip.len}`);
      }
    });
    this.programRoutes();
    this.uapi = await UapiServer.start(this.cfg.interface, this.model, { log });
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    // A worker says a handshake message waits (its ring was empty): answer it now.
    this.agent.onWorkerNotice('wg', () => this.pollSoon());
    this.agent.wakeWorkers();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.device?.close();
    await this.uapi?.close();
    this.agent.routes.set('wireguard', []);
    if (this.agent.portTable.active(WG_PORT)) this.agent.portTable.remove(WG_PORT);
  }

  status(): Record<string, unknown> {
    return {
      wireguard: {
        interface: this.cfg.interface,
        publicKey: Buffer.from(this.device.publicKey).toString('base64'),
        listenPort: this.cfg.listenPort,
        peers: this.device.peerCount(),
        handshakes: this.device.handshakes,
        refused: Object.fromEntries(this.device.errors),
        handshakePool: this.device.poolStats(),
      },
    };
  }

  /** The device's public key, base64 (what a cluster node publishes). */
  publicKeyBase64(): string {
    return Buffer.from(this.device.publicKey).toString('base64');
  }

  /**
   * Cluster encryption: node `name` becomes (or stays) a peer, reached at its underlay address
   * on its WireGuard port, with its pod CIDRs as allowed IPs — so routes to them go through the
   * tunnel. Goes through the model, so `wg show` lists cluster peers like any other.
   */
  setNodePeer(
    name: string,
    publicKey: string,
    endpoint: { address: string; port: number },
    allowed: Prefix[],
    underlay: { ipv4?: string; ipv6?: string } = {},
  ): void {
    const key = Buffer.from(publicKey, 'base64');
    if (key.length !== 32) {
      log(`node ${name} publishes a malformed public key; not peered`);
      return;
    }
    const hex = key.toString('hex');
    const prev = this.nodePeers.get(name);
    const a = parseAddress(endpoint.address);
    if (!a) return;
    this.model.update((d) => {
      if (prev && prev !== hex && d.hasPeer(prev)) d.removePeer(prev);
      if (!d.hasPeer(hex)) d.addPeer(key);
      d.setEndpoint(hex, makeEndpoint(a.family, a.bytes, endpoint.port));
      d.clearAllowedIps(hex);
      for (const p of allowed)
        d.addAllowedIp(hex, `${formatAddress({ family: p.family, bytes: maskBytes(p.bytes, p.len) })}/${p.len}`);
    });
    this.nodePeers.set(name, hex);
    this.device.setNodeAddresses(
      key,
      underlay.ipv4 ? (parseAddress(underlay.ipv4)?.bytes ?? null) : null,
      underlay.ipv6 ? (parseAddress(underlay.ipv6)?.bytes ?? null) : null,
    );
  }

  removeNodePeer(name: string): void {
    const hex = this.nodePeers.get(name);
    if (!hex) return;
    this.nodePeers.delete(name);
    this.model.update((d) => {
      if (d.hasPeer(hex)) d.removePeer(hex);
    });
  }

  /** Applies what `wg set` (or the config) changed to the device, the routes and the cryptokey table. */
  private apply(e: ChangeEvent): void {
    let ips = false;
    for (const c of e.changes) {
      switch (c.kind) {
        case 'privateKey':
          // Every peer starts over (new identity), possibly under another peer index: re-route.
          if (this.model.privateKey) this.device.setPrivateKey(this.model.privateKey);
          ips = true;
          break;
        case 'listenPort':
          // Port 0 ("any") keeps the current one, which `wg` then shows.
          if (c.listenPort !== 0) this.device.setListenPort(c.listenPort);
          this.model.recordBoundPort(c.listenPort !== 0 ? c.listenPort : this.cfg.listenPort);
          break;
        case 'peerAdded': {
          const p = this.model.peer(c.publicKey)!;
          this.device.addPeer(p.publicKeyBytes, {
            presharedKey: p.presharedKey ?? undefined,
            endpoint: toTunnelEndpoint(p.endpoint),
            persistentKeepalive: p.persistentKeepaliveInterval,
          });
          break;
        }
        case 'peerRemoved':
          this.device.removePeer(Buffer.from(c.publicKey, 'hex'));
          this.shown.delete(c.publicKey);
          ips = true;
          break;
        case 'peerUpdated': {
          const p = this.model.peer(c.publicKey)!;
          if (c.fields.includes('presharedKey')) {
            // The preshared key is part of the handshake: start this peer over.
            this.device.removePeer(p.publicKeyBytes);
            this.device.addPeer(p.publicKeyBytes, {
              presharedKey: p.presharedKey ?? undefined,
              endpoint: toTunnelEndpoint(p.endpoint),
              persistentKeepalive: p.persistentKeepaliveInterval,
            });
            ips = true;
          }
          if (c.fields.includes('endpoint')) this.device.setEndpoint(p.publicKeyBytes, toTunnelEndpoint(p.endpoint));
          if (c.fields.includes('persistentKeepaliveInterval'))
            this.device.setPersistentKeepalive(p.publicKeyBytes, p.persistentKeepaliveInterval);
          break;
        }
        case 'allowedIpsAdded':
        case 'allowedIpsRemoved':
          ips = true;
          break;
        default:
          break;
      }
    }
    if (ips) this.programRoutes();
  }

  /** Cryptokey table and routes from the model: allowed IPs → their peer, via the WireGuard port. */
  private programRoutes(): void {
    const want = new Map<string, { prefix: Prefix; peer: number }>();
    for (const p of this.model.peers()) {
      const peer = this.device.peerIndex(p.publicKeyBytes);
      if (peer < 0) continue;
      for (const ip of p.allowedIps)
        want.set(ip.text, { prefix: { family: ip.family, bytes: ip.bytes, len: ip.len }, peer });
    }
    const table = this.shared.allowed;
    for (const [k, v] of this.cryptokey) if (!want.has(k)) table.delete(v.prefix.family, v.prefix.bytes, v.prefix.len);
    for (const [k, v] of want) {
      const old = this.cryptokey.get(k);
      if (old?.peer === v.peer) continue;
      if (!table.insert(v.prefix.family, v.prefix.bytes, v.prefix.len, Int32Array.of(v.peer)))
        log(`cryptokey table full: ${k} not routed`);
    }
    this.cryptokey.clear();
    for (const [k, v] of want) this.cryptokey.set(k, v);
    const routes: RouteEntry[] = [...want.values()].map((v) => ({
      prefix: v.prefix,
      type: ROUTE_CONNECTED,
      port: WG_PORT,
    }));
    for (const a of this.cfg.addresses) {
      routes.push({
        prefix: { family: a.family, bytes: maskBytes(a.bytes, a.len), len: a.len },
        type: ROUTE_CONNECTED,
        port: WG_PORT,
      });
      routes.push({
        prefix: { family: a.family, bytes: a.bytes, len: a.family === 4 ? 32 : 128 },
        type: ROUTE_LOCAL,
        port: WG_PORT,
      });
    }
    this.agent.routes.set('wireguard', routes);
  }

  private pollQueued = false;

  /** One extra poll at the next turn of the event loop (several notices make one poll). */
  private pollSoon(): void {
    if (this.pollQueued) return;
    this.pollQueued = true;
    setImmediate(() => {
      this.pollQueued = false;
      this.poll();
    });
  }

  /** Every POLL_MS: what the workers handed over; every TICK_MS the timers; every STATS_MS `wg show`'s figures. */
  private poll(): void {
    const now = performance.now();
    const out: Datagram[] = [];
    let handshakes = 0;
    const m = this.meta;
    const mb = this.metaBytes;
    const metaLen = RING_META_WORDS * 4;
    const rings = this.shared.toControl;
    const first = this.nextRing;
    this.nextRing = (first + 1) % rings.length;
    // Handshake messages by source address, in arrival order; taken in turns below.
    const bySource = new Map<string, Array<{ body: Uint8Array; src: Endpoint }>>();
    let queued = 0;
    let dropped = 0;
    for (let r = 0; r < rings.length; r++) {
      const ring = rings[(first + r) % rings.length];
      for (;;) {
        const n = ring.pop(this.scratch, 0);
        if (n < 0) break;
        if (ring.lastTag === MSG_HANDSHAKE) handshakes++;
        if (ring.lastTag === MSG_HANDSHAKE && queued >= HANDSHAKE_QUEUE_MAX) {
          dropped++;
          continue;
        }
        mb.set(this.scratch.subarray(0, metaLen));
        const body = this.scratch.slice(metaLen, n);
        try {
          if (ring.lastTag === MSG_HANDSHAKE) {
            const fam = m[0] === 6 ? 6 : 4;
            const address = formatAddress({ family: fam, bytes: mb.slice(8, 8 + (fam === 4 ? 4 : 16)) });
            let q = bySource.get(address);
            if (q === undefined) {
              q = [];
              bySource.set(address, q);
            }
            q.push({ body, src: { address, port: m[1] } });
            queued++;
          } else if (ring.lastTag === MSG_NEED_SESSION) out.push(...this.device.needSession(m[0], body, now));
          else if (ring.lastTag === MSG_CONFIRMED) out.push(...this.device.confirmed(m[0], m[1], now));
        } catch (e) {
          log(`handling a message from a worker: ${(e as Error).message}`);
        }
      }
    }
    // Load shows within the poll it starts in: this poll's messages already get cookies.
    if (handshakes > LOAD_THRESHOLD) this.loadUntil = now + LOAD_HOLD_MS;
    let done = 0;
    let queues = [...bySource.values()];
    for (let round = 0; queues.length > 0; round++) {
      let over = false;
      for (const q of queues) {
        try {
          out.push(...this.device.handshakeMessage(q[round].body, q[round].src, now));
        } catch (e) {
          log(`handling a handshake message: ${(e as Error).message}`);
        }
        done++;
        if ((done & 7) === 0 && performance.now() - now > HANDSHAKE_BUDGET_MS) {
          over = true;
          break;
        }
      }
      if (over) break;
      queues = queues.filter((q) => q.length > round + 1);
    }
    dropped += queued - done;
    if (dropped > 0) this.device.refuse('overBudget', dropped);
    this.device.flushPool();
    out.push(...this.device.identifiedMessages(now));
    if (handshakes > LOAD_THRESHOLD || this.device.poolBusy()) this.loadUntil = now + LOAD_HOLD_MS;
    if (now - this.lastTick >= TICK_MS) {
      this.lastTick = now;
      out.push(...this.device.tick(now));
    }
    for (const d of out) this.send(d);
    if (now - this.lastStats >= STATS_MS) {
      this.lastStats = now;
      this.publishStats();
    }
  }

  /** Initiations the handshake pool identified: their peers' Tunnels answer them now. */
  private identified(): void {
    try {
      for (const d of this.device.identifiedMessages(performance.now())) this.send(d);
    } catch (e) {
      log(`handling identified initiations: ${(e as Error).message}`);
    }
  }

  /** Hands a datagram to a worker (round robin) and wakes it. */
  private send(d: Datagram): void {
    const a = parseAddress(d.endpoint.address);
    if (!a) return;
    const m = this.meta;
    m.fill(0);
    m[0] = a.family;
    m[1] = d.endpoint.port;
    this.metaBytes.set(a.bytes, 8);
    const w = this.nextWorker;
    this.nextWorker = (w + 1) % this.shared.fromControl.length;
    if (!this.shared.fromControl[w].pushWithMeta(m, RING_META_WORDS, d.packet, 0, d.packet.length, MSG_SEND)) {
      log(`ring to worker ${w} full: a ${d.packet.length}-byte datagram to ${d.endpoint.address} lost`);
      return;
    }
    this.agent.wakeWorker(w);
  }

  /** Latest handshake, transfer and roamed endpoints into the model, for `wg show`. */
  private publishStats(): void {
    for (const p of this.model.peers()) {
      const s = this.device.peerStats(p.publicKeyBytes);
      if (!s) continue;
      const ep = s.endpoint ? `${s.endpoint.address}:${s.endpoint.port}` : '';
      const last = this.shown.get(p.publicKey);
      if (last && last.hs === s.lastHandshakeWallMs && last.rx === s.rxBytes && last.tx === s.txBytes && last.ep === ep)
        continue;
      this.shown.set(p.publicKey, { hs: s.lastHandshakeWallMs, rx: s.rxBytes, tx: s.txBytes, ep });
      if (s.lastHandshakeWallMs > 0)
        this.model.recordHandshake(
          p.publicKey,
          Math.floor(s.lastHandshakeWallMs / 1000),
          (s.lastHandshakeWallMs % 1000) * 1e6,
        );
      this.model.setTransfer(p.publicKey, s.rxBytes, s.txBytes);
      if (
        s.endpoint &&
        (!p.endpoint ||
          p.endpoint.port !== s.endpoint.port ||
          formatAddress({ family: p.endpoint.family, bytes: p.endpoint.address }) !== s.endpoint.address)
      ) {
        const a = parseAddress(s.endpoint.address);
        if (a) this.model.roam(p.publicKey, makeEndpoint(a.family, a.bytes, s.endpoint.port));
      }
    }
  }
}

function toTunnelEndpoint(e: UapiEndpoint | null): Endpoint | null {
  return e ? { address: formatAddress({ family: e.family, bytes: e.address }), port: e.port } : null;
}
