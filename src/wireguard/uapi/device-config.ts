// The WireGuard device's configuration and per-peer state: what `wg` reads and writes through
// the UAPI, and what the dataplane programs its tables from. Changes happen only inside
// `update()`, on a draft: if the callback throws, nothing changes; otherwise the draft
// replaces the state in one step and listeners get the list of what changed. Runtime state
// (handshake time, byte counters) is written by the dataplane and is not a change.
import { Errno, UapiError } from './errors.js';
import {
  checkKeyLength,
  clampPrivateKey,
  derivePublicKey,
  formatHexKey,
  isZeroKey,
  keysEqual,
  parseHexKey,
} from './keys.js';
import { type Endpoint, type IpPrefix, parseAllowedIp } from './addresses.js';

export interface DeviceLimits {
  /** Peers on the device (wireguard-go allows 65536). */
  readonly maxPeers: number;
  /** Allowed IPs over all peers of the device. */
  readonly maxAllowedIps: number;
}

export const DEFAULT_LIMITS: DeviceLimits = { maxPeers: 1 << 16, maxAllowedIps: 1 << 18 };

/** A peer's public key: 32 bytes or 64 hex digits. */
export type PeerKey = Uint8Array | string;

export type PeerField = 'presharedKey' | 'endpoint' | 'persistentKeepaliveInterval';

/**
 * What one committed update changed, in an order the dataplane can apply as is: device
 * fields, then removals (peers, then prefixes), then additions (peers, field updates,
 * prefixes). A prefix moving from peer A to peer B appears as removed from A before added
 * to B. A peer removed and added again in one update is a new peer (its sessions are gone).
 */
export type DeviceChange =
  | { readonly kind: 'privateKey'; readonly publicKey: string | null }
  | { readonly kind: 'listenPort'; readonly listenPort: number }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  | { readonly kind: 'peerRemoved'; readonly publicKey: string }
  | { readonly kind: 'allowedIpsRemoved'; readonly publicKey: string; readonly prefixes: readonly IpPrefix[] }
  | { readonly kind: 'peerAdded'; readonly publicKey: string }
  | { readonly kind: 'peerUpdated'; readonly publicKey: string; readonly fields: readonly PeerField[] }
  | { readonly kind: 'allowedIpsAdded'; readonly publicKey: string; readonly prefixes: readonly IpPrefix[] };

export interface ChangeEvent {
  /** The device's version after the update (starts at 0, +1 per update that changed something). */
  readonly version: number;
  readonly changes: readonly DeviceChange[];
}

export type ChangeListener = (event: ChangeEvent) => void;

export interface PeerSnapshot {
  /** Lowercase hex; the key of the peer everywhere in this API. */
  readonly publicKey: string;
  readonly publicKeyBytes: Uint8Array;
  /** null when none (the protocol prints all zeros). */
  readonly presharedKey: Uint8Array | null;
  readonly endpoint: Endpoint | null;
  /** Seconds; 0 is off. */
  readonly persistentKeepaliveInterval: number;
  /** In the order they were added, as `get` lists them. */
  readonly allowedIps: readonly IpPrefix[];
  readonly protocolVersion: 1;
  /** Wall-clock time of the last completed handshake; sec 0 means never. */
  readonly lastHandshake: { readonly sec: bigint; readonly nsec: number };
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
}

interface PeerStats {
  handshakeSec: bigint;
  handshakeNsec: number;
  rxBytes: bigint;
  txBytes: bigint;
}

interface PeerRecord {
  /** Identity of this peer's life: a removed and re-added peer gets a new one. */
  readonly id: number;
  readonly publicKey: Uint8Array;
  readonly hex: string;
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  persistentKeepaliveInterval: number;
  allowedIps: Map<string, IpPrefix>;
  /** Shared by every draft copy of the record, so counters survive configuration updates. */
  readonly stats: PeerStats;
}

