// The UAPI's public surface for the agent and the dataplane.
export { DeviceConfig } from './device-config.js';
export type { ChangeEvent } from './device-config.js';
export { makeEndpoint } from './addresses.js';
export type { Endpoint } from './addresses.js';
export { UapiServer } from './server.js';
