// Connection states of the SNAT table and their idle timeouts (netfilter's model, simplified),
// and the TCP state tracker driven by the flags seen in each direction.
//
// TCP (direction "orig" = endpoint → outside, "reply" = outside → endpoint):
//   no entry --SYN--> SYN_SENT --SYN+ACK (reply)--> SYN_RECV --ACK (orig)--> ESTABLISHED
//   ESTABLISHED --FIN (orig)--> FIN_WAIT     --FIN (reply)--> TIME_WAIT
//   ESTABLISHED --FIN (reply)--> CLOSE_WAIT  --FIN (orig)--> TIME_WAIT
//   any --RST--> CLOSE;  TIME_WAIT / CLOSE --SYN (orig)--> SYN_SENT (port reuse)
// A flow whose first packet is not a SYN (the gateway restarted, or failed over to a standby,
// in the middle of a connection) is picked up as ESTABLISHED, as netfilter does with
// nf_conntrack_tcp_loose=1; a first packet with RST creates nothing.
// No sequence-number window tracking: the gateway trusts the endpoints it serves.
// UDP: UDP_UNREPLIED until a packet comes back, then UDP_REPLIED ("stream", longer timeout).
// ICMP echo: ICMP_ECHO.

export const CT_NONE = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_RECV = 2;
export const TCP_ESTABLISHED = 3;
export const TCP_FIN_WAIT = 4;
export const TCP_CLOSE_WAIT = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const UDP_UNREPLIED = 8;
export const UDP_REPLIED = 9;
export const ICMP_ECHO = 10;
export const CT_STATE_NAMES: readonly string[] = [
  'none',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'UDP_UNREPLIED',
  'UDP_REPLIED',
  'ICMP',
];

/** Idle timeouts in seconds, per state. */
export interface NatTimeouts {
  tcpSynSent: number;
  tcpSynRecv: number;
  /**
   * netfilter keeps idle established flows 5 days (432000 s); with a bounded table that pins
   * entries of vanished peers for days, so the default is Cilium's 6 hours (21600 s).
   */
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpTimeWait: number;
  tcpClose: number;
  udpUnreplied: number;
  udpReplied: number;
  icmp: number;
}

export const DEFAULT_TIMEOUTS: Readonly<NatTimeouts> = {
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpEstablished: 21600,
  tcpFinWait: 120,
  tcpCloseWait: 120,
  tcpTimeWait: 120,
  tcpClose: 10,
  udpUnreplied: 30,
  udpReplied: 180,
  icmp: 30,
};

export function timeoutOf(state: number, t: Readonly<NatTimeouts>): number {
  switch (state) {
    case TCP_SYN_SENT:
      return t.tcpSynSent;
    case TCP_SYN_RECV:
      return t.tcpSynRecv;
    case TCP_ESTABLISHED:
      return t.tcpEstablished;
    case TCP_FIN_WAIT:
      return t.tcpFinWait;
    case TCP_CLOSE_WAIT:
      return t.tcpCloseWait;
    case TCP_TIME_WAIT:
      return t.tcpTimeWait;
    case TCP_CLOSE:
      return t.tcpClose;
    case UDP_UNREPLIED:
      return t.udpUnreplied;
    case UDP_REPLIED:
      return t.udpReplied;
    case ICMP_ECHO:
      return t.icmp;
    default:
      return 0;
  }
}

const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  ACK = 0x10;

/** State of a new TCP flow from its first (original-direction) packet; CT_NONE: create nothing. */
export function tcpInitialState(flags: number): number {
  if (flags & RST) return CT_NONE;
  if ((flags & (SYN | ACK)) === SYN) return TCP_SYN_SENT;
  return TCP_ESTABLISHED;
}

/** Next TCP state after a packet with `flags` in direction reply (true) or orig (false). */
export function tcpNextState(state: number, flags: number, reply: boolean): number {
  if (flags & RST) return TCP_CLOSE;
  const syn = (flags & SYN) !== 0,
    ack = (flags & ACK) !== 0,
    fin = (flags & FIN) !== 0;
  switch (state) {
    case TCP_SYN_SENT:
      if (reply && syn && ack) return TCP_SYN_RECV;
      if (reply && ack && !syn) return TCP_ESTABLISHED; // simultaneous open / picked-up flow
      return state;
    case TCP_SYN_RECV:
      if (!reply && ack && !syn) return fin ? TCP_FIN_WAIT : TCP_ESTABLISHED;
      return state;
    case TCP_ESTABLISHED:
      if (fin) return reply ? TCP_CLOSE_WAIT : TCP_FIN_WAIT;
      return state;
    case TCP_FIN_WAIT:
      return fin && reply ? TCP_TIME_WAIT : state;
    case TCP_CLOSE_WAIT:
      return fin && !reply ? TCP_TIME_WAIT : state;
    case TCP_TIME_WAIT:
    case TCP_CLOSE:
      return !reply && syn && !ack ? TCP_SYN_SENT : state;
    default:
      return state;
  }
}
