// A WireGuard device on the control thread: one Tunnel per peer for handshakes and timers,
// their keypairs placed in the shared keypair slots the workers encrypt and decrypt with, the
// receiver-index table and the peers' rows (current slot, endpoint) kept in step. No I/O: what
// must go on the wire comes back from every call as datagrams; time and randomness come in —
// `now` with every call (a reading of the injected clock's now()), the wall clock from that
// clock, never from the system's.
//
// The parts: handshake-gate.ts (what a handshake message must get past before a peer's Tunnel
// sees it), device-peers.ts (the peers), keypair-slots.ts (keypairs in shared memory),
// peer-rows.ts (the peers' shared rows and the workers' activity).
import { Tunnel, type TunnelAction, type Endpoint } from './tunnel.js';
import { HandshakeGate } from './handshake-gate.js';
import type { HandshakePoolOptions, PoolStats } from './handshake-pool.js';
import { KeypairSlots } from './keypair-slots.js';
import { PeerRegistry, type Peer, type PeerOptions } from './device-peers.js';
import {
  openPeerRow,
  closePeerRow,
  setCurrentSlot,
  clearSessionAsked,
  writeEndpoint,
  readEndpoint,
  writeNodeAddresses,
  collectActivity,
} from './peer-rows.js';
import { type Rng, systemRng } from './x25519.js';
import { MSG_COOKIE_REPLY } from './constants.js';
import { wgReceiverIndex } from '../wire/wireguard.js';
import { type WgShared, ACT_WORDS, SET_ENABLED, SET_LISTEN_PORT, SET_MTU } from './dataplane-tables.js';
import type { WgClock } from './clock.js';

export type { PeerOptions } from './device-peers.js';

export interface Datagram {
  endpoint: Endpoint;
  packet: Uint8Array;
}

/** A peer's figures for `wg show`. */
export interface PeerStats {
  /** The injected wall clock's time of the last completed handshake, 0 if none. */
  lastHandshakeWallMs: number;
  rxBytes: number;
  txBytes: number;
  endpoint: Endpoint | null;
}

export interface DeviceOptions {
  privateKey: Uint8Array;
  listenPort: number;
  mtu: number;
  /** The clocks (clock.ts): the agent passes systemClock, tests a fake one. */
  clock: WgClock;
  rng?: Rng;
  /** Handshake messages waiting: above this the device is "under load" (cookies, rate limits). */
  underLoad?: (now: number) => boolean;
  /**
   * TESTS ONLY: the tunnels' timeScale (tunnel-types.ts). The device's own cookie secret and
   * rate limits, and underLoad, run on the caller's clock unscaled.
   */
  timeScale?: number;
  /**
   * Identify initiations on a piscina pool (handshake-pool.ts) instead of on the calling
   * thread; results come back through onIdentified, and identifiedMessages(now) runs them.
   */
  handshakePool?: HandshakePoolOptions;
  /** Called (on the device's thread) when pool results are waiting for identifiedMessages(). */
  onIdentified?: () => void;
}

export class WgDevice {
  readonly t: WgShared;
  private readonly gate: HandshakeGate;
  private readonly peers: PeerRegistry;
  private readonly slots: KeypairSlots;
  private readonly rng: Rng;
  private readonly workers: number;
  private o: DeviceOptions;
  /** Handshakes completed (for status and the bench). */
  handshakes = 0;
  /** Why handshake messages were refused, by reason. */
  readonly errors = new Map<string, number>();

  constructor(t: WgShared, workers: number, o: DeviceOptions) {
    this.t = t;
    this.o = o;
    this.workers = workers;
    this.rng = o.rng ?? systemRng;
    this.gate = new HandshakeGate(o.privateKey, {
      rng: this.rng,
      underLoad: o.underLoad,
      handshakePool: o.handshakePool,
      onIdentified: o.onIdentified,
      count: (reason, n) => this.count(reason, n),
    });
    this.peers = new PeerRegistry(t.maxPeers);
    this.slots = new KeypairSlots(t, o.clock, o.timeScale);
    this.applySettings();
  }

  /** Stops the handshake pool (results still in flight are dropped). */
  async close(): Promise<void> {
    await this.gate.close();
  }

  /** True while the handshake pool is saturated (or refused since the last call): the device is under load. */
  poolBusy(): boolean {
    return this.gate.poolBusy();
  }

  poolStats(): PoolStats | null {
    return this.gate.poolStats();
  }

