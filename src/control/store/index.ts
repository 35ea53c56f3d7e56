// The cluster state store: import from here. Backends are loaded by openStore on demand.
export { openStore, StoreError } from './store.js';
export type { WatchEvent, Lease, Store } from './store.js';
