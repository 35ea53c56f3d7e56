/*
 * weft_native.c - the small native shim under Weft's TAP datapath.
 *
 * Why this exists: Node.js cannot do these things from JS at all, or not
 * without a syscall (and an N-API/libuv crossing) per packet:
 *   - TUNSETIFF: creating a multi-queue TAP needs an ioctl() on /dev/net/tun.
 *   - Batched I/O: rxBatch/txBatch do up to 256 read()/write() calls per
 *     JS->native crossing, straight into a caller-owned packet arena.
 *   - poll(): a worker thread blocks on its queue fds (plus an eventfd the
 *     control thread can signal) instead of spinning or going through libuv.
 *   - CPU affinity: sched_setaffinity() on the calling *thread*, so each
 *     worker_thread pins itself.
 *   - TAP offloads (IFF_VNET_HDR, TUNSETOFFLOAD): frames of up to 64 KB with
 *     a virtio_net_hdr in front, read and written with readv()/writev();
 *     segmentation and checksums for outputs that cannot take them are in
 *     offload.c.
 *
 * Rules: never crash the process. Every argument is validated (types, ranges,
 * buffer bounds) and every failure becomes a JS exception whose .code is the
 * errno name (EINVAL for bad arguments) and whose message is
 * "call(detail): step: strerror". No global state, so the addon is safe to
 * load in several worker_threads at once.
 */
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_QUEUES 16
#define MAX_BATCH 256
#define MAX_WAIT_FDS 512

/* Throw Error(message) with .code = errno name. Always returns NULL so
 * callers can write `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, int err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
  const char *code = strerrorname_np(err);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code ? code : "EUNKNOWN", msg);
  return NULL;
}

/* Argument-validation failure: EINVAL + what was wrong. */
#define BAD_ARG(call, what) throw_errno(env, EINVAL, "%s: %s", call, what)

/* Integer argument in [lo, hi]; rejects non-numbers, NaN and fractions. */
bool arg_int(napi_env env, napi_value v, int64_t lo, int64_t hi,
                    const char *call, const char *name, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || !(d >= (double)lo) ||
      d > (double)hi || d != (double)(int64_t)d) {
    throw_errno(env, EINVAL, "%s: %s must be an integer in [%lld, %lld]", call,
                name, (long long)lo, (long long)hi);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* Typed array of exactly the given element type; yields data + element count.
 * A detached buffer yields len 0, which every bounds check then rejects. */
bool arg_typed(napi_env env, napi_value v, napi_typedarray_type want,
                      const char *call, const char *name, void **data,
                      size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) != napi_ok ||
      t != want) {
    throw_errno(env, EINVAL, "%s: %s has the wrong type", call, name);
    return false;
  }
  if (*data == NULL) *len = 0;
  return true;
}

/* Fetch n arguments: N-API fills missing ones with undefined (which then
 * fails its type check) and ignores extras. */

napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

/* The virtio_net_hdr size, then the offloads: checksum, TSO (with ECN) and,
 * where the kernel has it, USO (both families or neither). Returns an errno
 * and the failing step, or 0 with the accepted TUN_F_* bits. */
static int tap_offloads(int fd, unsigned *accepted, const char **step) {
  int hdr = VNET_HDR_LEN;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { *step = "TUNSETVNETHDRSZ"; return errno; }
  unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  unsigned with_uso = tso | TUN_F_USO4 | TUN_F_USO6;
  if (ioctl(fd, TUNSETOFFLOAD, with_uso) == 0) { *accepted = with_uso; return 0; }
  if (ioctl(fd, TUNSETOFFLOAD, tso) == 0) { *accepted = tso; return 0; }
  *step = "TUNSETOFFLOAD";
  return errno;
}

