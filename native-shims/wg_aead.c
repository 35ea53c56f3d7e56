/*
 * wg_aead.c - WireGuard's transport AEAD (ChaCha20-Poly1305, RFC 8439) in place, one call
 * per packet, with no allocation: node:crypto's createCipheriv builds a cipher object and
 * output buffers for every packet, which costs more than the cipher on small packets.
 *
 * The primitives are Node's own OpenSSL (the addon resolves EVP_* from the node binary, the
 * headers come with Node's), so nothing new is linked in. Each thread (each worker) gets its
 * own EVP_CIPHER_CTX, kept as the addon's per-environment instance data and freed with it.
 *
 * Nonce: 32 zero bits then the 64-bit message counter, little-endian (the WireGuard paper).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include "shim.h"

#define KEY_LEN 32
#define TAG_LEN 16

static void free_ctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)data);
}

static EVP_CIPHER_CTX *thread_ctx(napi_env env) {
  void *d = NULL;
  if (napi_get_instance_data(env, &d) == napi_ok && d != NULL) return (EVP_CIPHER_CTX *)d;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c == NULL) return NULL;
  if (napi_set_instance_data(env, c, free_ctx, NULL) != napi_ok) {
    EVP_CIPHER_CTX_free(c);
    return NULL;
  }
  return c;
}

/* (key, keyOff, buf, off, len, counterLo, counterHi): the checked pointers. */
static bool aead_args(napi_env env, napi_callback_info info, const char *call, int tagIn,
                      uint8_t **key, uint8_t **data, size_t *n, uint8_t nonce[12]) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  void *k, *b;
  size_t klen, blen;
  int64_t koff, off, len, lo, hi;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "key", &k, &klen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "keyOff", &koff) ||
      !arg_typed(env, argv[2], napi_uint8_array, call, "buf", &b, &blen) ||
      !arg_int(env, argv[3], 0, INT32_MAX, call, "off", &off) ||
      !arg_int(env, argv[4], tagIn ? TAG_LEN : 0, INT32_MAX, call, "len", &len) ||
      !arg_int(env, argv[5], 0, UINT32_MAX, call, "counterLo", &lo) ||
      !arg_int(env, argv[6], 0, UINT32_MAX, call, "counterHi", &hi))
    return false;
  if ((size_t)koff + KEY_LEN > klen) {
    throw_errno(env, EINVAL, "%s: key: keyOff + 32 is past the end", call);
    return false;
  }
  /* Sealing writes the tag after the plaintext; opening reads it from the end. */
  if ((size_t)off + (size_t)len + (tagIn ? 0 : TAG_LEN) > blen) {
    throw_errno(env, EINVAL, "%s: buf: off + len%s is past the end", call, tagIn ? "" : " + 16");
    return false;
  }
  *key = (uint8_t *)k + koff;
  *data = (uint8_t *)b + off;
  *n = (size_t)len;
  memset(nonce, 0, 4);
  for (int i = 0; i < 4; i++) nonce[4 + i] = (uint8_t)((uint64_t)lo >> (8 * i));
  for (int i = 0; i < 4; i++) nonce[8 + i] = (uint8_t)((uint64_t)hi >> (8 * i));
  return true;
}

/* aeadSeal(key, keyOff, buf, off, len, counterLo, counterHi): encrypts buf[off, off+len) in
 * place and writes the 16-byte tag right after it. */
napi_value aead_seal(napi_env env, napi_callback_info info) {
  uint8_t *key, *p, nonce[12];
  size_t n;
  if (!aead_args(env, info, "aeadSeal", 0, &key, &p, &n, nonce)) return NULL;
  EVP_CIPHER_CTX *c = thread_ctx(env);
  int outl = 0;
  if (c == NULL || EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, 1) != 1 ||
      (n > 0 && EVP_CipherUpdate(c, p, &outl, p, (int)n) != 1) ||
      EVP_CipherFinal_ex(c, p + outl, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, p + n) != 1)
    return throw_errno(env, EIO, "aeadSeal: OpenSSL");
  return NULL;
}

/* aeadOpen(key, keyOff, buf, off, len, counterLo, counterHi): len includes the tag. Decrypts
 * in place and returns true when the tag verifies; false (bytes then meaningless) when not. */
napi_value aead_open(napi_env env, napi_callback_info info) {
  uint8_t *key, *p, nonce[12];
  size_t n;
  if (!aead_args(env, info, "aeadOpen", 1, &key, &p, &n, nonce)) return NULL;
  EVP_CIPHER_CTX *c = thread_ctx(env);
  size_t ct = n - TAG_LEN;
  int outl = 0, ok = 0;
  if (c != NULL && EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, 0) == 1 &&
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, p + ct) == 1 &&
      (ct == 0 || EVP_CipherUpdate(c, p, &outl, p, (int)ct) == 1))
    ok = EVP_CipherFinal_ex(c, p + outl, &outl) == 1;
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

/* aeadSealMany(key, keyOff, buf, off, stride, lens, lensAt, n, counterLo, counterHi): the n
 * plaintexts buf[off + i*stride, + lens[lensAt+i]) sealed in place like aeadSeal, message i with
 * counter + i: a super-frame's segments, one call for all of them. Checked in full first: a bad
 * call throws and seals nothing. */
