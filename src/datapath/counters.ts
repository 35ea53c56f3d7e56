// Per-worker counter names. Every drop has its own name so `weft status` can say why.
// Every received frame ends in exactly one outcome: forwarded, consumed (answered or
// learned by the router itself), pendingQueued, fragmented (split to fit the egress MTU; its
// fragments count as information: fragmentsSent / fragmentsQueued / fragmentsLost), or one
// drop* counter. Other counters are information. Index constants are plain numbers so the
// fast path increments a Float64Array slot.

export const COUNTER_NAMES = [
  'rxFrames',
  'rxBytes',
  'txFrames',
  'txBytes',
  'forwarded',
  'consumed',
  'arpReplied',
  'ndpReplied',
  'neighbourRequests',
  'neighbourLearned',
  'icmpErrorsSent',
  'icmpErrorsRateLimited',
  'echoReplied',
  'pendingQueued',
  'pendingSent',
  'fragmented',
  // The fragments of fragmented packets: queued for transmission, parked for a neighbour,
  // lost to a full TX queue or pending queue (where a forwarded frame counts forwarded,
  // pendingQueued, dropTxFull or dropPendingFull).
  'fragmentsSent',
  'fragmentsQueued',
  'fragmentsLost',
  // Super-frames (superframe.ts): GSO frames received and sent whole (information); a received
  // super-frame cut into segments in software because its output takes no offloads (an outcome,
  // like `fragmented`), its segments made and then sent, parked or lost; checksums the sender
  // left to the device that were computed in software.
  'rxSuperFrames',
  'txSuperFrames',
  'segmented',
  'segmentsMade',
  'segmentsSent',
  'segmentsQueued',
  'segmentsLost',
  'checksumsFinished',
  // TCP segments appended to another of their flow's (gro.ts): they leave inside its super-frame.
  'groMerged',
  'vxlanEncapsulated',
  'vxlanDecapsulated',
  // Frames the router answered through the tunnel (already counted as consumed / icmpErrorsSent)
  // that could not be re-encapsulated: outer packet above the uplink MTU, or its TX queue full.
  'vxlanRepliesLost',
  // L4 load balancer (lb.ts): packets to a service sent to a backend inside IPIP / IP6IP6
  // (outcome forwarded, pendingQueued, fragmented, ...), and inner destination ports rewritten.
  'lbForwarded',
  'lbReverseXlated',
  'lbL4Xlated',
  // Connection table of SVC_FLAG_CONNTRACK services (src/lb/conntrack.ts): flows that used
  // their tracked backend, new entries, entries whose backend left the service (re-picked),
  // inserts refused (table full or busy), new flows not tracked over the new-flow rate.
  'lbConntrackHit',
  'lbConntrackInserted',
  'lbConntrackStale',
  'lbConntrackFull',
  'lbConntrackBypass',
  // Backend side: IPIP / IP6IP6 to one of our addresses, decapsulated and routed.
  'ipipDecapsulated',
  // WireGuard (wg-send.ts, wg-receive.ts). Sending: frames routed into the device count as
  // forwarded; then their messages are sent, parked for the uplink neighbour, or lost (tx / pending
  // full), or not sent: no peer owns the destination, the peer has no endpoint or no route to it,
  // no room in the slot, or no session yet (handed to the control thread, which queues it and
  // starts a handshake; lost when that ring is full).
  'wgSent',
  'wgParked',
  'wgLost',
  'wgNoPeer',
  'wgNoEndpoint',
  'wgNoRoute',
  'wgNoRoom',
  'wgQueuedForSession',
  // Sent while a session is being made, beyond the STAGED_PER_ASK packets per peer handed to
  // the control thread before it took them (a handshake takes milliseconds).
  'wgNoSessionDropped',
  'wgControlRingFull',
  // Receiving: transport messages decrypted, of which keepalives; handshake messages handed to the
  // control thread; datagrams the control thread asked a worker to send.
  'wgDecrypted',
  'wgKeepalives',
  'wgHandshakesToControl',
  'wgControlSent',
  // Super-frames into the tunnel (wg-send.ts): their segments sealed in one call and sent as UDP
  // GSO trains of messages where the uplink takes USO (each train is one wgSent); trains received
  // (wg-receive.ts: every message of one then counts as a frame received of its own).
  'wgTrainsSent',
  'wgTrainsOpened',
  // Recorder: frames copied into this worker's capture ring (inbound and outbound points), and
  // captures lost to a full ring (the frame itself goes on).
  'recorderCaptured',
  'recorderLost',
  // Egress gateway and masquerading (nat-stage.ts): packets sent unchanged to the gateway node,
  // translated to an egress IP, masqueraded to the node's address, replies reverse-translated,
  // ICMP errors about translated flows translated (either way).
  'natRedirected',
  'natTranslated',
  'natMasqueraded',
  'natReversed',
  'natIcmpErrors',
  // drops
  'dropTruncatedEthernet',
  'dropNotForUs',
  'dropBadSourceMac',
  'dropUnknownEthertype',
  'dropVlanTagged',
  'dropArpMalformed',
  'dropNeighbourNotOurs',
  'dropIpv4Truncated',
  'dropIpv4BadVersion',
  'dropIpv4BadHeaderLen',
  'dropIpv4BadTotalLen',
  'dropIpv4BadChecksum',
  'dropIpv4Martian',
  'dropIpv6Truncated',
  'dropIpv6BadVersion',
  'dropIpv6BadPayloadLen',
  'dropIpv6BadExtHeader',
  'dropIpv6TooManyExtHeaders',
  'dropIpv6Martian',
  'dropMulticastIgnored',
  'dropL4Truncated',
  'dropIcmpBadChecksum',
  'dropIcmpUnhandled',
  'dropNdpInvalid',
  'dropLocalUnhandled',
  'dropTtlExceeded',
  'dropNoRoute',
  'dropBlackhole',
  'dropTooBig',
  // Fragmentation of a non-DF IPv4 packet above the egress MTU: an option's length byte is
  // missing, below 2 or past the header; a fragment offset would not fit 13 bits; fewer free
  // generated slots than fragments (none is sent then).
  'dropFragmentBadOptions',
  'dropFragmentOffsetOverflow',
  'dropFragmentNoSlots',
  'dropPendingFull',
  'dropPendingTimeout',
  'dropTxFull',
  'dropTxQueueFull',
  'dropTxError',
  'dropPortDown',
  // VXLAN: a tunnel route while VXLAN is off; the uplink has no address of the underlay family.
  'dropVxlanDisabled',
  'dropVxlanNoSourceAddress',
  // VXLAN decapsulation: bad UDP length or too short for VXLAN + inner Ethernet; bad UDP
  // checksum (zero is bad over IPv6); I flag clear; another VNI; inner destination MAC not
  // ours (nor broadcast/multicast) or a group source MAC; inner ethertype not IPv4/IPv6/ARP.
  'dropVxlanMalformed',
  'dropVxlanBadChecksum',
  'dropVxlanBadFlags',
  'dropVxlanBadVni',
  'dropVxlanInnerMac',
  'dropVxlanInnerEthertype',
  // L4 load balancer: the service has no backend (or its lookups kept racing a rebuild); a
  // later IPv4/IPv6 fragment to a VIP (no ports to balance on; no fragment tracking); the
  // backend's address family differs from the service's; no route (or not an on-link / via
  // route) toward the backend.
  'dropLbNoBackend',
  'dropLbFragment',
  'dropLbBackendFamily',
  'dropLbNoRouteToBackend',
  // IPIP / IP6IP6 decapsulation: the inner packet is empty or its version does not match the
  // outer protocol (4 → IPv4, 41 → IPv6).
  'dropIpipMalformed',
  // Egress gateway / masquerade: the policy's egress IP has no gateway now (or no route to it);
  // a packet to an egress IP without a conntrack entry; no port left for a new flow; connection
  // table full; a later IPv4/IPv6 fragment (no reassembly); nothing to translate (an RST or an
  // ICMP error of no known flow); not translatable (routing header, AH/ESP, unknown protocol or
  // ICMP type, malformed L4).
  'dropNatNoGateway',
  'dropNatUnsolicited',
  'dropNatPortsExhausted',
  'dropNatTableFull',
  'dropNatLaterFragment',
  'dropNatNoEntry',
  'dropNatUnsupported',
  // WireGuard receive: a datagram to the listen port that is no WireGuard message (size, type,
  // reserved bytes); a transport message for an index we do not have, keys past their lifetime,
  // a tag that does not verify, a replayed or too old counter; a decrypted packet that is not
  // one whole IPv4/IPv6 packet, or whose source is not among the peer's allowed IPs; a
  // handshake message that found the control ring full; a tunnel inside the tunnel.
  'dropWgMalformed',
  'dropWgUnknownIndex',
  'dropWgExpired',
  'dropWgDecrypt',
  'dropWgReplay',
  'dropWgBadInner',
  'dropWgSourceNotAllowed',
  'dropWgControlRingFull',
  'dropWgNested',
  // A virtio_net_hdr that disagrees with its frame: unknown flags; a checksum to finish elsewhere
  // than at the TCP / UDP checksum; a GSO type, size or header that does not fit the packet. A
  // super-frame that needs more segments than one batch may make, or sent to our own address.
  'dropVnetBadHeader',
  'dropVnetBadChecksum',
  'dropVnetBadGso',
  'dropSuperFrameSegments',
  'dropSuperFrameLocal',
  // More re-entries of one frame than receive.ts's MAX_REENTRIES (a bound no stage's rule reaches).
  'dropReentryTooDeep',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

function indexOf(name: CounterName): number {
  return COUNTER_NAMES.indexOf(name);
}

/** Counter indices, resolved once at load. */
export const C = Object.freeze(
  Object.fromEntries(COUNTER_NAMES.map((n) => [n, indexOf(n)])) as Record<CounterName, number>,
);

export function isDrop(name: string): boolean {
  return name.startsWith('drop');
}