/* tapOpen(name, queues[, offloads]) -> { name, fds, offloads }: with offloads
 * true every queue carries a virtio_net_hdr and the device takes checksum and
 * segmentation offloads; `offloads` in the result is the TUN_F_* bits the
 * kernel accepted (0 without). */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  ARGS(3);
  char name[IFNAMSIZ];
  size_t nlen = 0;
  napi_valuetype t;
  int64_t queues;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string)
    return BAD_ARG("tapOpen", "name must be a string");
  /* Measure first: copying into a short buffer would silently truncate. */
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &nlen) != napi_ok ||
      nlen == 0 || nlen >= IFNAMSIZ ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok ||
      strlen(name) != nlen)
    return BAD_ARG("tapOpen", "name must be 1..15 bytes without NUL");
  if (!arg_int(env, argv[1], 1, MAX_QUEUES, "tapOpen", "queues", &queues))
    return NULL;
  bool want_offloads = false;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (t != napi_undefined &&
      (t != napi_boolean || napi_get_value_bool(env, argv[2], &want_offloads) != napi_ok))
    return BAD_ARG("tapOpen", "offloads must be a boolean");
  unsigned accepted = 0;

  int fds[MAX_QUEUES];
  int opened = 0, err = 0;
  const char *step = NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, nlen);
  for (; opened < queues; opened++) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { err = errno; step = "open /dev/net/tun"; break; }
    /* After the first ioctl ifr_name holds the real name ("weft%d" is
     * expanded by the kernel), so later queues attach to the same device. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | (want_offloads ? IFF_VNET_HDR : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno; step = "TUNSETIFF";
      close(fd);
      break;
    }
    /* Header size and offloads belong to the device: set once, on the first queue. */
    if (want_offloads && opened == 0 && (err = tap_offloads(fd, &accepted, &step)) != 0) {
      close(fd);
      break;
    }
    fds[opened] = fd;
  }
  if (err) { /* closing every queue fd destroys a non-persistent device */
    for (int i = 0; i < opened; i++) close(fds[i]);
    return throw_errno(env, err, "tapOpen(%s): %s", name, step);
  }

  napi_value res, jname, jfds, joff;
  bool ok = true;
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  ok &= napi_create_object(env, &res) == napi_ok;
  ok &= napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &jname) == napi_ok;
  ok &= napi_create_array_with_length(env, (size_t)queues, &jfds) == napi_ok;
  for (int i = 0; ok && i < opened; i++)
    ok &= napi_set_element(env, jfds, (uint32_t)i, make_int(env, fds[i])) == napi_ok;
  ok = ok && napi_create_uint32(env, accepted, &joff) == napi_ok &&
       napi_set_named_property(env, res, "name", jname) == napi_ok &&
       napi_set_named_property(env, res, "fds", jfds) == napi_ok &&
       napi_set_named_property(env, res, "offloads", joff) == napi_ok;
  if (!ok) { /* JS never saw the fds, so nobody else could close them */
    for (int i = 0; i < opened; i++) close(fds[i]);
    return throw_errno(env, ENOMEM, "tapOpen(%s): building result", ifr.ifr_name);
  }
  return res;
}

void vnet_decode(const uint8_t h[VNET_HDR_LEN], int32_t *w) {
  w[0] = h[0];
  w[1] = h[1];
  for (int i = 0; i < 4; i++) w[2 + i] = h[2 + 2 * i] | (h[3 + 2 * i] << 8);
}

void vnet_encode(const int32_t *w, uint8_t h[VNET_HDR_LEN]) {
  h[0] = (uint8_t)w[0];
  h[1] = (uint8_t)w[1];
  for (int i = 0; i < 4; i++) {
    h[2 + 2 * i] = (uint8_t)w[2 + i];
    h[3 + 2 * i] = (uint8_t)(w[2 + i] >> 8);
  }
}

/* An optional Int32Array of VNET_WORDS per frame index, at least `need` frames long. */
static bool arg_vnet(napi_env env, napi_value v, const char *call, int64_t need, int32_t **out) {
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined) return true;
  size_t len;
  if (!arg_typed(env, v, napi_int32_array, call, "vnet", (void **)out, &len)) return false;
  if (need * VNET_WORDS > (int64_t)len) {
    throw_errno(env, EINVAL, "%s: frames extend beyond vnet", call);
    return false;
  }
  return true;
}

/* rxBatch(fd, arena, firstSlot, maxFrames, slotSize, headroom, lens[, vnet]) -> n
 * With vnet (the fd was opened with offloads), each frame's virtio_net_hdr is
 * decoded into vnet[(firstSlot+i)*6 ..] and the frame alone lands in its slot. */
