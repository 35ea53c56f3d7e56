// The word layouts of the tables that workers read, in one place (the contract between
// the control thread and the workers, like Katran's balancer_maps.h).
import { MAX_PORTS } from './port-table.js';

/**
 * Route value: [type, port, next hop (4 words; IPv4 uses the first), aux, inner MAC].
 * For ROUTE_TUNNEL the next-hop words hold the remote VTEP's underlay address, `aux` its
 * family (4 or 6) in the low byte, ROUTE_AUX_INNER_MAC when the route carries its own
 * inner destination MAC, and that MAC's bytes 4-5 in the high half; ROUTE_INNER_MAC holds
 * bytes 0-3. Other route types leave aux and inner MAC zero.
 */
export const ROUTE_VALUE_WORDS = 8;
export const ROUTE_TYPE = 0;
export const ROUTE_PORT = 1;
export const ROUTE_NEXTHOP = 2;
export const ROUTE_AUX = 6;
export const ROUTE_INNER_MAC = 7;

/** In ROUTE_AUX: the low byte is the underlay family. */
export const ROUTE_AUX_FAMILY_MASK = 0xff;
/** In ROUTE_AUX: the route has its own inner destination MAC (else the node's VXLAN MAC). */
export const ROUTE_AUX_INNER_MAC = 0x100;

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
/** Behind another node: VXLAN-encapsulated toward the remote VTEP out of `port` (an uplink). */
export const ROUTE_TUNNEL = 6;

/** Neighbour key: [port, family, address (4 words)]. */
export const NEIGH_KEY_WORDS = 6;
/** Neighbour value: [MAC bytes 0-3, MAC bytes 4-5, updated (seconds, monotonic)]. */
export const NEIGH_VALUE_WORDS = 3;

/**
 * The VXLAN tunnel as a port: decapsulated frames enter the pipeline on this port index, and
 * what the router sends back "out of the ingress port" (ARP replies, NAs, echo replies, ICMP
 * errors) is queued on it and encapsulated back to the VTEP the frame came from. Its port-table
 * record (kind PORT_KIND_TUNNEL in port-table.ts, no fds) holds the MAC we use inside the tunnel and the
 * addresses we answer there (the gateway addresses). Workers never read or write it.
 */
export const TUNNEL_PORT = MAX_PORTS - 1;

/**
 * The WireGuard device as a port: routes to peers' allowed IPs are connected routes on it (so
 * TTL, MTU — the device's — fragmentation and ICMP errors work as on any port), frames queued
 * on it are encrypted toward the peer that owns their destination once the received frame is
 * done, and decrypted packets enter the pipeline on it. No fds, no neighbours.
 */
export const WG_PORT = MAX_PORTS - 2;
/** Ports from here on are pseudo-ports (WireGuard, VXLAN): no TAP behind them. */
export const FIRST_PSEUDO_PORT = MAX_PORTS - 2; // WG_PORT, the lower of the two

/**
 * Node settings (one small shared Int32Array, control thread writes, workers read per packet).
 * Each field is one aligned word, so a reader never sees half a value.
 */
export const SETTINGS_WORDS = 16;
/** 1 when VXLAN encapsulation and decapsulation are on. */
export const SET_VXLAN_ENABLED = 0;
/** The 24-bit VNI we send and accept. */
export const SET_VXLAN_VNI = 1;
/** The UDP port we send to and accept on. */
export const SET_VXLAN_PORT = 2;
/**
 * L4 load balancer (DSR with IPIP / IP6IP6): the outer source prefix per family. The prefix
 * length word holds length + 1 (0: no prefix set; the egress port's address is used then);
 * the host bits of an outer source come from a hash of the client's address and port.
 */
export const SET_LB4_SRC_PLEN1 = 3;
/** The IPv4 outer source prefix (one word, big-endian). */
export const SET_LB4_SRC = 4;
export const SET_LB6_SRC_PLEN1 = 5;
/** The IPv6 outer source prefix (four words, big-endian). */
export const SET_LB6_SRC = 6;

// L4 load balancer (src/lb/tables.ts reads and writes these).

/** Service key: [family, VIP (4 words), port << 8 | IP protocol]. */
export const SVC_KEY_WORDS = 6;
/** Service value: [service slot, flags, generation, backend count]. */
export const SVC_VALUE_WORDS = 4;
export const SVC_SLOT = 0;
export const SVC_FLAGS = 1;
export const SVC_GENERATION = 2;
export const SVC_BACKENDS = 3;
/**
 * For every (VIP, protocol) with a service, the table also holds a marker under port 0 whose
 * value has slot SVC_VIP_MARKER: it lets a worker recognise packets to a VIP that carry no port
 * (later fragments, truncated headers). Port 0 is never a service port.
 */
export const SVC_VIP_MARKER = -1;
/** Rewrite the inner destination port to the backend's port (--lb-l4-xlate backend). */
export const SVC_FLAG_L4_XLATE = 1;
/** Track connections of this service in the shared connection table (src/lb/conntrack.ts). */
export const SVC_FLAG_CONNTRACK = 2;
/** Backend record: [family, address (4 words), port, weight, in use]. */
export const BACKEND_WORDS = 8;
export const BACKEND_FAMILY = 0;
export const BACKEND_ADDR = 1;
export const BACKEND_PORT = 5;
