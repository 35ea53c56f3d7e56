// A WireGuard device on the control thread: one Tunnel per peer for handshakes and timers,
// their keypairs placed in the shared keypair slots the workers encrypt and decrypt with, the
// receiver-index table and the peers' rows (current slot, endpoint) kept in step. No I/O: what
// must go on the wire comes back from every call as datagrams; time and randomness come in —
// `now` with every call (a reading of the injected clock's now()), the wall clock from that
// clock, never from the system's.
import { Tunnel, TunnelAction, Endpoint } from './tunnel.js';
import { LocalIdentity, OpenedInitiation, openInitiation } from './noise.js';
import { CookieChecker, MacVerdict, sourceAddressBytes } from './cookie.js';
import { RateLimiter } from './ratelimiter.js';
import { HandshakePool, HandshakePoolOptions, Identified } from './handshake-pool.js';
import { Keypair, KEYPAIR_SHARED_WORDS } from './keypair.js';
import { Rng, systemRng } from './x25519.js';
import { MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY } from './constants.js';
import { wgCheck, wgReceiverIndex } from '../wire/wireguard.js';
import {
  WgShared, SLOT_WORDS, K_STATE, K_PEER, K_LOCAL_INDEX, K_REMOTE_INDEX, K_INITIATOR, K_SEND_KEY, K_RECV_KEY, K_SHARED,
  SLOT_FREE, SLOT_LIVE, SLOT_NEXT, PEER_WORDS, P_ACTIVE, P_CURRENT, P_EP_LOCK, P_EP_GEN, P_EP_FAMILY, P_EP_PORT, P_EP_ADDR,
  P_ASKED_AT, P_NODE4, P_NODE6, ACT_WORDS, A_DATA_SENT, A_DATA_RECV, A_AUTH_RECV, A_TX_BYTES, A_RX_BYTES, A_AUTH_SENT, SET_ENABLED,
  SET_LISTEN_PORT, SET_MTU, SET_PEER_LIMIT,
} from './dataplane-tables.js';
import { lock, unlock } from './spinlock.js';
import type { WgClock } from './clock.js';
import { parseAddress, formatAddress } from '../wire/addr.js';