static napi_value rx_batch(napi_env env, napi_callback_info info) {
  ARGS(8);
  int64_t fd, first, max, slot, head;
  uint8_t *arena;
  int32_t *lens, *vnet;
  size_t alen, llen;
  if (!arg_int(env, argv[0], 0, INT32_MAX, "rxBatch", "fd", &fd) ||
      !arg_typed(env, argv[1], napi_uint8_array, "rxBatch", "arena",
                 (void **)&arena, &alen) ||
      !arg_int(env, argv[2], 0, INT32_MAX, "rxBatch", "firstSlot", &first) ||
      !arg_int(env, argv[3], 1, MAX_BATCH, "rxBatch", "maxFrames", &max) ||
      !arg_int(env, argv[4], 1, INT32_MAX, "rxBatch", "slotSize", &slot) ||
      !arg_int(env, argv[5], 0, slot - 1, "rxBatch", "headroom", &head) ||
      !arg_typed(env, argv[6], napi_int32_array, "rxBatch", "lens",
                 (void **)&lens, &llen))
    return NULL;
  /* All slots we might touch must lie inside arena and lens; int64 math
   * cannot overflow with these ranges (2^31 * 2^31 < 2^63). */
  if ((first + max) * slot > (int64_t)alen)
    return BAD_ARG("rxBatch", "slots extend beyond the arena");
  if (first + max > (int64_t)llen)
    return BAD_ARG("rxBatch", "slots extend beyond lens");
  if (!arg_vnet(env, argv[7], "rxBatch", first + max, &vnet)) return NULL;

  int64_t n = 0;
  size_t cap = (size_t)(slot - head);
  uint8_t hdr[VNET_HDR_LEN];
  while (n < max) {
    uint8_t *p = arena + (first + n) * slot + head;
    struct iovec iov[2] = {{hdr, VNET_HDR_LEN}, {p, cap}};
    ssize_t r = vnet ? readv((int)fd, iov, 2) : read((int)fd, p, cap);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (n > 0) break; /* report what we got; the error recurs next call */
      return throw_errno(env, err, "rxBatch(fd %d): read", (int)fd);
    }
    if (vnet) {
      if (r < VNET_HDR_LEN) continue; /* cannot happen on a TAP; never hand out half a header */
      r -= VNET_HDR_LEN;
      vnet_decode(hdr, vnet + (first + n) * VNET_WORDS);
    }
    /* TAP truncates frames longer than cap; clamp anyway so lens can never
     * point outside the slot. */
    lens[first + n] = (int32_t)((size_t)r > cap ? cap : (size_t)r);
    n++;
  }
  return make_int(env, n);
}

/*
 * txBatch(fd, arena, desc, first, n[, stats[, vnet]]) -> consumed
 * desc is an Int32Array of (byteOffset, length) pairs; frames first..first+n-1
 * (n <= 256) are written with one write() each. All descriptors are copied and
 * bounds-checked before anything is written (desc may be shared memory that
 * another thread changes under us). Return value = frames consumed: written OR
 * dropped because write() failed with a per-frame error (EIO when the TAP is
 * down, EINVAL for a runt frame, ...). Each such failure adds 1 to stats[0]
 * if the optional Float64Array `stats` is given. EAGAIN (queue full) stops
 * the batch: frames from the return value on were not consumed. EBADF/EFAULT
 * throw (nothing can ever succeed on that fd), unless frames were consumed
 * already, in which case the count is returned and the error recurs.
 * With vnet (the fd was opened with offloads) frame i is written behind the
 * virtio_net_hdr encoded from vnet[(first+i)*6 ..].
 */
static napi_value tx_batch(napi_env env, napi_callback_info info) {
  ARGS(7);
  int64_t fd, first, n;
  uint8_t *arena;
  int32_t *desc, *vnet;
  double *stats = NULL;
  size_t alen, dlen, slen = 0;
  napi_valuetype t;
  if (!arg_int(env, argv[0], 0, INT32_MAX, "txBatch", "fd", &fd) ||
      !arg_typed(env, argv[1], napi_uint8_array, "txBatch", "arena",
                 (void **)&arena, &alen) ||
      !arg_typed(env, argv[2], napi_int32_array, "txBatch", "desc",
                 (void **)&desc, &dlen) ||
      !arg_int(env, argv[3], 0, INT32_MAX, "txBatch", "first", &first) ||
      !arg_int(env, argv[4], 0, MAX_BATCH, "txBatch", "n", &n))
    return NULL;
  if (napi_typeof(env, argv[5], &t) != napi_ok) return NULL;
  if (t != napi_undefined) {
    if (!arg_typed(env, argv[5], napi_float64_array, "txBatch", "stats",
                   (void **)&stats, &slen))
      return NULL;
    if (slen < 1) return BAD_ARG("txBatch", "stats must have length >= 1");
  }
  if ((first + n) * 2 > (int64_t)dlen)
    return BAD_ARG("txBatch", "frames extend beyond desc");
  if (!arg_vnet(env, argv[6], "txBatch", first + n, &vnet)) return NULL;
  int32_t d[2 * MAX_BATCH];
  for (int64_t i = 0; i < n; i++) {
    d[2 * i] = desc[2 * (first + i)];
    d[2 * i + 1] = desc[2 * (first + i) + 1];
    if (d[2 * i] < 0 || d[2 * i + 1] < 0 ||
        (int64_t)d[2 * i] + d[2 * i + 1] > (int64_t)alen)
      return throw_errno(env, EINVAL, "txBatch: desc[%lld] lies outside the arena",
                         (long long)(first + i));
  }

  int64_t done = 0, failed = 0;
  uint8_t hdr[VNET_HDR_LEN];
  while (done < n) {
    ssize_t r;
    if (vnet) {
      vnet_encode(vnet + (first + done) * VNET_WORDS, hdr);
      struct iovec iov[2] = {{hdr, VNET_HDR_LEN}, {arena + d[2 * done], (size_t)d[2 * done + 1]}};
      r = writev((int)fd, iov, 2);
    } else {
      r = write((int)fd, arena + d[2 * done], (size_t)d[2 * done + 1]);
    }
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EBADF || err == EFAULT) {
        if (done > 0) break;
        return throw_errno(env, err, "txBatch(fd %d): write", (int)fd);
      }
      failed++;
    }
    done++; /* a TAP write is all-or-nothing, so r >= 0 means sent */
  }
  if (stats) stats[0] += (double)failed;
  return make_int(env, done);
}

