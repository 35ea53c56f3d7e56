// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861).
export const ICMPV6_HLEN = 8;
export const ICMPV6_CSUM = 2;
/** Echo request / reply: the identifier (then the sequence number) after type, code, checksum. */
export const ICMPV6_ECHO_ID = 4;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ND_ROUTER_SOLICIT = 133;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;

export const ICMPV6_CODE_NO_ROUTE = 0;
export const ICMPV6_CODE_ADDR_UNREACH = 3;

/** NS/NA: 4 bytes type/code/csum + 4 bytes reserved/flags + 16 bytes target. */
export const ND_TARGET = 8;
export const ND_OPTIONS = 24;
export const ND_OPT_SOURCE_LLADDR = 1;
export const ND_OPT_TARGET_LLADDR = 2;

export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;

/** An ICMPv6 error must fit the minimum MTU (RFC 4443 §2.4 (c)). */
export const ICMPV6_MAX_ERROR_LEN = 1280;

/** Informational messages have the high bit of the type set; errors are 0..127. */
export function icmpv6IsError(type: number): boolean {
  return type < 128;
}

/**
 * Finds a link-layer address option of the given type in the ND options between
 * optOff and end; returns the offset of the 6 address bytes, -1 if absent, -2 if the
 * options are malformed (zero length or overrunning the message: RFC 4861 §7.1.1).
 */
export function ndFindLinkLayerOption(b: Uint8Array, optOff: number, end: number, type: number): number {
  let p = optOff;
  let found = -1;
  while (p + 2 <= end) {
    const len = b[p + 1] << 3;
    if (len === 0 || p + len > end) return -2;
    if (b[p] === type && len >= 8 && found < 0) found = p + 2;
    p += len;
  }
  return p === end ? found : -2;
}