  /** Hands what the pool gathered during this turn to it. */
  flushPool(): void {
    this.gate.flushPool();
  }

  get publicKey(): Uint8Array {
    return this.gate.identity.keys.publicKey;
  }

  private applySettings(): void {
    const s = this.t.settings;
    Atomics.store(s, SET_LISTEN_PORT, this.o.listenPort);
    Atomics.store(s, SET_MTU, this.o.mtu);
    Atomics.store(s, SET_ENABLED, 1);
  }

  setListenPort(port: number): void {
    this.o = { ...this.o, listenPort: port };
    this.applySettings();
  }

  /** A new identity: every peer's handshake and keys start over. */
  setPrivateKey(key: Uint8Array): void {
    this.o = { ...this.o, privateKey: key };
    this.gate.setPrivateKey(key);
    for (const p of [...this.peers.values()]) {
      const opts = p.options;
      const node = p.node;
      this.removePeer(p.key);
      this.addPeer(p.key, opts);
      if (node) this.setNodeAddresses(p.key, node.v4, node.v6);
    }
  }

  peerIndex(key: Uint8Array): number {
    return this.peers.get(key)?.index ?? -1;
  }

  addPeer(key: Uint8Array, opts: PeerOptions): number {
    const existing = this.peers.get(key);
    if (existing) return existing.index;
    const index = this.peers.freeIndex();
    const clock = this.o.clock;
    const tunnel = new Tunnel({
      privateKey: this.o.privateKey,
      peerPublicKey: key,
      presharedKey: opts.presharedKey,
      endpoint: opts.endpoint ?? null,
      persistentKeepalive: opts.persistentKeepalive ?? 0,
      mtu: this.o.mtu,
      rng: this.rng,
      wallClock: () => clock.wallNow(),
      underLoad: this.o.underLoad,
      rateLimiter: this.gate.limiter,
      local: this.gate.identity,
      cookieChecker: this.gate.cookieChecker,
      timeScale: this.o.timeScale,
      keypairPlacement: (keys) => this.slots.place(index, keys.isInitiator),
    });
    const peer: Peer = {
      index,
      key: Uint8Array.from(key),
      tunnel,
      slots: new Map(),
      seen: new Float64Array(this.workers * ACT_WORDS),
      options: opts,
    };
    this.peers.add(peer);
    openPeerRow(this.t, index, this.workers, opts.endpoint ?? null);
    return index;
  }

  removePeer(key: Uint8Array): void {
    const p = this.peers.get(key);
    if (!p) return;
    closePeerRow(this.t, p.index);
    p.tunnel.session.zeroAll();
    p.tunnel.timers.stopAll();
    this.syncSlots(p);
    this.peers.remove(p);
  }

  setEndpoint(key: Uint8Array, ep: Endpoint | null): void {
    const p = this.peers.get(key);
    if (!p) return;
    p.options = { ...p.options, endpoint: ep };
    p.tunnel.endpoint = ep;
    writeEndpoint(this.t, p.index, ep);
  }

  /** A cluster node peer's underlay addresses (for egress redirects to it). */
  setNodeAddresses(key: Uint8Array, v4: Uint8Array | null, v6: Uint8Array | null): void {
    const p = this.peers.get(key);
    if (!p) return;
    p.node = { v4, v6 };
    writeNodeAddresses(this.t, p.index, v4, v6);
  }

  setPersistentKeepalive(key: Uint8Array, sec: number): void {
    const p = this.peers.get(key);
    if (!p) return;
    p.options = { ...p.options, persistentKeepalive: sec };
    p.tunnel.timers.persistentKeepalive = sec;
  }

  /**
   * A handshake message a worker received from src: past the gate (handshake-gate.ts), to the
   * Tunnel of the peer it is from. An initiation identified on the pool comes back through
   * identifiedMessages() instead.
   */
  handshakeMessage(msg: Uint8Array, src: Endpoint, now: number): Datagram[] {
    const v = this.gate.check(msg, src, now);
    switch (v.kind) {
      case 'none':
        return [];
      case 'cookieReply':
        return [{ endpoint: src, packet: v.packet }];
      case 'initiation': {
        const p = v.opened === undefined ? undefined : this.peers.get(v.opened.peerPublic);
        if (p === undefined) {
          this.count('unknownPeer');
          return [];
        }
        return this.run(p, p.tunnel.decapsulate(msg, src, now, { opened: v.opened, macsChecked: true }));
      }
      case 'indexed': {
        const p = this.peers.byReceiverIndex(wgReceiverIndex(msg, 0, v.type));
        if (p === undefined) {
          this.count('unknownReceiverIndex');
          return [];
        }
        // Cookie replies carry no MACs of ours; the gate checked the others.
        return this.run(p, p.tunnel.decapsulate(msg, src, now, { macsChecked: v.type !== MSG_COOKIE_REPLY }));
      }
    }
  }

