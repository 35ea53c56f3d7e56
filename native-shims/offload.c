/*
 * offload.c - what a TAP with offloads leaves to us when a frame must leave through an
 * output that cannot take it (a port with offloads off, a tunnel, WireGuard): cutting a
 * TCP or UDP super-frame into MTU-sized segments (TSO / USO in software) and finishing a
 * partial checksum. One call per super-frame, every segment written with correct headers
 * and checksums; the caller (JS) has parsed and checked the headers and says where they are.
 *
 * Nothing here trusts its arguments: every offset is checked against the buffer before a
 * byte is read or written, and a bad call throws EINVAL without touching anything.
 */
#include <errno.h>
#include <string.h>
#include "shim.h"

/* Kinds of super-frame (gsoSplit's `kind`). */
#define GSO_TCP4 1
#define GSO_TCP6 2
#define GSO_UDP4 3
#define GSO_UDP6 4

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/* Adds the bytes [p, p+n) as big-endian 16-bit words (an odd last byte padded with zero). */
static uint64_t sum_bytes(const uint8_t *p, size_t n, uint64_t acc) {
  while (n >= 8) {
    acc += ((uint32_t)p[0] << 8 | p[1]) + ((uint32_t)p[2] << 8 | p[3]) + ((uint32_t)p[4] << 8 | p[5]) +
           ((uint32_t)p[6] << 8 | p[7]);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    acc += (uint32_t)p[0] << 8 | p[1];
    p += 2;
    n -= 2;
  }
  if (n) acc += (uint32_t)p[0] << 8;
  return acc;
}

static uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/*
 * gsoSplit(buf, off, len, kind, l3, l4, payload, mss, dstOff, stride, maxSegs, lens, lensAt) -> n
 * The super-frame buf[off, off+len): Ethernet from off, IP from l3, TCP/UDP from l4, its
 * payload from `payload` (all absolute offsets). Segment i (payload bytes [i*mss, (i+1)*mss))
 * is written at buf[dstOff + i*stride] with copies of the headers; its length goes to
 * lens[lensAt+i]. IPv4: total length, ID + i and header checksum; IPv6: payload length
 * (extension headers between l3+40 and l4 are kept); TCP: sequence number, FIN and PSH only
 * on the last segment, CWR only on the first; UDP: length; the L4 checksum is computed in full
 * (whatever the super-frame's field held). Returns the number of segments.
 *
 * With a 14th argument `from`, only a window is written: segments from, from+1, ... (at most
 * maxSegs of them, the first at dstOff) — so the caller can lay a super-frame's segments out in
 * groups (WireGuard's UDP GSO trains, each under 64 KB). Returns how many were written.
 */