interface DeviceState {
  privateKey: Uint8Array | null;
  publicKey: Uint8Array | null;
  listenPort: number;
  fwmark: number;
  peers: Map<string, PeerRecord>;
  /** Canonical prefix text → hex key of the one peer that owns it. */
  owners: Map<string, string>;
}

const U64_MAX = (1n << 64n) - 1n;

/** Hex form of a peer key, validated. */
const CANONICAL_HEX_KEY = /^[0-9a-f]{64}$/;

export function peerHex(key: PeerKey): string {
  if (typeof key === 'string') return CANONICAL_HEX_KEY.test(key) ? key : formatHexKey(parseHexKey(key, 'public key'));
  checkKeyLength(key, 'public key');
  return formatHexKey(key);
}

function checkInt(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new UapiError(Errno.EINVAL, `${what}: must be an integer 0..${max}, got ${value}`);
}

function toU64(value: bigint | number, what: string): bigint {
  const v = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > U64_MAX) throw new UapiError(Errno.EINVAL, `${what}: must be an integer 0..2^64-1, got ${value}`);
  return v;
}

/** The mutable view an `update()` callback gets. Every method validates its values. */
export class DeviceDraft {
  private readonly copied = new Set<string>();

  constructor(
    private readonly s: DeviceState,
    private readonly limits: DeviceLimits,
    private readonly newId: () => number,
  ) {}

  get publicKey(): Uint8Array | null {
    return this.s.publicKey;
  }

  get peerCount(): number {
    return this.s.peers.size;
  }

  /** null or all zeros removes the key. Peers whose key is the new public key are removed, as WireGuard does. */
  setPrivateKey(key: Uint8Array | null): void {
    if (key !== null) checkKeyLength(key, 'private_key');
    if (key === null || isZeroKey(key)) {
      this.s.privateKey = null;
      this.s.publicKey = null;
      return;
    }
    const clamped = clampPrivateKey(key);
    if (this.s.privateKey && keysEqual(clamped, this.s.privateKey)) return;
    const pub = derivePublicKey(clamped);
    const self = formatHexKey(pub);
    if (this.s.peers.has(self)) this.removePeer(self);
    this.s.privateKey = clamped;
    this.s.publicKey = pub;
  }

  setListenPort(port: number): void {
    checkInt(port, 65535, 'listen_port');
    this.s.listenPort = port;
  }

  setFwmark(mark: number): void {
    checkInt(mark, 0xffffffff, 'fwmark');
    this.s.fwmark = mark;
  }

  removeAllPeers(): void {
    this.s.peers = new Map();
    this.s.owners = new Map();
  }

  hasPeer(key: PeerKey): boolean {
    return this.s.peers.has(peerHex(key));
  }

  /** Adds a peer with nothing configured; refused if it exists or the device is full. */
  addPeer(key: PeerKey): string {
    const hex = peerHex(key);
    if (this.s.peers.has(hex)) throw new UapiError(Errno.EINVAL, `peer ${hex} already exists`);
    if (this.s.peers.size >= this.limits.maxPeers)
      throw new UapiError(Errno.ENOSPC, `too many peers: the device is limited to ${this.limits.maxPeers}`);
    const stats: PeerStats = { handshakeSec: 0n, handshakeNsec: 0, rxBytes: 0n, txBytes: 0n };
    this.s.peers.set(hex, {
      id: this.newId(),
      publicKey: parseHexKey(hex, 'public key'),
      hex,
      presharedKey: null,
      endpoint: null,
      persistentKeepaliveInterval: 0,
      allowedIps: new Map(),
      stats,
    });
    this.copied.add(hex);
    return hex;
  }

  removePeer(key: PeerKey): boolean {
    const hex = peerHex(key);
    const rec = this.s.peers.get(hex);
    if (!rec) return false;
    for (const text of rec.allowedIps.keys()) this.s.owners.delete(text);
    this.s.peers.delete(hex);
    this.copied.delete(hex);
    return true;
  }

