// Shared-memory tables: created in the control thread, attached in workers from the SAB alone.
export { SharedHashMap, HASHMAP_HEADER_WORDS } from './hashmap.js';
export { PrefixTable } from './prefix.js';
export { SpscRing } from './ring.js';
export { CounterBlock } from './counters.js';