  /**
   * Initiations the pool identified since the last call: each one from a peer we still have,
   * under the key we still hold, goes to that peer's Tunnel (which runs the rest of the
   * handshake); the others are counted and dropped.
   */
  identifiedMessages(now: number): Datagram[] {
    const out: Datagram[] = [];
    this.gate.takeIdentified((x) => {
      const p = x.publicKey === null ? undefined : this.peers.get(x.publicKey);
      if (p === undefined) {
        this.count('unknownPeer');
        return;
      }
      const pre = { opened: x.opened ?? undefined, macsChecked: true };
      out.push(...this.run(p, p.tunnel.decapsulate(x.msg, x.src, now, pre)));
    });
    return out;
  }

  /** Counts handshake messages the caller dropped before they got here (e.g. over its time budget). */
  refuse(reason: string, n = 1): void {
    this.count(reason, n);
  }

  /** A packet a worker could not send (no usable keys): queue it and start a handshake. */
  needSession(peerIndex: number, packet: Uint8Array, now: number): Datagram[] {
    const p = this.peers.at(peerIndex);
    if (!p) return [];
    clearSessionAsked(this.t, peerIndex);
    return this.run(p, p.tunnel.encapsulate(packet, now));
  }

  /** A worker saw the peer use the keypair in `slot` (it was `next`). */
  confirmed(peerIndex: number, slot: number, now: number): Datagram[] {
    const p = this.peers.at(peerIndex);
    if (!p) return [];
    for (const [kp, s] of p.slots) if (s === slot) return this.run(p, p.tunnel.confirmNext(kp, now));
    return [];
  }

  /** Timers, and what the workers did since the last call (roaming, activity). */
  tick(now: number): Datagram[] {
    const out: Datagram[] = [];
    for (const p of this.peers.values()) {
      this.followRoaming(p);
      const act = collectActivity(this.t, p.index, this.workers, p.seen);
      if (act) out.push(...this.run(p, p.tunnel.noteDataplane(now, act)));
      out.push(...this.run(p, p.tunnel.tick(now)));
    }
    return out;
  }

  /** For `wg show`: per peer, its latest handshake and transfer counters. */
  peerStats(key: Uint8Array): PeerStats | null {
    const p = this.peers.get(key);
    if (!p) return null;
    const t = p.tunnel;
    return { lastHandshakeWallMs: t.lastHandshakeWallMs, rxBytes: t.rxBytes, txBytes: t.txBytes, endpoint: t.endpoint };
  }

  peerCount(): number {
    return this.peers.size;
  }

  private count(reason: string, n = 1): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + n);
  }

  /** The tunnel's actions as datagrams and counts; its endpoint and keypairs published. */
  private run(p: Peer, actions: TunnelAction[]): Datagram[] {
    const out: Datagram[] = [];
    for (const a of actions) {
      if (a.type === 'network') out.push({ endpoint: a.endpoint, packet: a.packet });
      else if (a.type === 'error') this.count(a.reason);
      else if (a.type === 'event' && a.event === 'handshakeComplete') this.handshakes++;
    }
    if (p.tunnel.endpoint) writeEndpoint(this.t, p.index, p.tunnel.endpoint, true);
    this.syncSlots(p);
    return out;
  }

  /** Publishes p's keypairs to the workers, retires the ones it no longer holds, and sets its current slot. */
  private syncSlots(p: Peer): void {
    const r = this.slots.sync(p.tunnel.session, p.slots);
    p.slots = r.live;
    setCurrentSlot(this.t, p.index, r.current);
  }

  /** A worker moved the endpoint (an authenticated packet from elsewhere): the tunnel follows. */
  private followRoaming(p: Peer): void {
    const ep = readEndpoint(this.t, p.index);
    if (ep === null) return;
    const cur = p.tunnel.endpoint;
    if (cur && cur.address === ep.address && cur.port === ep.port) return;
    p.tunnel.endpoint = ep;
  }
}