  /** null or all zeros removes it. */
  setPresharedKey(key: PeerKey, psk: Uint8Array | null): void {
    if (psk !== null) checkKeyLength(psk, 'preshared_key');
    this.writable(key).presharedKey = psk === null || isZeroKey(psk) ? null : new Uint8Array(psk);
  }

  setEndpoint(key: PeerKey, endpoint: Endpoint | null): void {
    if (endpoint !== null) checkInt(endpoint.port, 65535, 'endpoint port');
    this.writable(key).endpoint = endpoint;
  }

  setPersistentKeepalive(key: PeerKey, seconds: number): void {
    checkInt(seconds, 65535, 'persistent_keepalive_interval');
    this.writable(key).persistentKeepaliveInterval = seconds;
  }

  clearAllowedIps(key: PeerKey): void {
    const rec = this.writable(key);
    for (const text of rec.allowedIps.keys()) this.s.owners.delete(text);
    rec.allowedIps = new Map();
  }

  /** Takes the prefix from whichever peer had it; a re-added prefix moves to the end of the list. */
  addAllowedIp(key: PeerKey, prefix: IpPrefix | string): void {
    const p = typeof prefix === 'string' ? parseAllowedIp(prefix) : prefix;
    const rec = this.writable(key);
    const owner = this.s.owners.get(p.text);
    if (owner === undefined && this.s.owners.size >= this.limits.maxAllowedIps) {
      throw new UapiError(Errno.ENOSPC, `too many allowed IPs: the device is limited to ${this.limits.maxAllowedIps}`);
    }
    if (owner !== undefined && owner !== rec.hex) this.writable(owner).allowedIps.delete(p.text);
    rec.allowedIps.delete(p.text);
    rec.allowedIps.set(p.text, p);
    this.s.owners.set(p.text, rec.hex);
  }

  /** Removes the prefix only if this peer owns it. */
  removeAllowedIp(key: PeerKey, prefix: IpPrefix | string): boolean {
    const p = typeof prefix === 'string' ? parseAllowedIp(prefix) : prefix;
    const hex = peerHex(key);
    if (this.s.owners.get(p.text) !== hex) return false;
    this.writable(hex).allowedIps.delete(p.text);
    this.s.owners.delete(p.text);
    return true;
  }

  /** The draft's own copy of a peer, made on first write so the committed state stays untouched. */
  private writable(key: PeerKey): PeerRecord {
    const hex = peerHex(key);
    const rec = this.s.peers.get(hex);
    if (!rec) throw new UapiError(Errno.EINVAL, `no peer ${hex}`);
    if (this.copied.has(hex)) return rec;
    const copy: PeerRecord = { ...rec, allowedIps: new Map(rec.allowedIps) };
    this.s.peers.set(hex, copy);
    this.copied.add(hex);
    return copy;
  }
}

export class DeviceConfig {
  readonly limits: DeviceLimits;
  private state: DeviceState = {
    privateKey: null,
    publicKey: null,
    listenPort: 0,
    fwmark: 0,
    peers: new Map(),
    owners: new Map(),
  };
  private boundPort = 0;
  private ver = 0;
  private lastId = 0;
  private updating = false;
  private readonly listeners = new Set<ChangeListener>();

