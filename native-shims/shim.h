/* What the shim's C files share: argument checks and errors as JS exceptions. */
#ifndef WEFT_SHIM_H
#define WEFT_SHIM_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

napi_value throw_errno(napi_env env, int err, const char *fmt, ...);
bool arg_int(napi_env env, napi_value v, int64_t lo, int64_t hi, const char *call, const char *name, int64_t *out);
napi_value make_int(napi_env env, int64_t v);
bool arg_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *call, const char *name, void **data, size_t *len);

/* The virtio_net_hdr in front of every frame of a TAP opened with offloads
 * (little-endian on the hosts we run on), and the six Int32 words a frame's
 * header is decoded into for JS: flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset. */
#define VNET_HDR_LEN 10
#define VNET_WORDS 6
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
void vnet_decode(const uint8_t h[VNET_HDR_LEN], int32_t *w);
void vnet_encode(const int32_t *w, uint8_t h[VNET_HDR_LEN]);

/* Segmentation and checksums for outputs without offloads (offload.c). */
napi_value gso_split(napi_env env, napi_callback_info info);
napi_value csum_fill(napi_env env, napi_callback_info info);
napi_value l4_csum_ok(napi_env env, napi_callback_info info);

/* WireGuard transport AEAD (wg_aead.c). */
napi_value aead_seal(napi_env env, napi_callback_info info);
napi_value aead_open(napi_env env, napi_callback_info info);
napi_value aead_seal_many(napi_env env, napi_callback_info info);
napi_value aead_open_many(napi_env env, napi_callback_info info);

/* Fetch n arguments: N-API fills missing ones with undefined (which then
 * fails its type check) and ignores extras. */
#define ARGS(n)                                                        \
  size_t argc = (n);                                                   \
  napi_value argv[n];                                                  \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) \
    return NULL;

#endif
