// A Tunnel's timers as actions: what PeerTimers (timers.ts) says is due becomes initiations,
// keepalives, giving up or erasing keys; what a dataplane did with the keys is reported to the
// timers as if the tunnel had done it; and keys getting old are renewed by the initiator.
import { REKEY_AFTER_TIME, REKEY_AFTER_TIME_RECEIVING } from './constants.js';
import { TimerAction } from './timers.js';
import type { Keypair } from './keypair.js';
import { initiate } from './tunnel-handshake.js';
import { sendWith } from './tunnel-transport.js';
import type { TunnelState } from './tunnel-state.js';
import type { TunnelAction } from './tunnel-types.js';

/** What a dataplane did with a peer's keys since it last said. */
export interface DataplaneActivity {
  dataSent: boolean;
  dataReceived: boolean;
  authReceived: boolean;
  authSent: boolean;
  rxBytes: number;
  txBytes: number;
}

/** Runs what fell due: retransmissions, keepalives, giving up, erasing old keys. */
export function runTimers(s: TunnelState, now: number, out: TunnelAction[]): void {
  for (const a of s.timers.tick(now)) {
    switch (a) {
      case TimerAction.RetransmitInitiation:
        initiate(s, now, true, out);
        break;
      case TimerAction.SendInitiation:
        initiate(s, now, false, out);
        break;
      case TimerAction.SendKeepalive: {
        const kp = s.usableCurrent(now);
        if (kp !== null) sendWith(s, kp, new Uint8Array(0), now, out);
        // A persistent keepalive with no session (e.g. behind NAT, keys expired) needs one first.
        else if (s.timers.persistentKeepalive > 0) initiate(s, now, false, out);
        break;
      }
      case TimerAction.GiveUp:
        s.queue.length = 0;
        out.push({ type: 'event', event: 'gaveUp' });
        break;
      case TimerAction.ZeroKeys:
        s.session.zeroAll();
        s.handshake.clear();
        s.queue.length = 0;
        out.push({ type: 'event', event: 'keysZeroed' });
        break;
    }
  }
}

/** The timers hear of a dataplane's traffic; old keys the data still flows under are renewed. */
export function noteDataplane(s: TunnelState, now: number, a: DataplaneActivity, out: TunnelAction[]): void {
  s.rxBytes += a.rxBytes;
  s.txBytes += a.txBytes;
  if (a.authSent) {
    s.timers.authenticatedPacketSent();
    s.timers.authenticatedPacketTraversal(now);
  }
  if (a.dataSent) s.timers.dataSent(now);
  if (a.authReceived) {
    s.timers.authenticatedPacketReceived();
    s.timers.authenticatedPacketTraversal(now);
  }
  if (a.dataReceived) s.timers.dataReceived(now);
  const cur = s.session.current;
  if (cur === null || !cur.isInitiator || cur.zeroed) return;
  if (a.dataSent && rekeyDueAfterSending(cur, now)) initiate(s, now, false, out);
  else if (a.dataReceived) rekeyBeforeExpiry(s, cur, now, out);
}

/** Sent under kp: the initiator renews it after REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES. */
export function rekeyAfterSending(s: TunnelState, kp: Keypair, now: number, out: TunnelAction[]): void {
  if (rekeyDueAfterSending(kp, now)) initiate(s, now, false, out);
}

function rekeyDueAfterSending(kp: Keypair, now: number): boolean {
  // A send counter's high word of 2^28 is 2^60 messages, REKEY_AFTER_MESSAGES.
  return kp.isInitiator && (kp.sendCountHi() >= 0x10000000 || now - kp.createdAt >= REKEY_AFTER_TIME);
}

/** Received under the current kp: the initiator renews it once, shortly before it expires. */
export function rekeyBeforeExpiry(s: TunnelState, kp: Keypair, now: number, out: TunnelAction[]): void {
  if (kp !== s.session.current || !kp.isInitiator || s.timers.sentLastMinuteHandshake) return;
  if (now - kp.createdAt < REKEY_AFTER_TIME_RECEIVING) return;
  s.timers.sentLastMinuteHandshake = true;
  initiate(s, now, false, out);
}
