// The cluster state store: import from here. Backends are loaded by openStore on demand.
export { openStore, StoreError, checkKey, checkPrefix } from './store.js';
export type { KeyValue, WatchEvent, Lease, Watcher, Store } from './store.js';
