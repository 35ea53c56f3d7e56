// A Tunnel's transport half: sealing packets (and keepalives) under a keypair, opening
// transport messages in place, the responder's `next` keypair becoming current once the
// initiator uses it, and the packets queued while there was no session going out.
import { MSG_TRANSPORT, TRANSPORT_HEADER_SIZE, AEAD_TAG_LEN } from './constants.js';
import {
  type Keypair,
  TRANSPORT_COUNTER_EXHAUSTED,
  TRANSPORT_DECRYPT_FAILED,
  TRANSPORT_EXPIRED,
  TRANSPORT_NO_ROOM,
  TRANSPORT_REPLAY,
  TRANSPORT_ZEROED,
} from './keypair.js';
import { wgReceiverIndex, wgPaddedLength } from '../wire/wireguard.js';
import type { TunnelState } from './tunnel-state.js';
import type { Endpoint, TunnelAction, TunnelError } from './tunnel-types.js';

/** Seals packet (empty: a keepalive) under kp toward the endpoint. */
export function sendWith(s: TunnelState, kp: Keypair, packet: Uint8Array, now: number, out: TunnelAction[]): void {
  if (s.endpoint === null) {
    out.push({ type: 'error', reason: 'noEndpoint' });
    return;
  }
  const padded = wgPaddedLength(packet.length, s.mtu);
  const buf = new Uint8Array(TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_LEN);
  buf.set(packet, TRANSPORT_HEADER_SIZE);
  const n = kp.seal(buf, TRANSPORT_HEADER_SIZE, packet.length, padded, now);
  if (n < 0) {
    out.push({ type: 'error', reason: transportReason(n) });
    return;
  }
  s.txBytes += n;
  out.push({ type: 'network', kind: packet.length === 0 ? 'keepalive' : 'data', packet: buf, endpoint: s.endpoint });
  s.timers.authenticatedPacketSent();
  s.timers.authenticatedPacketTraversal(now);
  if (packet.length > 0) s.timers.dataSent(now);
}

/** Sends everything queued while there was no session, under kp. */
export function flushQueue(s: TunnelState, kp: Keypair, now: number, out: TunnelAction[]): void {
  const q = s.queue.splice(0);
  for (const p of q) sendWith(s, kp, p, now, out);
}

/**
 * A packet authenticated under kp: if kp is `next`, the initiator has the keys, so they become
 * current, the handshake is complete, and anything queued goes out with them.
 */
export function confirmIfNext(s: TunnelState, kp: Keypair, now: number, out: TunnelAction[]): void {
  if (!s.session.received(kp)) return;
  s.handshakeCompleted(now, out);
  if (s.queue.length > 0) flushQueue(s, kp, now, out);
}

/**
 * Opens a transport message from src in place; the inner packet is a view into it. Returns the
 * keypair it authenticated under (the caller's rekey check wants it), null when refused.
 */
export function receiveTransport(
  s: TunnelState,
  msg: Uint8Array,
  src: Endpoint,
  now: number,
  out: TunnelAction[],
): Keypair | null {
  const receiver = wgReceiverIndex(msg, 0, MSG_TRANSPORT);
  const kp = s.session.byIndex(receiver);
  if (kp === null) {
    const none = s.session.current === null && s.session.next === null && s.session.previous === null;
    out.push({ type: 'error', reason: none ? 'noSession' : 'unknownReceiverIndex' });
    return null;
  }
  const n = kp.open(msg, 0, msg.length, now);
  if (n < 0) {
    out.push({ type: 'error', reason: transportReason(n) });
    return null;
  }
  s.rxBytes += msg.length;
  s.endpoint = { address: src.address, port: src.port };
  confirmIfNext(s, kp, now, out);
  s.timers.authenticatedPacketReceived();
  s.timers.authenticatedPacketTraversal(now);
  if (n > 0) {
    const inner = msg.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + n);
    const len = ipPacketLength(inner);
    if (len <= 0) {
      out.push({ type: 'error', reason: 'badInnerPacket' });
    } else {
      s.timers.dataReceived(now);
      out.push({ type: 'tunnel', packet: inner.subarray(0, len), family: (inner[0] >> 4) as 4 | 6 });
    }
  }
  return kp;
}

/** Length of the IPv4/IPv6 packet at the start of a padded plaintext, or -1 if it is not a whole one. */
export function ipPacketLength(p: Uint8Array): number {
  if (p.length < 1) return -1;
  const version = p[0] >> 4;
  if (version === 4) {
    if (p.length < 20) return -1;
    const total = (p[2] << 8) | p[3];
    return total >= 20 && total <= p.length ? total : -1;
  }
  if (version === 6) {
    if (p.length < 40) return -1;
    const total = 40 + ((p[4] << 8) | p[5]);
    return total <= p.length ? total : -1;
  }
  return -1;
}

function transportReason(n: number): TunnelError {
  switch (n) {
    case TRANSPORT_REPLAY:
      return 'replay';
    case TRANSPORT_DECRYPT_FAILED:
      return 'decryptFailed';
    case TRANSPORT_EXPIRED:
      return 'expired';
    case TRANSPORT_COUNTER_EXHAUSTED:
      return 'counterExhausted';
    case TRANSPORT_ZEROED:
      return 'keysZeroed';
    case TRANSPORT_NO_ROOM:
      return 'packetTooLarge';
    default:
      return 'decryptFailed';
  }
}
