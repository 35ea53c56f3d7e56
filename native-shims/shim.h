/* What the shim's C files share: argument checks and errors as JS exceptions. */
#ifndef WEFT_SHIM_H
#define WEFT_SHIM_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

napi_value throw_errno(napi_env env, int err, const char *fmt, ...);
bool arg_int(napi_env env, napi_value v, int64_t lo, int64_t hi, const char *call, const char *name, int64_t *out);
bool arg_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *call, const char *name, void **data, size_t *len);

/* WireGuard transport AEAD (wg_aead.c). */
napi_value aead_seal(napi_env env, napi_callback_info info);
napi_value aead_open(napi_env env, napi_callback_info info);

/* Fetch n arguments: N-API fills missing ones with undefined (which then
 * fails its type check) and ignores extras. */
#define ARGS(n)                                                        \
  size_t argc = (n);                                                   \
  napi_value argv[n];                                                  \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) \
    return NULL;

#endif