/* wait(fds, n, timeoutMs, ready) -> count ready. Negative fds are ignored
 * (as poll() does). timeoutMs -1 blocks until an fd is ready. */
static napi_value wait_fds(napi_env env, napi_callback_info info) {
  ARGS(4);
  int64_t n, timeout;
  int32_t *fds, *ready;
  size_t flen, rlen;
  if (!arg_typed(env, argv[0], napi_int32_array, "wait", "fds", (void **)&fds,
                 &flen) ||
      !arg_int(env, argv[1], 0, MAX_WAIT_FDS, "wait", "n", &n) ||
      !arg_int(env, argv[2], -1, INT32_MAX, "wait", "timeoutMs", &timeout) ||
      !arg_typed(env, argv[3], napi_int32_array, "wait", "ready",
                 (void **)&ready, &rlen))
    return NULL;
  if ((size_t)n > flen || (size_t)n > rlen)
    return BAD_ARG("wait", "n exceeds fds or ready length");

  struct pollfd p[MAX_WAIT_FDS];
  for (int64_t i = 0; i < n; i++) {
    p[i].fd = fds[i];
    p[i].events = POLLIN;
    p[i].revents = 0;
  }
  /* On EINTR every revents is still 0, so it reports "nothing ready". */
  if (poll(p, (nfds_t)n, (int)timeout) < 0 && errno != EINTR)
    return throw_errno(env, errno, "wait: poll");
  /* POLLNVAL counts as ready so the caller's next read reports EBADF
   * instead of spinning on a closed fd. */
  int64_t count = 0;
  for (int64_t i = 0; i < n; i++) {
    int on = (p[i].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0;
    ready[i] = on;
    count += on;
  }
  return make_int(env, count);
}

/* pin(cpu): tid 0 = the calling thread, not the whole process. */
static napi_value pin(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t cpu;
  if (!arg_int(env, argv[0], 0, CPU_SETSIZE - 1, "pin", "cpu", &cpu))
    return NULL;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((int)cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0)
    return throw_errno(env, errno, "pin(%d): sched_setaffinity", (int)cpu);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t fd;
  if (!arg_int(env, argv[0], 0, INT32_MAX, "close", "fd", &fd)) return NULL;
  /* Linux releases the fd even when close() reports EINTR: never retry. */
  if (close((int)fd) < 0 && errno != EINTR)
    return throw_errno(env, errno, "close(%d)", (int)fd);
  return NULL;
}

static napi_value efd_create(napi_env env, napi_callback_info info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "eventfdCreate: eventfd");
  return make_int(env, fd);
}

/* Signal: add 1. EAGAIN means the counter is saturated, i.e. already
 * signalled, so it is not an error. Drain: read resets the counter to 0;
 * EAGAIN means it was already 0. */
static napi_value efd_io(napi_env env, napi_callback_info info, bool signal) {
  ARGS(1);
  const char *call = signal ? "eventfdSignal" : "eventfdDrain";
  int64_t fd;
  uint64_t v = 1;
  if (!arg_int(env, argv[0], 0, INT32_MAX, call, "fd", &fd)) return NULL;
  for (;;) {
    ssize_t r = signal ? write((int)fd, &v, sizeof v) : read((int)fd, &v, sizeof v);
    if (r >= 0 || errno == EAGAIN) return NULL;
    if (errno != EINTR)
      return throw_errno(env, errno, "%s(%d): %s", call, (int)fd,
                         signal ? "write" : "read");
  }
}
static napi_value efd_signal(napi_env env, napi_callback_info info) { return efd_io(env, info, true); }
static napi_value efd_drain(napi_env env, napi_callback_info info) { return efd_io(env, info, false); }

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
      {"tapOpen", tap_open},          {"rxBatch", rx_batch},
      {"txBatch", tx_batch},          {"wait", wait_fds},
      {"pin", pin},                   {"close", close_fd},
      {"eventfdCreate", efd_create},  {"eventfdSignal", efd_signal},
      {"eventfdDrain", efd_drain},
      {"aeadSeal", aead_seal},        {"aeadOpen", aead_open},
      {"aeadSealMany", aead_seal_many}, {"aeadOpenMany", aead_open_many},
      {"gsoSplit", gso_split},        {"csumFill", csum_fill},
      {"l4CsumOk", l4_csum_ok},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn,
                             NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return NULL;
  }
  return exports;
}