export interface Datagram {
  endpoint: Endpoint;
  packet: Uint8Array;
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
   * TESTS ONLY: the tunnels' timeScale (tunnel.ts). The device's own cookie secret and
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

/** An initiation sent to the pool: where it came from, under which key. */
interface PoolCtx {
  src: Endpoint;
  gen: number;
}

export interface PeerOptions {
  presharedKey?: Uint8Array;
  endpoint?: Endpoint | null;
  persistentKeepalive?: number;
}

interface Peer {
  index: number;
  key: Uint8Array;
  tunnel: Tunnel;
  /** Slot of each of its keypairs. */
  slots: Map<Keypair, number>;
  /** Activity sums already handed to the tunnel, per worker: [dataSent, dataRecv, authRecv, authSent, tx, rx]. */
  seen: Float64Array;
  options: PeerOptions;
  /** A cluster node peer's underlay addresses (kept across a key change). */
  node?: { v4: Uint8Array | null; v6: Uint8Array | null };
}

const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export class WgDevice {
  readonly t: WgShared;
  private local: LocalIdentity;
  private checker: CookieChecker;
  private readonly limiter = new RateLimiter();
  private readonly peers = new Map<string, Peer>();
  private readonly byIndex: Array<Peer | undefined>;
  private readonly freeSlots: number[] = [];
  private readonly rng: Rng;
  private readonly workers: number;
  private o: DeviceOptions;
  private readonly pool: HandshakePool<PoolCtx> | null = null;
  /** Identified initiations waiting for identifiedMessages(); bounded by what the pool holds. */
  private identified: Identified<PoolCtx>[] = [];
  /** Handshakes completed (for status and the bench). */
  handshakes = 0;
  /** Why handshake messages were refused, by reason. */
  readonly errors = new Map<string, number>();

  constructor(t: WgShared, workers: number, o: DeviceOptions) {
    this.t = t;
    this.o = o;
    this.workers = workers;
    this.rng = o.rng ?? systemRng;
    this.local = new LocalIdentity(o.privateKey);
    this.checker = new CookieChecker(this.local.keys.publicKey, this.rng);
    this.byIndex = new Array(t.maxPeers);
    for (let s = t.slotCount - 1; s >= 0; s--) this.freeSlots.push(s);
    if (o.handshakePool) {
      this.pool = new HandshakePool<PoolCtx>(o.privateKey, o.handshakePool, (r, stale) => {
        if (stale > 0) this.count('poolStale', stale);
        if (r.length === 0) return;
        for (const x of r) this.identified.push(x);
        this.o.onIdentified?.();
      });
    }
    this.applySettings();
  }

  /** Stops the handshake pool (results still in flight are dropped). */
  async close(): Promise<void> {
    this.identified = [];
    await this.pool?.close();
  }

  /** True while the handshake pool is saturated (or refused since the last call): the device is under load. */
  poolBusy(): boolean {
    return this.pool?.busy ?? false;
  }

  poolStats(): ReturnType<HandshakePool<PoolCtx>['stats']> | null {
    return this.pool?.stats() ?? null;
  }

  /** Hands what the pool gathered during this turn to it. */
  flushPool(): void {
    this.pool?.flush();
  }

  get publicKey(): Uint8Array {
    return this.local.keys.publicKey;
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
    this.local = new LocalIdentity(key);
    this.checker = new CookieChecker(this.local.keys.publicKey, this.rng);
    // Initiations identified under the old key belong to no peer of the new one.
    if (this.identified.length > 0) this.count('poolStale', this.identified.length);
    this.identified = [];
    this.pool?.setPrivateKey(key);
    for (const p of [...this.peers.values()]) {
      const opts = p.options;
      const node = p.node;
      this.removePeer(p.key);
      this.addPeer(p.key, opts);
      if (node) this.setNodeAddresses(p.key, node.v4, node.v6);
    }
  }

  peerIndex(key: Uint8Array): number {
    return this.peers.get(hex(key))?.index ?? -1;
  }

  addPeer(key: Uint8Array, opts: PeerOptions): number {
    const existing = this.peers.get(hex(key));
    if (existing) return existing.index;
    let index = 0;
    while (index < this.t.maxPeers && this.byIndex[index] !== undefined) index++;
    if (index === this.t.maxPeers) throw new Error(`at most ${this.t.maxPeers} WireGuard peers`);
    const peer: Peer = { index, key: Uint8Array.from(key), tunnel: undefined as unknown as Tunnel, slots: new Map(), seen: new Float64Array(this.workers * ACT_WORDS), options: opts };
    peer.tunnel = new Tunnel({
      privateKey: this.o.privateKey, peerPublicKey: key, presharedKey: opts.presharedKey, endpoint: opts.endpoint ?? null,
      persistentKeepalive: opts.persistentKeepalive ?? 0, mtu: this.o.mtu, rng: this.rng,
      wallClock: () => this.o.clock.wallNow(),
      underLoad: this.o.underLoad, rateLimiter: this.limiter, local: this.local, cookieChecker: this.checker, timeScale: this.o.timeScale,
      keypairPlacement: (keys) => this.place(peer, keys.isInitiator),
    });
    this.byIndex[index] = peer;
    this.peers.set(hex(key), peer);
    const pw = index * PEER_WORDS;
    this.t.peers.fill(0, pw, pw + PEER_WORDS);
    Atomics.store(this.t.peers, pw + P_CURRENT, -1);
    // Activity rows start at zero, as `seen` does.
    for (let w = 0; w < this.workers; w++) this.t.activity.fill(0, this.t.activityAt(w, index), this.t.activityAt(w, index) + ACT_WORDS);
    this.writeEndpoint(peer, opts.endpoint ?? null);
    Atomics.store(this.t.peers, pw + P_ACTIVE, 1);
    if (index >= Atomics.load(this.t.settings, SET_PEER_LIMIT)) Atomics.store(this.t.settings, SET_PEER_LIMIT, index + 1);
    return index;
  }

  removePeer(key: Uint8Array): void {
    const p = this.peers.get(hex(key));
    if (!p) return;
    const pw = p.index * PEER_WORDS;
    Atomics.store(this.t.peers, pw + P_ACTIVE, 0);
    Atomics.store(this.t.peers, pw + P_CURRENT, -1);
    p.tunnel.session.zeroAll();
    p.tunnel.timers.stopAll();
    this.syncSlots(p);
    this.peers.delete(hex(key));
    this.byIndex[p.index] = undefined;
  }

  setEndpoint(key: Uint8Array, ep: Endpoint | null): void {
    const p = this.peers.get(hex(key));
    if (!p) return;
    p.options = { ...p.options, endpoint: ep };
    p.tunnel.endpoint = ep;
    this.writeEndpoint(p, ep);
  }

  /** A cluster node peer's underlay addresses (for egress redirects to it). */
  setNodeAddresses(key: Uint8Array, v4: Uint8Array | null, v6: Uint8Array | null): void {
    const p = this.peers.get(hex(key));
    if (!p) return;
    p.node = { v4, v6 };
    const pw = p.index * PEER_WORDS;
    const word = (b: Uint8Array, i: number): number => (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3];
    Atomics.store(this.t.peers, pw + P_NODE4, v4 ? word(v4, 0) : 0);
    for (let i = 0; i < 4; i++) Atomics.store(this.t.peers, pw + P_NODE6 + i, v6 ? word(v6, i) : 0);
  }

  setPersistentKeepalive(key: Uint8Array, sec: number): void {
    const p = this.peers.get(hex(key));
    if (!p) return;
    p.options = { ...p.options, persistentKeepalive: sec };
    p.tunnel.timers.persistentKeepalive = sec;
  }

  /**
   * A handshake message a worker received from src. The cheap checks come before anything
   * costly, as the paper's DoS defence requires: MAC1 first; under load, a message without a
   * valid MAC2 gets a cookie reply and initiations are rate-limited per source; only then does
   * an initiation's Diffie-Hellman reveal which peer it is from — on the handshake pool when
   * the device has one (the result comes back through identifiedMessages()), so the calling
   * thread never runs a Diffie-Hellman for an initiation it has not identified.
   */
  handshakeMessage(msg: Uint8Array, src: Endpoint, now: number): Datagram[] {
    const type = wgCheck(msg, 0, msg.length);
    if (type !== MSG_INITIATION && type !== MSG_RESPONSE && type !== MSG_COOKIE_REPLY) {
      this.count('malformed');
      return [];
    }
    if (type !== MSG_COOKIE_REPLY) {
      const a = parseAddress(src.address);
      if (!a) return [];
      if (!this.checker.checkMac1(msg, msg.length)) {
        this.count('badMac1');
        return [];
      }
      // A saturated pool is load too: cookies then cost far less than dropping would.
      if (this.o.underLoad?.(now) || (this.pool !== null && this.pool.inFlight >= this.pool.maxInFlight)) {
        const source = sourceAddressBytes(a.bytes, src.port);
        if (this.checker.check(msg, msg.length, source, now) !== MacVerdict.Mac2Valid) {
          this.count('cookieSent');
          return [{ endpoint: src, packet: this.checker.createReply(msg, msg.length, source, now) }];
        }
        if (type === MSG_INITIATION && !this.limiter.allow(a.bytes, now)) {
          this.count('rateLimited');
          return [];
        }
      }
    }
    let p: Peer | undefined;
    if (type === MSG_INITIATION && this.pool) {
      // The Diffie-Hellman that says who sent it runs on the pool; identifiedMessages() goes on.
      if (!this.pool.submit(msg, { src, gen: this.pool.generation })) this.count('poolBusy');
      return [];
    }
    let opened: OpenedInitiation | undefined;
    if (type === MSG_INITIATION) {
      const o = openInitiation(this.local, msg);
      opened = typeof o === 'string' ? undefined : o;
      p = opened === undefined ? undefined : this.peers.get(hex(opened.peerPublic));
    } else {
      const r = wgReceiverIndex(msg, 0, type);
      for (const q of this.peers.values()) {
        if (q.tunnel.handshake.localIndex === r || q.tunnel.session.byIndex(r) !== null) {
          p = q;
          break;
        }
      }
    }
    if (p === undefined) {
      this.count(type === MSG_INITIATION ? 'unknownPeer' : 'unknownReceiverIndex');
      return [];
    }
    // Cookie replies carry no MACs of ours; the device checked the others above.
    return this.run(p, p.tunnel.decapsulate(msg, src, now, { opened, macsChecked: type !== MSG_COOKIE_REPLY }));
  }

  /**
   * Initiations the pool identified since the last call: each one from a peer we still have,
   * under the key we still hold, goes to that peer's Tunnel (which runs the rest of the
   * handshake); the others are counted and dropped.
   */
  identifiedMessages(now: number): Datagram[] {
    const out: Datagram[] = [];
    const batch = this.identified;
    this.identified = [];
    for (const x of batch) {
      if (this.pool === null || x.ctx.gen !== this.pool.generation) {
        this.count('poolStale');
        continue;
      }
      const p = x.publicKey === null ? undefined : this.peers.get(hex(x.publicKey));
      if (p === undefined) {
        this.count('unknownPeer');
        continue;
      }
      out.push(...this.run(p, p.tunnel.decapsulate(x.msg, x.ctx.src, now, { opened: x.opened ?? undefined, macsChecked: true })));
    }
    return out;
  }

  /** Counts handshake messages the caller dropped before they got here (e.g. over its time budget). */
  refuse(reason: string, n = 1): void {
    this.count(reason, n);
  }

  /** A packet a worker could not send (no usable keys): queue it and start a handshake. */
  needSession(peerIndex: number, packet: Uint8Array, now: number): Datagram[] {
    const p = this.byIndex[peerIndex];
    if (!p) return [];
    Atomics.store(this.t.peers, peerIndex * PEER_WORDS + P_ASKED_AT, 0);
    return this.run(p, p.tunnel.encapsulate(packet, now));
  }

  /** A worker saw the peer use the keypair in `slot` (it was `next`). */
  confirmed(peerIndex: number, slot: number, now: number): Datagram[] {
    const p = this.byIndex[peerIndex];
    if (!p) return [];
    for (const [kp, s] of p.slots) if (s === slot) return this.run(p, p.tunnel.confirmNext(kp, now));
    return [];
  }

  /** Timers, and what the workers did since the last call (roaming, activity). */
  tick(now: number): Datagram[] {
    const out: Datagram[] = [];
    for (const p of this.peers.values()) {
      this.followRoaming(p);
      const act = this.collectActivity(p);
      if (act) out.push(...this.run(p, p.tunnel.noteDataplane(now, act)));
      out.push(...this.run(p, p.tunnel.tick(now)));
    }
    return out;
  }

  /** For `wg show`: per peer, its handshake time (the injected wall clock's) and transfer counters. */
  peerStats(key: Uint8Array): { lastHandshakeWallMs: number; rxBytes: number; txBytes: number; endpoint: Endpoint | null } | null {
    const p = this.peers.get(hex(key));
    if (!p) return null;
    return { lastHandshakeWallMs: p.tunnel.lastHandshakeWallMs, rxBytes: p.tunnel.rxBytes, txBytes: p.tunnel.txBytes, endpoint: p.tunnel.endpoint };
  }

  peerCount(): number {
    return this.peers.size;
  }

  private count(reason: string, n = 1): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + n);
  }

  private run(p: Peer, actions: TunnelAction[]): Datagram[] {
    const out: Datagram[] = [];
    for (const a of actions) {
      if (a.type === 'network') out.push({ endpoint: a.endpoint, packet: a.packet });
      else if (a.type === 'error') this.count(a.reason);
      else if (a.type === 'event' && a.event === 'handshakeComplete') this.handshakes++;
    }
    if (p.tunnel.endpoint) this.writeEndpoint(p, p.tunnel.endpoint, true);
    this.syncSlots(p);
    return out;
  }

  /** A free slot for a new keypair of p, its shared words zeroed; null when none is left. */
  private place(p: Peer, initiator: boolean): { shared: Int32Array; base: number } | null {
    const slot = this.freeSlots.pop();
    if (slot === undefined) return null;
    const sb = slot * SLOT_WORDS;
    const w = this.t.slotWords;
    Atomics.store(w, sb + K_STATE, SLOT_FREE);
    w.fill(0, sb + K_SHARED, sb + K_SHARED + KEYPAIR_SHARED_WORDS);
    w[sb + K_PEER] = p.index;
    w[sb + K_INITIATOR] = initiator ? 1 : 0;
    return { shared: w, base: sb + K_SHARED };
  }

  /**
   * Publishes p's keypairs to the workers and retires the ones it no longer holds: slot
   * contents (keys, indices, creation time), the index table, states (next = receive only),
   * and the peer's current slot.
   */
  private syncSlots(p: Peer): void {
    const s = p.tunnel.session;
    const t = this.t;
    const w = t.slotWords;
    const live = new Map<Keypair, number>();
    for (const kp of [s.current, s.previous, s.next]) {
      if (kp === null || kp.zeroed) continue;
      let slot = p.slots.get(kp);
      if (slot === undefined) {
        slot = slotOfBase(kp.base);
        const sb = slot * SLOT_WORDS;
        const d = kp.descriptor();
        w[sb + K_LOCAL_INDEX] = d.localIndex | 0;
        w[sb + K_REMOTE_INDEX] = d.remoteIndex | 0;
        t.slotBytes.set(d.sendKey, (sb + K_SEND_KEY) * 4);
        t.slotBytes.set(d.recvKey, (sb + K_RECV_KEY) * 4);
        // Workers check lifetimes against their wall clock: when the keypair was made, in wall time
        // (createdAt is the tunnel's protocol time: the caller's clock / timeScale).
        const age = this.o.clock.now() - d.createdAt * (this.o.timeScale ?? 1);
        t.setCreatedWallMs(slot, this.o.clock.wallNow() - age);
        const key = Int32Array.of(d.localIndex | 0);
        if (!t.indices.insert(key, 0, Int32Array.of(slot), 0)) t.indices.update(key, 0, Int32Array.of(slot), 0);
      }
      live.set(kp, slot);
      Atomics.store(w, slot * SLOT_WORDS + K_STATE, kp === s.next ? SLOT_NEXT : SLOT_LIVE);
    }
    for (const [kp, slot] of p.slots) {
      if (live.has(kp)) continue;
      this.retire(slot, kp.localIndex);
    }
    p.slots = live;
    const cur = s.current !== null && !s.current.zeroed ? live.get(s.current) ?? -1 : -1;
    Atomics.store(t.peers, p.index * PEER_WORDS + P_CURRENT, cur);
  }

  private retire(slot: number, localIndex: number): void {
    const t = this.t;
    const sb = slot * SLOT_WORDS;
    Atomics.store(t.slotWords, sb + K_STATE, SLOT_FREE);
    t.indices.delete(Int32Array.of(localIndex | 0), 0);
    // Key material leaves shared memory with the keypair.
    t.slotWords.fill(0, sb + K_SEND_KEY, sb + K_SHARED);
    this.freeSlots.unshift(slot); // reused last: a worker mid-packet on it has long finished
  }

  private writeEndpoint(p: Peer, ep: Endpoint | null, onlyIfChanged = false): void {
    const pw = p.index * PEER_WORDS;
    const pe = this.t.peers;
    const a = ep ? parseAddress(ep.address) : null;
    const fam = a ? a.family : 0;
    if (onlyIfChanged && fam === pe[pw + P_EP_FAMILY] && ep && ep.port === pe[pw + P_EP_PORT] && a && sameAddr(pe, pw + P_EP_ADDR, a.bytes)) return;
    lock(pe, pw + P_EP_LOCK);
    Atomics.add(pe, pw + P_EP_GEN, 1);
    pe[pw + P_EP_FAMILY] = fam;
    pe[pw + P_EP_PORT] = ep?.port ?? 0;
    for (let i = 0; i < 4; i++) {
      const b = a?.bytes;
      pe[pw + P_EP_ADDR + i] = b && 4 * i < b.length ? (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3] : 0;
    }
    Atomics.add(pe, pw + P_EP_GEN, 1);
    unlock(pe, pw + P_EP_LOCK);
  }

  /** A worker moved the endpoint (an authenticated packet from elsewhere): the tunnel follows. */
  private followRoaming(p: Peer): void {
    const pw = p.index * PEER_WORDS;
    const pe = this.t.peers;
    const fam = pe[pw + P_EP_FAMILY];
    if (fam !== 4 && fam !== 6) return;
    const bytes = new Uint8Array(fam === 4 ? 4 : 16);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (pe[pw + P_EP_ADDR + (i >> 2)] >>> (24 - 8 * (i & 3))) & 255;
    const address = formatAddress({ family: fam, bytes });
    const port = pe[pw + P_EP_PORT];
    const cur = p.tunnel.endpoint;
    if (cur && cur.address === address && cur.port === port) return;
    p.tunnel.endpoint = { address, port };
  }

  /** Sums the workers' activity rows since the last call; null when nothing happened. */
  private collectActivity(p: Peer): { dataSent: boolean; dataReceived: boolean; authReceived: boolean; authSent: boolean; rxBytes: number; txBytes: number } | null {
    let dataSent = false, dataReceived = false, authReceived = false, authSent = false, rx = 0, tx = 0;
    for (let w = 0; w < this.workers; w++) {
      const a = this.t.activityAt(w, p.index);
      const act = this.t.activity;
      const s = w * ACT_WORDS;
      if (act[a + A_DATA_SENT] !== p.seen[s + A_DATA_SENT]) dataSent = true;
      if (act[a + A_DATA_RECV] !== p.seen[s + A_DATA_RECV]) dataReceived = true;
      if (act[a + A_AUTH_RECV] !== p.seen[s + A_AUTH_RECV]) authReceived = true;
      if (act[a + A_AUTH_SENT] !== p.seen[s + A_AUTH_SENT]) authSent = true;
      tx += act[a + A_TX_BYTES] - p.seen[s + A_TX_BYTES];
      rx += act[a + A_RX_BYTES] - p.seen[s + A_RX_BYTES];
      for (let k = 0; k < ACT_WORDS; k++) p.seen[s + k] = act[a + k];
    }
    if (!dataSent && !dataReceived && !authReceived && !authSent && rx === 0 && tx === 0) return null;
    return { dataSent, dataReceived, authReceived, authSent, rxBytes: rx, txBytes: tx };
  }
}

/** The slot whose shared region starts at word `base` (set by place()). */
function slotOfBase(base: number): number {
  return (base - K_SHARED) / SLOT_WORDS;
}

function sameAddr(words: Int32Array, at: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length / 4; i++) {
    if (words[at + i] !== ((bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3])) return false;
  }
  return true;
}
