// The text of the cross-platform configuration protocol (wireguard.com/xplatform): the body
// of a `get` answer, the status line, and applying the key=value lines of a `set`. A set is
// applied on a draft of the device, so an invalid line anywhere leaves the device unchanged.
import type { DeviceConfig, DeviceDraft } from './device-config.js';
import { Errno, UapiError, quote } from './errors.js';
import { formatHexKey, keysEqual, parseHexKey } from './keys.js';
import { parseAllowedIp, parseEndpoint } from './addresses.js';

const ZERO_KEY_HEX = '0'.repeat(64);

/** The key=value lines of a `get` answer, each ending in "\n", without the status. */
export function formatGet(device: DeviceConfig): string {
  const out: string[] = [];
  const priv = device.privateKey;
  if (priv) out.push(`private_key=${formatHexKey(priv)}`);
  if (device.effectiveListenPort !== 0) out.push(`listen_port=${device.effectiveListenPort}`);
  if (device.fwmark !== 0) out.push(`fwmark=${device.fwmark}`);
  for (const p of device.peers()) {
    out.push(`public_key=${p.publicKey}`);
    out.push(`preshared_key=${p.presharedKey ? formatHexKey(p.presharedKey) : ZERO_KEY_HEX}`);
    out.push(`protocol_version=${p.protocolVersion}`);
    if (p.endpoint) out.push(`endpoint=${p.endpoint.text}`);
    out.push(`last_handshake_time_sec=${p.lastHandshake.sec}`);
    out.push(`last_handshake_time_nsec=${p.lastHandshake.nsec}`);
    out.push(`tx_bytes=${p.txBytes}`);
    out.push(`rx_bytes=${p.rxBytes}`);
    out.push(`persistent_keepalive_interval=${p.persistentKeepaliveInterval}`);
    for (const ip of p.allowedIps) out.push(`allowed_ip=${ip.text}`);
  }
  return out.map((l) => `${l}\n`).join('');
}

/** The status that ends every answer: errno=0, or the negated errno as wireguard-go sends it. */
export function formatStatus(errno: number): string {
  return `errno=${errno === 0 ? 0 : -Math.abs(errno)}\n\n`;
}

/** The full answer to `get=1`. */
export function answerGet(device: DeviceConfig): string {
  return formatGet(device) + formatStatus(0);
}

/**
 * The peer the following lines of a set apply to. A dummy one (removed, update_only, or our own key) takes lines
 * without effect.
 */
interface SelectedPeer {
  readonly hex: string;
  readonly created: boolean;
  dummy: boolean;
}

/**
 * Applies the lines of a `set=1` request (without the op line and the blank line). Throws UapiError; then nothing
 * changed.
 */
export function applySet(device: DeviceConfig, lines: readonly string[]): void {
  device.update((draft) => {
    let peer: SelectedPeer | null = null;
    lines.forEach((line, i) => {
      try {
        const eq = line.indexOf('=');
        if (eq < 0) throw new UapiError(Errno.EPROTO, `${quote(line)} is not key=value`);
        const key = line.slice(0, eq);
        const value = line.slice(eq + 1);
        if (key === 'public_key') peer = selectPeer(draft, value);
        else if (peer === null) deviceLine(draft, key, value);
        else peerLine(draft, peer, key, value);
      } catch (err) {
        if (err instanceof UapiError) throw new UapiError(err.errno, `set line ${i + 1}: ${err.message}`);
        throw err;
      }
    });
  });
}

function selectPeer(draft: DeviceDraft, value: string): SelectedPeer {
  const key = parseHexKey(value, 'public_key');
  const hex = formatHexKey(key);
  // Our own key as a peer is accepted and ignored, as WireGuard does.
  const own = draft.publicKey;
  if (own && keysEqual(own, key)) return { hex, created: false, dummy: true };
  if (draft.hasPeer(hex)) return { hex, created: false, dummy: false };
  draft.addPeer(hex);
  return { hex, created: true, dummy: false };
}

function deviceLine(draft: DeviceDraft, key: string, value: string): void {
  switch (key) {
    case 'private_key':
      draft.setPrivateKey(parseHexKey(value, 'private_key'));
      return;
    case 'listen_port':
      draft.setListenPort(parseDecimal(value, 0xffff, 'listen_port'));
      return;
    case 'fwmark':
      draft.setFwmark(parseDecimal(value, 0xffffffff, 'fwmark'));
      return;
    case 'replace_peers':
      requireTrue(key, value);
      draft.removeAllPeers();
      return;
    default:
      throw new UapiError(Errno.EINVAL, `${quote(key)} is not a device key (peer keys come after public_key)`);
  }
}

function peerLine(draft: DeviceDraft, peer: SelectedPeer, key: string, value: string): void {
  switch (key) {
    case 'update_only':
      requireTrue(key, value);
      // The peer did not exist before this message: undo its creation and ignore its lines.
      if (peer.created && !peer.dummy) {
        draft.removePeer(peer.hex);
        peer.dummy = true;
      }
      return;
    case 'remove':
      requireTrue(key, value);
      if (!peer.dummy) draft.removePeer(peer.hex);
      peer.dummy = true;
      return;
    case 'preshared_key': {
      const psk = parseHexKey(value, 'preshared_key');
      if (!peer.dummy) draft.setPresharedKey(peer.hex, psk);
      return;
    }
    case 'endpoint': {
      const ep = parseEndpoint(value);
      if (!peer.dummy) draft.setEndpoint(peer.hex, ep);
      return;
    }
    case 'persistent_keepalive_interval': {
      const secs = parseDecimal(value, 0xffff, key);
      if (!peer.dummy) draft.setPersistentKeepalive(peer.hex, secs);
      return;
    }
    case 'replace_allowed_ips':
      requireTrue(key, value);
      if (!peer.dummy) draft.clearAllowedIps(peer.hex);
      return;
    case 'allowed_ip': {
      // "-prefix" removes it (newer wg tools send this from syncconf).
      const remove = value.startsWith('-');
      const prefix = parseAllowedIp(remove ? value.slice(1) : value);
      if (peer.dummy) return;
      if (remove) draft.removeAllowedIp(peer.hex, prefix);
      else draft.addAllowedIp(peer.hex, prefix);
      return;
    }
    case 'protocol_version':
      if (value !== '1')
        throw new UapiError(Errno.EINVAL, `protocol_version: ${quote(value)} is not supported (only 1)`);
      return;
    default:
      throw new UapiError(Errno.EINVAL, `${quote(key)} is not a peer key`);
  }
}

function requireTrue(key: string, value: string): void {
  if (value !== 'true')
    throw new UapiError(Errno.EINVAL, `${key}: the only valid value is "true", got ${quote(value)}`);
}

/** Unsigned decimal, as wireguard-go's ParseUint reads it (leading zeros allowed, no sign). */
function parseDecimal(value: string, max: number, what: string): number {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > BigInt(max))
    throw new UapiError(Errno.EINVAL, `${what}: ${quote(value)} is not an integer 0..${max}`);
  return Number(value);
}
