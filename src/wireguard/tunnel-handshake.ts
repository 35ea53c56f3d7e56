// A Tunnel's handshake half: sending initiations, and handling the handshake messages that
// come back — MAC1, and under load the cookie reply or the per-source rate limit (unless the
// device did that already), the initiation answered with a response and `next` keys, the
// response installing current keys, cookie replies remembered for the next MAC2.
import { MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY } from './constants.js';
import { ctEqual } from './crypto.js';
import { generatePrivateKey } from './x25519.js';
import {
  HandshakeState,
  type OpenedInitiation,
  createInitiation,
  consumeInitiation,
  consumeOpenedInitiation,
  createResponse,
  consumeResponse,
  deriveSessionKeys,
} from './noise.js';
import { MacVerdict, sourceAddressBytes } from './cookie.js';
import { wgReceiverIndex, getLe32 } from '../wire/wireguard.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6.js';
import { sendWith, flushQueue } from './tunnel-transport.js';
import type { TunnelState } from './tunnel-state.js';
import type { Endpoint, TunnelAction } from './tunnel-types.js';

/** What a multi-peer device did already: the initiation's first half (its DH), the MAC / load checks. */
export interface Prechecked {
  opened?: OpenedInitiation;
  macsChecked?: boolean;
}

/** Sends an initiation: a retry always, a new one at most once per REKEY_TIMEOUT. */
export function initiate(s: TunnelState, now: number, isRetry: boolean, out: TunnelAction[]): void {
  if (!isRetry) {
    if (!s.timers.mayInitiate(now)) return;
    s.timers.handshakeAttempts = 0;
  }
  const msg = createInitiation(s.handshake, generatePrivateKey(s.rng), newIndex(s), s.wallClock());
  if (msg === null) {
    out.push({ type: 'error', reason: 'badDh' });
    return;
  }
  s.cookies.addMacs(msg, now);
  s.timers.handshakeInitiated(now);
  if (s.endpoint === null) {
    out.push({ type: 'error', reason: 'noEndpoint' });
    return;
  }
  s.txBytes += msg.length;
  out.push({ type: 'network', kind: 'initiation', packet: msg, endpoint: s.endpoint });
  s.timers.authenticatedPacketTraversal(now);
  s.timers.authenticatedPacketSent();
}

/** An initiation or a response (type) from src. */
export function receiveHandshake(
  s: TunnelState,
  msg: Uint8Array,
  type: number,
  src: Endpoint,
  now: number,
  out: TunnelAction[],
  pre: Prechecked,
): void {
  const ip = addressBytes(src.address);
  if (ip === null) {
    out.push({ type: 'error', reason: 'badSourceAddress' });
    return;
  }
  if (pre.macsChecked !== true && !macsAndLoad(s, msg, type, ip, src, now, out)) return;
  s.rxBytes += msg.length;
  if (type === MSG_INITIATION) initiation(s, msg, src, now, out, pre.opened);
  else response(s, msg, src, now, out);
}

/** A cookie reply to our last initiation (or to a message under one of our keypairs). */
export function receiveCookieReply(s: TunnelState, msg: Uint8Array, now: number, out: TunnelAction[]): void {
  const hs = s.handshake;
  const receiver = wgReceiverIndex(msg, 0, MSG_COOKIE_REPLY);
  const pending = hs.state === HandshakeState.InitiationCreated && receiver === hs.localIndex;
  if (!pending && s.session.byIndex(receiver) === null) {
    out.push({ type: 'error', reason: 'unknownReceiverIndex' });
    return;
  }
  if (!s.cookies.consumeReply(msg, now)) {
    out.push({ type: 'error', reason: 'badCookie' });
    return;
  }
  out.push({ type: 'event', event: 'cookieReceived' });
}