napi_value aead_seal_many(napi_env env, napi_callback_info info) {
  ARGS(10);
  const char *call = "aeadSealMany";
  void *k, *b;
  int32_t *lens;
  size_t klen, blen, llen;
  int64_t koff, off, stride, at, n, lo, hi;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "key", &k, &klen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "keyOff", &koff) ||
      !arg_typed(env, argv[2], napi_uint8_array, call, "buf", &b, &blen) ||
      !arg_int(env, argv[3], 0, INT32_MAX, call, "off", &off) ||
      !arg_int(env, argv[4], 1, INT32_MAX, call, "stride", &stride) ||
      !arg_typed(env, argv[5], napi_int32_array, call, "lens", (void **)&lens, &llen) ||
      !arg_int(env, argv[6], 0, INT32_MAX, call, "lensAt", &at) ||
      !arg_int(env, argv[7], 0, 65535, call, "n", &n) ||
      !arg_int(env, argv[8], 0, UINT32_MAX, call, "counterLo", &lo) ||
      !arg_int(env, argv[9], 0, UINT32_MAX, call, "counterHi", &hi))
    return NULL;
  if ((size_t)koff + KEY_LEN > klen) return throw_errno(env, EINVAL, "%s: key: keyOff + 32 is past the end", call);
  if ((size_t)(at + n) > llen) return throw_errno(env, EINVAL, "%s: lens: lensAt + n is past the end", call);
  for (int64_t i = 0; i < n; i++) {
    const int64_t len = lens[at + i];
    if (len < 0 || (i < n - 1 && len + TAG_LEN > stride) || off + i * stride + len + TAG_LEN > (int64_t)blen)
      return throw_errno(env, EINVAL, "%s: message %lld does not fit", call, (long long)i);
  }
  EVP_CIPHER_CTX *c = thread_ctx(env);
  if (c == NULL) return throw_errno(env, EIO, "%s: OpenSSL", call);
  const uint8_t *key = (const uint8_t *)k + koff;
  uint64_t counter = ((uint64_t)hi << 32) | (uint64_t)lo;
  for (int64_t i = 0; i < n; i++, counter++) {
    uint8_t nonce[12] = {0}, *p = (uint8_t *)b + off + i * stride;
    const size_t len = (size_t)lens[at + i];
    for (int j = 0; j < 8; j++) nonce[4 + j] = (uint8_t)(counter >> (8 * j));
    int outl = 0;
    if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, 1) != 1 ||
        (len > 0 && EVP_CipherUpdate(c, p, &outl, p, (int)len) != 1) || EVP_CipherFinal_ex(c, p + outl, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, p + len) != 1)
      return throw_errno(env, EIO, "%s: OpenSSL", call);
  }
  return NULL;
}

/* aeadOpenMany(key, keyOff, buf, off, stride, n, lastLen, ok): n WireGuard transport messages
 * back to back (a UDP GSO train): message i at buf[off + i*stride], stride bytes long (the last
 * lastLen), its counter the little-endian 64-bit word at +8 of its 16-byte header, the
 * ciphertext and tag after that. Each is opened in place; ok[i] = 1 when its tag verifies, else
 * 0 (its bytes then meaningless). The caller checked the headers; a bad call throws, opens none. */
napi_value aead_open_many(napi_env env, napi_callback_info info) {
  ARGS(8);
  const char *call = "aeadOpenMany";
  void *k, *b;
  int32_t *ok;
  size_t klen, blen, olen;
  int64_t koff, off, stride, n, last;
  if (!arg_typed(env, argv[0], napi_uint8_array, call, "key", &k, &klen) ||
      !arg_int(env, argv[1], 0, INT32_MAX, call, "keyOff", &koff) ||
      !arg_typed(env, argv[2], napi_uint8_array, call, "buf", &b, &blen) ||
      !arg_int(env, argv[3], 0, INT32_MAX, call, "off", &off) ||
      !arg_int(env, argv[4], 2 * TAG_LEN, 65535, call, "stride", &stride) ||
      !arg_int(env, argv[5], 0, 65535, call, "n", &n) ||
      !arg_int(env, argv[6], 2 * TAG_LEN, 65535, call, "lastLen", &last) ||
      !arg_typed(env, argv[7], napi_int32_array, call, "ok", (void **)&ok, &olen))
    return NULL;
  if ((size_t)koff + KEY_LEN > klen) return throw_errno(env, EINVAL, "%s: key: keyOff + 32 is past the end", call);
  if ((size_t)n > olen) return throw_errno(env, EINVAL, "%s: ok is shorter than n", call);
  if (n > 0 && (last > stride || off + (n - 1) * stride + last > (int64_t)blen))
    return throw_errno(env, EINVAL, "%s: the messages lie outside buf", call);
  EVP_CIPHER_CTX *c = thread_ctx(env);
  if (c == NULL) return throw_errno(env, EIO, "%s: OpenSSL", call);
  const uint8_t *key = (const uint8_t *)k + koff;
  for (int64_t i = 0; i < n; i++) {
    uint8_t *m = (uint8_t *)b + off + i * stride, nonce[12] = {0};
    const size_t ct = (size_t)((i == n - 1 ? last : stride) - 2 * TAG_LEN); /* header and tag are 16 each */
    memcpy(nonce + 4, m + 8, 8);
    uint8_t *p = m + TAG_LEN;
    int outl = 0;
    ok[i] = EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, p + ct) == 1 &&
            (ct == 0 || EVP_CipherUpdate(c, p, &outl, p, (int)ct) == 1) && EVP_CipherFinal_ex(c, p + outl, &outl) == 1;
  }
  return NULL;
}
