// Backend side of `l4Xlate: backend`: the LB rewrote the client's destination port to the
// backend's port, so a DSR backend answers from (VIP, backend port). Before its reply leaves
// the node, the service port is put back, so the client sees the port it connected to. The
// table maps (VIP, backend port, protocol) → service port; the control thread fills it from
// the services in the store. Only frames from endpoints serving VIPs are looked at.
import { SharedHashMap } from '../tables/hashmap.js';
import { SVC_KEY_WORDS } from '../tables/layout.js';
import { fillServiceKey } from '../lb/tables.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { TCP_CSUM, TCP_SRC_PORT } from '../wire/tcp.js';
import { UDP_CSUM, UDP_SRC_PORT } from '../wire/udp.js';
import { update16 } from '../wire/checksum.js';
import { get16, put16 } from '../wire/bytes.js';

/** Value words: [service port]. */
export const REVERSE_VALUE_WORDS = 1;

let table: SharedHashMap | null = null;
const key = new Int32Array(SVC_KEY_WORDS);
const value = new Int32Array(REVERSE_VALUE_WORDS);

export function attachReverseXlate(sab: SharedArrayBuffer): void {
  table = SharedHashMap.attach(sab);
}

/**
 * Rewrites the source port of a reply from (VIP, backend port) back to the service port.
 * l4/l4len: the TCP/UDP header and the bytes after it; srcOff: the source address; v4 tells
 * whether a zero UDP checksum means "none"; partial: the checksum field holds only the
 * pseudo-header sum (left to the device), which ports are not part of. Returns true when it
 * rewrote the port.
 */
export function reverseXlate(
  b: Uint8Array,
  family: number,
  srcOff: number,
  proto: number,
  l4: number,
  l4len: number,
  partial: boolean,
): boolean {
  if (table === null || (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP)) return false;
  const csumOff = proto === IPPROTO_TCP ? TCP_CSUM : UDP_CSUM;
  if (l4len < csumOff + 2) return false;
  const sport = get16(b, l4 + (proto === IPPROTO_TCP ? TCP_SRC_PORT : UDP_SRC_PORT));
  fillServiceKey(key, family, b, srcOff, sport, proto);
  if (!table.lookup(key, 0, value, 0)) return false;
  const port = value[0];
  put16(b, l4, port);
  const csum = get16(b, l4 + csumOff);
  // A zero UDP checksum over IPv4 means "not computed": it stays zero.
  if (!partial && !(proto === IPPROTO_UDP && family === 4 && csum === 0)) {
    let c = update16(csum, sport, port);
    if (proto === IPPROTO_UDP && c === 0) c = 0xffff;
    put16(b, l4 + csumOff, c);
  }
  return true;
}
