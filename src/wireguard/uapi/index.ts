// The UAPI's public surface for the agent and the dataplane.
export { DeviceConfig, DeviceDraft, DEFAULT_LIMITS, peerHex } from './device-config.js';
export type {
  ChangeEvent,
  ChangeListener,
  DeviceChange,
  DeviceLimits,
  PeerField,
  PeerKey,
  PeerSnapshot,
} from './device-config.js';
export { parseAllowedIp, parseEndpoint, makeEndpoint, makePrefix, formatIp } from './addresses.js';
export type { Endpoint, IpPrefix } from './addresses.js';
export { Errno, UapiError } from './errors.js';
export { derivePublicKey, formatHexKey, parseHexKey } from './keys.js';
export { answerGet, applySet, formatGet } from './protocol.js';
export { UapiServer, DEFAULT_RUN_DIR } from './server.js';
export type { UapiServerOptions } from './server.js';
