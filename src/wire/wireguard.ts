// WireGuard messages (the UDP payload), as stateless functions over (bytes, offset). Every
// multi-byte integer is little-endian, unlike the rest of src/wire. The four layouts:
//
//   initiation (148):  type=1 | 3 zero | sender | ephemeral(32) | static(32+16) | timestamp(12+16) | mac1(16) |
// mac2(16)
//   response    (92):  type=2 | 3 zero | sender | receiver | ephemeral(32) | empty(0+16) | mac1(16) | mac2(16)
//   cookie reply(64):  type=3 | 3 zero | receiver | nonce(24) | cookie(16+16)
//   transport (≥32):   type=4 | 3 zero | receiver | counter(8) | packet(n+16)
//
// Handshake messages have exactly one valid size; anything else is rejected before any
// cryptography runs (wireguard-go does the same).

// Message types (first byte, followed by three zero bytes).
export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;

// Sizes.
export const AEAD_TAG_LEN = 16;
export const MSG_INITIATION_SIZE = 148;
export const MSG_RESPONSE_SIZE = 92;
export const MSG_COOKIE_REPLY_SIZE = 64;
/** Header (type, reserved, receiver index, counter) before the encrypted packet. */
export const TRANSPORT_HEADER_SIZE = 16;
/** A keepalive: header plus the tag of an empty plaintext. */
export const MSG_TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + AEAD_TAG_LEN;

export const WG_SENDER = 4;

// Initiation.
export const WG_INIT_SENDER = 4;
export const WG_INIT_EPHEMERAL = 8;
export const WG_INIT_STATIC = 40;
export const WG_INIT_TIMESTAMP = 88;

// Response.
export const WG_RESP_SENDER = 4;
export const WG_RESP_RECEIVER = 8;
export const WG_RESP_EPHEMERAL = 12;
export const WG_RESP_EMPTY = 44;

// Cookie reply.
export const WG_COOKIE_RECEIVER = 4;
export const WG_COOKIE_NONCE = 8;
export const WG_COOKIE_ENCRYPTED = 32;

// Transport data.
export const WG_DATA_RECEIVER = 4;
export const WG_DATA_COUNTER = 8;

/** Verdicts of wgCheck: the message type when the size is right, else a negative reason. */
export const WG_BAD_TYPE = -1;
export const WG_BAD_SIZE = -2;
export const WG_TRUNCATED = -3;

/**
 * Classifies len bytes at o: returns MSG_INITIATION .. MSG_TRANSPORT when the type byte is
 * known, the three reserved bytes are zero and the size is exactly right (transport: at
 * least header + tag); otherwise WG_TRUNCATED, WG_BAD_TYPE or WG_BAD_SIZE.
 */
export function wgCheck(b: Uint8Array, o: number, len: number): number {
  if (len < 4 || o < 0 || o + len > b.length) return WG_TRUNCATED;
  if (b[o + 1] !== 0 || b[o + 2] !== 0 || b[o + 3] !== 0) return WG_BAD_TYPE;
  switch (b[o]) {
    case MSG_INITIATION:
      return len === MSG_INITIATION_SIZE ? MSG_INITIATION : WG_BAD_SIZE;
    case MSG_RESPONSE:
      return len === MSG_RESPONSE_SIZE ? MSG_RESPONSE : WG_BAD_SIZE;
    case MSG_COOKIE_REPLY:
      return len === MSG_COOKIE_REPLY_SIZE ? MSG_COOKIE_REPLY : WG_BAD_SIZE;
    case MSG_TRANSPORT:
      return len >= MSG_TRANSPORT_MIN_SIZE ? MSG_TRANSPORT : WG_BAD_SIZE;
    default:
      return WG_BAD_TYPE;
  }
}

export function getLe32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function putLe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Writes the type byte and the three reserved zero bytes. */
export function writeWgType(b: Uint8Array, o: number, type: number): void {
  b[o] = type;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = 0;
}

/** Receiver index of a response, cookie reply or transport message (all at offset 8, 4 or 4). */
export function wgReceiverIndex(b: Uint8Array, o: number, type: number): number {
  return getLe32(b, o + (type === MSG_RESPONSE ? WG_RESP_RECEIVER : WG_DATA_RECEIVER));
}

/** Low and high 32 bits of a transport message's counter. */
export function wgCounterLo(b: Uint8Array, o: number): number {
  return getLe32(b, o + WG_DATA_COUNTER);
}
export function wgCounterHi(b: Uint8Array, o: number): number {
  return getLe32(b, o + WG_DATA_COUNTER + 4);
}

/** Writes a transport header: type 4, receiver index, 64-bit counter as two 32-bit halves. */
export function writeWgTransportHeader(
  b: Uint8Array,
  o: number,
  receiver: number,
  counterHi: number,
  counterLo: number,
): void {
  writeWgType(b, o, MSG_TRANSPORT);
  putLe32(b, o + WG_DATA_RECEIVER, receiver);
  putLe32(b, o + WG_DATA_COUNTER, counterLo);
  putLe32(b, o + WG_DATA_COUNTER + 4, counterHi);
}

/** Plaintext is zero-padded to a multiple of this. */
const PADDING_MULTIPLE = 16;

/**
 * Plaintext length after zero-padding to a multiple of PADDING_MULTIPLE (never beyond mtu when
 * mtu is given and larger than len).
 */
export function wgPaddedLength(len: number, mtu = 0): number {
  const padded = (len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
  if (mtu > 0 && padded > mtu && len <= mtu) return mtu;
  return padded;
}
