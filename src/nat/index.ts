// The NAT core (issue 6) in one import for the datapath and the agent; each module's header
// explains its decisions.
export * from './policy.js';
export * from './selector.js';
export * from './egress-compile.js';
export * from './egress-table.js';
export * from './packet.js';
export * from './snat.js';
export * from './ct-state.js';
export * from './port-alloc.js';
export * from './conntrack.js';
export * from './masquerade.js';
export * from './local-ips.js';
