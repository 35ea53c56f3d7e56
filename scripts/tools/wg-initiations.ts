// Real WireGuard handshake initiations for the handshake benchmark, made ahead of time with
// Weft's own Noise code (src/wireguard/noise.ts): one initiator identity per peer, each
// initiation with a fresh ephemeral key, its own sender index and a strictly increasing
// TAI64N timestamp (20 ms apart, above the 2^24 ns whitening), plus the initiator's state
// needed to check the responder's answer. Generating them before the timed phase keeps the
// initiator's own Diffie-Hellman work out of the measurement of the responder.
import {
  LocalIdentity,
  Handshake,
  HandshakeState,
  createInitiation,
  consumeResponse,
} from '../../src/wireguard/noise.js';
import { CookieGenerator } from '../../src/wireguard/cookie.js';
import { generatePrivateKey, type KeyPair } from '../../src/wireguard/x25519.js';

export interface Initiation {
  /** 148 bytes, MAC1 set, MAC2 zero (the sender adds it when it holds a cookie). */
  msg: Uint8Array;
  senderIndex: number;
  hash: Uint8Array;
  chainingKey: Uint8Array;
  ephemeral: KeyPair;
}

export interface InitiatorPeer {
  id: number;
  hs: Handshake;
  cookies: CookieGenerator;
  initiations: Initiation[];
}

/** `count` initiations per peer key to the responder's public key; timestamps from wallStart on. */
export function makeInitiations(
  peerKeys: Uint8Array[],
  responderPublic: Uint8Array,
  count: number,
  wallStart: number,
): InitiatorPeer[] {
  return peerKeys.map((key, id) => {
    const hs = new Handshake(new LocalIdentity(key), responderPublic);
    const cookies = new CookieGenerator(responderPublic);
    const initiations: Initiation[] = [];
    for (let k = 0; k < count; k++) {
      // Unique over the whole run: the peer in the high bits, the sequence in the low ones.
      const senderIndex = ((id << 18) | k) >>> 0;
      const msg = createInitiation(hs, generatePrivateKey(), senderIndex, wallStart + 20 * k);
      if (msg === null) throw new Error(`peer ${id}: createInitiation failed`);
      cookies.addMacs(msg, 0);
      // Copies: the next createInitiation clears (zeroes) the handshake's arrays in place.
      const e = hs.localEphemeral!;
      initiations.push({
        msg,
        senderIndex,
        hash: Uint8Array.from(hs.hash),
        chainingKey: Uint8Array.from(hs.chainingKey),
        ephemeral: { ...e, privateKey: Uint8Array.from(e.privateKey) },
      });
    }
    return { id, hs, cookies, initiations };
  });
}

/** True when `response` is the responder's valid answer to `init` (the initiator's full check). */
export function checkResponse(p: InitiatorPeer, init: Initiation, response: Uint8Array): boolean {
  const hs = p.hs;
  hs.state = HandshakeState.InitiationCreated;
  hs.hash = Uint8Array.from(init.hash);
  hs.chainingKey = Uint8Array.from(init.chainingKey);
  hs.localEphemeral = { ...init.ephemeral, privateKey: Uint8Array.from(init.ephemeral.privateKey) };
  hs.localIndex = init.senderIndex;
  return consumeResponse(hs, response) === null;
}
