// The device's peers: each one's Tunnel and what the device keeps beside it (its row in the
// shared tables, its keypairs' slots, the workers' activity it has seen), found by public key,
// by row, or by one of its receiver indices.
import type { Tunnel, Endpoint } from './tunnel.js';
import type { Keypair } from './keypair.js';

export interface PeerOptions {
  presharedKey?: Uint8Array;
  endpoint?: Endpoint | null;
  persistentKeepalive?: number;
}

export interface Peer {
  /** Its row in the shared peer and activity tables. */
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

export class PeerRegistry {
  private readonly byKey = new Map<string, Peer>();
  private readonly byIndex: Array<Peer | undefined>;

  constructor(readonly max: number) {
    this.byIndex = new Array(max);
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: Uint8Array): Peer | undefined {
    return this.byKey.get(hex(key));
  }

  at(index: number): Peer | undefined {
    return this.byIndex[index];
  }

  values(): IterableIterator<Peer> {
    return this.byKey.values();
  }

  /** The lowest free row. */
  freeIndex(): number {
    let index = 0;
    while (index < this.max && this.byIndex[index] !== undefined) index++;
    if (index === this.max) throw new Error(`at most ${this.max} WireGuard peers`);
    return index;
  }

  add(p: Peer): void {
    this.byIndex[p.index] = p;
    this.byKey.set(hex(p.key), p);
  }

  remove(p: Peer): void {
    this.byKey.delete(hex(p.key));
    this.byIndex[p.index] = undefined;
  }

  /** The peer whose pending handshake or one of whose keypairs our index `r` names. */
  byReceiverIndex(r: number): Peer | undefined {
    for (const q of this.byKey.values()) {
      if (q.tunnel.handshake.localIndex === r || q.tunnel.session.byIndex(r) !== null) return q;
    }
    return undefined;
  }
}