napi_value gso_split(napi_env env, napi_callback_info info) {
  ARGS(14);
  const char *call = "gsoSplit";
  uint8_t *buf;
  int32_t *lens;
  size_t blen, llen;
  int64_t off, len, kind, l3, l4, pay, mss, dst, stride, max, at;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "buf", (void **)&buf, &blen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "off", &off) ||
      !arg_int(env, argv[2], 1, INT32_MAX, call, "len", &len) ||
      !arg_int(env, argv[3], GSO_TCP4, GSO_UDP6, call, "kind", &kind) ||
      !arg_int(env, argv[4], 0, INT32_MAX, call, "l3", &l3) ||
      !arg_int(env, argv[5], 0, INT32_MAX, call, "l4", &l4) ||
      !arg_int(env, argv[6], 0, INT32_MAX, call, "payload", &pay) ||
      !arg_int(env, argv[7], 1, 65535, call, "mss", &mss) ||
      !arg_int(env, argv[8], 0, INT32_MAX, call, "dstOff", &dst) ||
      !arg_int(env, argv[9], 1, INT32_MAX, call, "stride", &stride) ||
      !arg_int(env, argv[10], 1, 65535, call, "maxSegs", &max) ||
      !arg_typed(env, argv[11], napi_int32_array, call, "lens", (void **)&lens, &llen) ||
      !arg_int(env, argv[12], 0, INT32_MAX, call, "lensAt", &at))
    return NULL;
  const int window = argc >= 14;
  int64_t from = 0;
  if (window && !arg_int(env, argv[13], 0, 65535, call, "from", &from)) return NULL;
  const int v4 = kind == GSO_TCP4 || kind == GSO_UDP4;
  const int tcp = kind == GSO_TCP4 || kind == GSO_TCP6;
  const int64_t end = off + len;
  if (end > (int64_t)blen) return throw_errno(env, EINVAL, "%s: the frame lies outside buf", call);
  if (!(off < l3 && l3 + (v4 ? 20 : 40) <= l4 && l4 + (tcp ? 20 : 8) <= pay && pay <= end))
    return throw_errno(env, EINVAL, "%s: header offsets out of order or too short", call);
  if (!tcp && pay != l4 + 8) return throw_errno(env, EINVAL, "%s: a UDP header is 8 bytes", call);
  const int64_t hlen = pay - off;
  const int64_t data = end - pay;
  const int64_t n = data == 0 ? 1 : (data + mss - 1) / mss;
  if (!window && n > max) return throw_errno(env, EINVAL, "%s: %lld segments, more than maxSegs", call, (long long)n);
  if (from >= n) return throw_errno(env, EINVAL, "%s: from is past the last segment", call);
  const int64_t count = n - from < max ? n - from : max;
  if (at + count > (int64_t)llen) return throw_errno(env, EINVAL, "%s: segments extend beyond lens", call);
  if (count > 1 && stride < hlen + mss) return throw_errno(env, EINVAL, "%s: stride shorter than a segment", call);
  const int64_t lastChunk = data - (from + count - 1) * mss < mss ? data - (from + count - 1) * mss : mss;
  const int64_t dend = dst + (count - 1) * stride + hlen + lastChunk;
  if (dend > (int64_t)blen) return throw_errno(env, EINVAL, "%s: segments extend beyond buf", call);
  if (dst < end && off < dend) return throw_errno(env, EINVAL, "%s: segments overlap the frame", call);

  const uint8_t *src = buf + off;
  const int64_t o3 = l3 - off, o4 = l4 - off;
  const uint16_t id0 = v4 ? get16(src + o3 + 4) : 0;
  const uint32_t seq0 = tcp ? ((uint32_t)src[o4 + 4] << 24 | (uint32_t)src[o4 + 5] << 16 |
                               (uint32_t)src[o4 + 6] << 8 | src[o4 + 7])
                            : 0;
  /* The pseudo-header's addresses are the same for every segment. */
  const uint64_t addrs = v4 ? sum_bytes(src + o3 + 12, 8, 0) : sum_bytes(src + o3 + 8, 32, 0);
  for (int64_t i = from; i < from + count; i++) {
    uint8_t *s = buf + dst + (i - from) * stride;
    const int64_t chunk = data - i * mss < mss ? data - i * mss : mss;
    memcpy(s, src, (size_t)hlen);
    memcpy(s + hlen, buf + pay + i * mss, (size_t)chunk);
    const int64_t seglen = hlen + chunk;
    const uint16_t l4len = (uint16_t)(seglen - o4);
    uint8_t *ip = s + o3, *l = s + o4;
    if (v4) {
      put16(ip + 2, (uint16_t)(seglen - o3));
      put16(ip + 4, (uint16_t)(id0 + i));
      put16(ip + 10, 0);
      put16(ip + 10, (uint16_t)~fold(sum_bytes(ip, (size_t)(o4 - o3), 0)));
    } else {
      put16(ip + 4, (uint16_t)(seglen - o3 - 40));
    }
    if (tcp) {
      const uint32_t seq = seq0 + (uint32_t)(i * mss);
      l[4] = (uint8_t)(seq >> 24);
      l[5] = (uint8_t)(seq >> 16);
      l[6] = (uint8_t)(seq >> 8);
      l[7] = (uint8_t)seq;
      if (i < n - 1) l[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
      if (i > 0) l[13] &= (uint8_t)~TCP_CWR;
      put16(l + 16, 0);
    } else {
      put16(l + 4, l4len);
      put16(l + 6, 0);
    }
    uint64_t acc = addrs + (tcp ? 6 : 17) + l4len;
    uint16_t c = (uint16_t)~fold(sum_bytes(l, l4len, acc));
    if (!tcp && c == 0) c = 0xffff; /* UDP: a computed zero is sent as all ones */
    put16(l + (tcp ? 16 : 6), c);
    lens[at + i - from] = (int32_t)seglen;
  }
  return make_int(env, count);
}

