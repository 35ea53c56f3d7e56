// ICMPv4 (RFC 792, RFC 1191 for "fragmentation needed" with next-hop MTU).
export const ICMP_HLEN = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;

export const ICMP_CODE_NET_UNREACH = 0;
export const ICMP_CODE_HOST_UNREACH = 1;
export const ICMP_CODE_FRAG_NEEDED = 4;
export const ICMP_CODE_TTL_EXCEEDED = 0;

export const ICMP_CSUM = 2;
/** Echo request / reply: the identifier (then the sequence number) after type, code, checksum. */
export const ICMP_ECHO_ID = 4;

/** Errors are never sent about errors (RFC 1122 §3.2.2). */
export function icmpIsError(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAM_PROBLEM || type === 4 || type === 5
  );
}

/**
 * Bytes of the offending datagram quoted in an ICMPv4 error: RFC 792 asks for the header
 * plus 8 bytes; RFC 1812 §4.3.2.3 allows more, up to a 576-byte error. We quote up to that.
 */
export const ICMP_MAX_ERROR_LEN = 576;
