// The word layouts of the tables that workers read, in one place (the contract between
// the control thread and the workers, like Katran's balancer_maps.h).

/** Route value: [type, port, next hop (4 words; IPv4 uses the first)]. */
export const ROUTE_VALUE_WORDS = 6;
export const ROUTE_TYPE = 0;
export const ROUTE_PORT = 1;
export const ROUTE_NEXTHOP = 2;

/** Our own address: deliver to the router itself. */
export const ROUTE_LOCAL = 1;
/** On-link: the destination itself is the neighbour on `port`. */
export const ROUTE_CONNECTED = 2;
/** Via a gateway: `next hop` is the neighbour on `port`. */
export const ROUTE_VIA = 3;
/** Silently dropped. */
export const ROUTE_BLACKHOLE = 4;
/** Dropped with ICMP destination unreachable. */
export const ROUTE_UNREACHABLE = 5;

/** Neighbour key: [port, family, address (4 words)]. */
export const NEIGH_KEY_WORDS = 6;
/** Neighbour value: [MAC bytes 0-3, MAC bytes 4-5, updated (seconds, monotonic)]. */
export const NEIGH_VALUE_WORDS = 3;