  constructor(limits: Partial<DeviceLimits> = {}) {
    const l = { ...DEFAULT_LIMITS, ...limits };
    for (const [name, v] of Object.entries(l)) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`limits.${name}: must be a positive integer, got ${v}`);
    }
    this.limits = Object.freeze(l);
  }

  /**
   * Runs fn on a draft of the configuration. If fn throws, nothing changes and the error
   * propagates; otherwise the draft becomes the configuration and listeners are told.
   */
  update<T>(fn: (draft: DeviceDraft) => T): T {
    if (this.updating) throw new Error('DeviceConfig.update: already inside an update');
    this.updating = true;
    const next: DeviceState = { ...this.state, peers: new Map(this.state.peers), owners: new Map(this.state.owners) };
    let result: T;
    try {
      result = fn(new DeviceDraft(next, this.limits, () => ++this.lastId));
    } finally {
      this.updating = false;
    }
    const changes = diffStates(this.state, next);
    // Committed even without changes: a re-added prefix moves to the end of its peer's list.
    if (next.listenPort !== this.state.listenPort) this.boundPort = 0;
    this.state = next;
    if (changes.length > 0) {
      this.ver++;
      this.notify({ version: this.ver, changes });
    }
    return result;
  }

  /** Subscribes to committed changes; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get version(): number {
    return this.ver;
  }

  get privateKey(): Uint8Array | null {
    return this.state.privateKey && new Uint8Array(this.state.privateKey);
  }

  get publicKey(): Uint8Array | null {
    return this.state.publicKey && new Uint8Array(this.state.publicKey);
  }

  /** The configured port (0: any). */
  get listenPort(): number {
    return this.state.listenPort;
  }

  /** The port actually bound, as `get` reports it: the one the dataplane recorded, else the configured one. */
  get effectiveListenPort(): number {
    return this.boundPort || this.state.listenPort;
  }

  get fwmark(): number {
    return this.state.fwmark;
  }

  get peerCount(): number {
    return this.state.peers.size;
  }

  get allowedIpCount(): number {
    return this.state.owners.size;
  }

  hasPeer(key: PeerKey): boolean {
    return this.state.peers.has(peerHex(key));
  }

  /** Every peer, in the order they were added. */
  peers(): PeerSnapshot[] {
    return [...this.state.peers.values()].map(snapshot);
  }

  peer(key: PeerKey): PeerSnapshot | undefined {
    const rec = this.state.peers.get(peerHex(key));
    return rec && snapshot(rec);
  }

  /** Hex key of the peer owning exactly this prefix (host bits are ignored), if any. */
  ownerOf(prefix: IpPrefix | string): string | undefined {
    return this.state.owners.get(typeof prefix === 'string' ? parseAllowedIp(prefix).text : prefix.text);
  }

  // Runtime state written by the dataplane. Each returns false when the peer does not exist
  // (it may have been removed by `wg` meanwhile).

  /**
   * The UDP port the dataplane actually bound (it picks one when the configured port is 0).
   * `get` reports it, as wireguard-go does; a new configured port clears it.
   */
  recordBoundPort(port: number): void {
    checkInt(port, 65535, 'bound port');
    this.boundPort = port;
  }

  /** Wall-clock time of a completed handshake (seconds and nanoseconds since the epoch). */
  recordHandshake(key: PeerKey, sec: bigint | number, nsec = 0): boolean {
    const s = toU64(sec, 'last_handshake_time_sec');
    checkInt(nsec, 999_999_999, 'last_handshake_time_nsec');
    const rec = this.state.peers.get(peerHex(key));
    if (!rec) return false;
    rec.stats.handshakeSec = s;
    rec.stats.handshakeNsec = nsec;
    return true;
  }

  /** Adds to the byte counters (wrapping at 2^64 as the kernel's u64 does). */
  addTransfer(key: PeerKey, rxDelta: bigint | number, txDelta: bigint | number): boolean {
    const rx = toU64(rxDelta, 'rx_bytes');
    const tx = toU64(txDelta, 'tx_bytes');
    const rec = this.state.peers.get(peerHex(key));
    if (!rec) return false;
    rec.stats.rxBytes = BigInt.asUintN(64, rec.stats.rxBytes + rx);
    rec.stats.txBytes = BigInt.asUintN(64, rec.stats.txBytes + tx);
    return true;
  }

  /** Sets the byte counters (for a dataplane that keeps totals itself). */
  setTransfer(key: PeerKey, rxBytes: bigint | number, txBytes: bigint | number): boolean {
    const rx = toU64(rxBytes, 'rx_bytes');
    const tx = toU64(txBytes, 'tx_bytes');
    const rec = this.state.peers.get(peerHex(key));
    if (!rec) return false;
    rec.stats.rxBytes = rx;
    rec.stats.txBytes = tx;
    return true;
  }

  /** Roaming: the endpoint an authenticated packet came from. A change is reported like any other. */
  roam(key: PeerKey, endpoint: Endpoint): boolean {
    const hex = peerHex(key);
    if (!this.state.peers.has(hex)) return false;
    this.update((d) => d.setEndpoint(hex, endpoint));
    return true;
  }

  private notify(event: ChangeEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        // A failing listener must not undo a committed change nor stop the others.
        process.emitWarning(`DeviceConfig change listener threw: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
  }
}

function snapshot(rec: PeerRecord): PeerSnapshot {
  return {
    publicKey: rec.hex,
    publicKeyBytes: new Uint8Array(rec.publicKey),
    presharedKey: rec.presharedKey && new Uint8Array(rec.presharedKey),
    endpoint: rec.endpoint,
    persistentKeepaliveInterval: rec.persistentKeepaliveInterval,
    allowedIps: [...rec.allowedIps.values()],
    protocolVersion: 1,
    lastHandshake: { sec: rec.stats.handshakeSec, nsec: rec.stats.handshakeNsec },
    rxBytes: rec.stats.rxBytes,
    txBytes: rec.stats.txBytes,
  };
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === b || (a !== null && b !== null && keysEqual(a, b));
}

/** What differs between two states, ordered as DeviceChange documents. */
function diffStates(old: DeviceState, next: DeviceState): DeviceChange[] {
  const device: DeviceChange[] = [];
  const removedPeers: DeviceChange[] = [];
  const removedIps: DeviceChange[] = [];
  const addedPeers: DeviceChange[] = [];
  const updatedPeers: DeviceChange[] = [];
  const addedIps: DeviceChange[] = [];

  if (!sameBytes(old.privateKey, next.privateKey))
    device.push({ kind: 'privateKey', publicKey: next.publicKey && formatHexKey(next.publicKey) });
  if (old.listenPort !== next.listenPort) device.push({ kind: 'listenPort', listenPort: next.listenPort });
  if (old.fwmark !== next.fwmark) device.push({ kind: 'fwmark', fwmark: next.fwmark });

  for (const [hex, rec] of old.peers) {
    const now = next.peers.get(hex);
    if (now && now.id === rec.id) continue;
    removedPeers.push({ kind: 'peerRemoved', publicKey: hex });
    if (rec.allowedIps.size > 0)
      removedIps.push({ kind: 'allowedIpsRemoved', publicKey: hex, prefixes: [...rec.allowedIps.values()] });
  }
  for (const [hex, rec] of next.peers) {
    const was = old.peers.get(hex);
    if (was === rec) continue;
    if (!was || was.id !== rec.id) {
      addedPeers.push({ kind: 'peerAdded', publicKey: hex });
      if (rec.allowedIps.size > 0)
        addedIps.push({ kind: 'allowedIpsAdded', publicKey: hex, prefixes: [...rec.allowedIps.values()] });
      continue;
    }
    const fields: PeerField[] = [];
    if (!sameBytes(was.presharedKey, rec.presharedKey)) fields.push('presharedKey');
    if (was.endpoint?.text !== rec.endpoint?.text) fields.push('endpoint');
    if (was.persistentKeepaliveInterval !== rec.persistentKeepaliveInterval) fields.push('persistentKeepaliveInterval');
    if (fields.length > 0) updatedPeers.push({ kind: 'peerUpdated', publicKey: hex, fields });
    const gone = [...was.allowedIps.values()].filter((p) => !rec.allowedIps.has(p.text));
    const fresh = [...rec.allowedIps.values()].filter((p) => !was.allowedIps.has(p.text));
    if (gone.length > 0) removedIps.push({ kind: 'allowedIpsRemoved', publicKey: hex, prefixes: gone });
    if (fresh.length > 0) addedIps.push({ kind: 'allowedIpsAdded', publicKey: hex, prefixes: fresh });
  }
  return [...device, ...removedPeers, ...removedIps, ...addedPeers, ...updatedPeers, ...addedIps];
}
