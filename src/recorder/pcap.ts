// Classic libpcap files (what tcpdump -w writes, and what tcpdump, tshark and Wireshark read):
// a 24-byte file header, then per packet a 16-byte record header and the captured bytes.
// Little-endian with the microsecond magic (0xa1b2c3d4), link type Ethernet.

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export function pcapFileHeader(snaplen: number): Buffer {
  const h = Buffer.alloc(PCAP_FILE_HEADER_LEN);
  h.writeUInt32LE(PCAP_MAGIC_USEC, 0);
  h.writeUInt16LE(2, 4); // version 2.4
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return h;
}

/** Writes a record header at `at` in dst. */
export function writePcapRecordHeader(
  dst: Buffer,
  at: number,
  sec: number,
  usec: number,
  capLen: number,
  origLen: number,
): void {
  dst.writeUInt32LE(sec >>> 0, at);
  dst.writeUInt32LE(usec >>> 0, at + 4);
  dst.writeUInt32LE(capLen >>> 0, at + 8);
  dst.writeUInt32LE(origLen >>> 0, at + 12);
}