/** MAC1; under load a cookie reply without a valid MAC2, and the per-source rate limit. False: stop here. */
function macsAndLoad(
  s: TunnelState,
  msg: Uint8Array,
  type: number,
  ip: Uint8Array,
  src: Endpoint,
  now: number,
  out: TunnelAction[],
): boolean {
  const verdict = s.checker.check(msg, msg.length, sourceAddressBytes(ip, src.port), now);
  if (verdict === MacVerdict.BadMac1) {
    out.push({ type: 'error', reason: 'badMac1' });
    return false;
  }
  if (s.underLoad(now)) {
    if (verdict !== MacVerdict.Mac2Valid) {
      const reply = s.checker.createReply(msg, msg.length, sourceAddressBytes(ip, src.port), now);
      const to = { address: src.address, port: src.port };
      out.push({ type: 'network', kind: 'cookieReply', packet: reply, endpoint: to });
      return false;
    }
    if (type === MSG_INITIATION && !s.limiter.allow(ip, now)) {
      out.push({ type: 'error', reason: 'rateLimited' });
      return false;
    }
  }
  return true;
}

function initiation(
  s: TunnelState,
  msg: Uint8Array,
  src: Endpoint,
  now: number,
  out: TunnelAction[],
  opened?: OpenedInitiation,
): void {
  const hs = s.handshake;
  const r =
    opened === undefined
      ? consumeInitiation(s.local, msg, (pub) => (ctEqual(pub, s.peerPublicKey) ? hs : undefined), now)
      : ctEqual(opened.peerPublic, s.peerPublicKey)
        ? consumeOpenedInitiation(opened, msg, hs, now)
        : 'unknownPeer';
  if (typeof r === 'string') {
    out.push({ type: 'error', reason: r });
    return;
  }
  s.endpoint = { address: src.address, port: src.port };
  s.timers.authenticatedPacketReceived();
  s.timers.authenticatedPacketTraversal(now);
  const resp = createResponse(hs, generatePrivateKey(s.rng), newIndex(s));
  const keys = resp === null ? null : deriveSessionKeys(hs);
  if (resp === null || keys === null) {
    hs.clear();
    out.push({ type: 'error', reason: 'badDh' });
    return;
  }
  s.cookies.addMacs(resp, now);
  s.session.install(keys, now);
  s.timers.sessionDerived(now);
  s.txBytes += resp.length;
  out.push({ type: 'network', kind: 'response', packet: resp, endpoint: s.endpoint });
  s.timers.authenticatedPacketSent();
  s.timers.authenticatedPacketTraversal(now);
}

function response(s: TunnelState, msg: Uint8Array, src: Endpoint, now: number, out: TunnelAction[]): void {
  const hs = s.handshake;
  if (hs.state !== HandshakeState.InitiationCreated || wgReceiverIndex(msg, 0, MSG_RESPONSE) !== hs.localIndex) {
    out.push({ type: 'error', reason: 'unknownReceiverIndex' });
    return;
  }
  const err = consumeResponse(hs, msg);
  if (err !== null) {
    out.push({ type: 'error', reason: err });
    return;
  }
  s.endpoint = { address: src.address, port: src.port };
  s.timers.authenticatedPacketReceived();
  s.timers.authenticatedPacketTraversal(now);
  const keys = deriveSessionKeys(hs);
  if (keys === null) return;
  const kp = s.session.install(keys, now);
  s.timers.sessionDerived(now);
  s.handshakeCompleted(now, out);
  // The responder may not send until it hears from us under the new keys.
  if (s.queue.length === 0) sendWith(s, kp, new Uint8Array(0), now, out);
  else flushQueue(s, kp, now, out);
}

/** A random index, never one this peer already uses. */
function newIndex(s: TunnelState): number {
  const used = s.session.indices();
  for (;;) {
    const i = getLe32(s.rng(4), 0);
    if (!used.includes(i)) return i;
  }
}

function addressBytes(address: string): Uint8Array | null {
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return parseIpv4(a) ?? parseIpv6(a);
}