/*
 * csumFill(buf, start, end, field, udp): a frame whose checksum the sender left to us
 * (virtio NEEDS_CSUM: the field at `field` holds the pseudo-header sum): writes the ones'
 * complement of the sum of buf[start, end) at field (a UDP zero becomes 0xffff).
 */
napi_value csum_fill(napi_env env, napi_callback_info info) {
  ARGS(5);
  const char *call = "csumFill";
  uint8_t *buf;
  size_t blen;
  int64_t start, end, field;
  bool udp = false;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "buf", (void **)&buf, &blen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "start", &start) ||
      !arg_int(env, argv[2], 0, INT32_MAX, call, "end", &end) ||
      !arg_int(env, argv[3], 0, INT32_MAX, call, "field", &field))
    return NULL;
  if (napi_get_value_bool(env, argv[4], &udp) != napi_ok)
    return throw_errno(env, EINVAL, "%s: udp must be a boolean", call);
  if (!(start <= field && field + 2 <= end && end <= (int64_t)blen))
    return throw_errno(env, EINVAL, "%s: field or range outside the frame", call);
  uint16_t c = (uint16_t)~fold(sum_bytes(buf + start, (size_t)(end - start), 0));
  if (udp && c == 0) c = 0xffff;
  put16(buf + field, c);
  return NULL;
}

/*
 * l4CsumOk(buf, l3, l4, end, v6) -> bool: the TCP / UDP checksum of the packet whose IP header
 * is at l3 and L4 header at l4 (ending at end) verifies, pseudo-header included (protocol from
 * the IPv4 header, or the IPv6 next header, which the caller has made sure is the L4's). GRO
 * checks every segment it merges: the merged frame's checksum is left to the kernel, which
 * would then never look at the original ones.
 */
napi_value l4_csum_ok(napi_env env, napi_callback_info info) {
  ARGS(5);
  const char *call = "l4CsumOk";
  uint8_t *buf;
  size_t blen;
  int64_t l3, l4, end;
  bool v6 = false;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "buf", (void **)&buf, &blen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "l3", &l3) ||
      !arg_int(env, argv[2], 0, INT32_MAX, call, "l4", &l4) ||
      !arg_int(env, argv[3], 0, INT32_MAX, call, "end", &end))
    return NULL;
  if (napi_get_value_bool(env, argv[4], &v6) != napi_ok)
    return throw_errno(env, EINVAL, "%s: v6 must be a boolean", call);
  if (!(l3 + (v6 ? 40 : 20) <= l4 && l4 + 8 <= end && end <= (int64_t)blen))
    return throw_errno(env, EINVAL, "%s: offsets outside the buffer", call);
  const uint8_t *ip = buf + l3;
  const uint16_t l4len = (uint16_t)(end - l4);
  uint64_t acc = v6 ? sum_bytes(ip + 8, 32, 0) + ip[6] : sum_bytes(ip + 12, 8, 0) + ip[9];
  acc = sum_bytes(buf + l4, (size_t)l4len, acc + l4len);
  napi_value r;
  napi_get_boolean(env, fold(acc) == 0xffff, &r);
  return r;
}
