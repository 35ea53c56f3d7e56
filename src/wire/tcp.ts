// TCP header view (RFC 9293): the fields a router, load balancer and NAT touch.
export const TCP_MIN_HLEN = 20;
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK = 8;
export const TCP_FLAGS = 13;
export const TCP_CSUM = 16;

/** TCP and UDP alike open with the source and destination ports: the bytes a flow key reads. */
export const L4_PORTS_LEN = 4;

export const TCP_SYN = 0x02;
export const TCP_ACK_FLAG = 0x10;

export function tcpHeaderLen(b: Uint8Array, o: number): number {
  return (b[o + 12] >>> 4) << 2;
}

/** Data offset within bounds of the segment. */
export function tcpHeaderValid(b: Uint8Array, o: number, l4avail: number): boolean {
  if (l4avail < TCP_MIN_HLEN) return false;
  const hlen = tcpHeaderLen(b, o);
  return hlen >= TCP_MIN_HLEN && hlen <= l4avail;
}
