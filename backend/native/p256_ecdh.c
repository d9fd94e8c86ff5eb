/*
 * P-256 ECDH for the authorization server's PIN key (issue 5): the x-coordinate of d·Q.
 *
 * Why native: Node's two ECDH calls each do a second full scalar multiplication besides the one
 * that makes the secret. ECDH.computeSecret checks the server's own key pair on every call
 * (EC_KEY_check_key: n·Q_own and d·G), and crypto.diffieHellman lets OpenSSL 3.0 check the peer's
 * key in EVP_PKEY_derive_set_peer (n·Q_peer, openssl/openssl#21314). On P-256, whose cofactor is 1,
 * a point that decodes onto the curve is already in the group of order n, so that check proves
 * nothing more (NIST SP 800-56A rev. 3, 5.6.2.3.4: partial validation is what an ephemeral key
 * needs). Here: one multiplication, ~45 µs instead of ~100 µs.
 *
 * Uses the OpenSSL that Node itself is built with (its headers ship with Node's; its symbols are
 * the node binary's), through the EC_GROUP / EC_POINT functions, which OpenSSL 3 keeps (not the
 * deprecated EC_KEY ones). The same steps as OpenSSL's own ECDH (crypto/ec/ecdh_ossl.c):
 *   Q = decode(point)           EC_POINT_oct2point refuses a point not on the curve
 *   S = d·Q                     EC_POINT_mul, constant time in d (nistz256 / ladder)
 *   refuse S = O; return x(S)   32 bytes, big-endian
 *
 * JS API:  createKey(d: Uint8Array(32)) -> key   (1 <= d < n, else throws)
 *          agree(key, point: Uint8Array(65)) -> Buffer(32)   (uncompressed point, else throws)
 */
#include <node_api.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/crypto.h>
#include <stdlib.h>

typedef struct {
  EC_GROUP *group;
  BIGNUM *d;
} p256_key;

static void key_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  p256_key *k = data;
  BN_clear_free(k->d);
  EC_GROUP_free(k->group);
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

static napi_value fail(napi_env env, const char *code, const char *message) {
  ERR_clear_error();
  napi_throw_error(env, code, message);
  return NULL;
}

/* The bytes of a Uint8Array (or Buffer) argument (an empty one included), or NULL with a TypeError thrown. */
static const unsigned char *bytes_of(napi_env env, napi_value v, size_t *len) {
  static const unsigned char empty[1];
  bool is_typed;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Uint8Array");
    return NULL;
  }
  return *len == 0 ? empty : data; /* an empty array may have no data pointer */
}

static napi_value create_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return fail(env, "ERR_INVALID_ARG_COUNT", "createKey(d)");
  size_t len;
  const unsigned char *d = bytes_of(env, argv[0], &len);
  if (d == NULL) return NULL;
  if (len != 32) return fail(env, "ERR_P256_BAD_KEY", "the private key is 32 bytes");
  p256_key *k = calloc(1, sizeof *k);
  if (k == NULL) return fail(env, "ERR_P256_NO_MEMORY", "out of memory");
  k->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  k->d = BN_secure_new();
  if (k->group == NULL || k->d == NULL || BN_bin2bn(d, 32, k->d) == NULL) {
    key_free(env, k, NULL);
    return fail(env, "ERR_P256_NO_MEMORY", "could not make the key");
  }
  BN_set_flags(k->d, BN_FLG_CONSTTIME);
  if (BN_is_zero(k->d) || BN_cmp(k->d, EC_GROUP_get0_order(k->group)) >= 0) {
    key_free(env, k, NULL);
    return fail(env, "ERR_P256_BAD_KEY", "the private key is not in [1, n-1]");
  }
  napi_value out;
  if (napi_create_external(env, k, key_free, NULL, &out) != napi_ok) {
    key_free(env, k, NULL);
    return fail(env, "ERR_P256_NO_MEMORY", "could not wrap the key");
  }
  return out;
}

static napi_value agree(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) return fail(env, "ERR_INVALID_ARG_COUNT", "agree(key, point)");
  napi_valuetype t;
  p256_key *k;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], (void **)&k) != napi_ok)
    return fail(env, "ERR_INVALID_ARG_TYPE", "agree: the first argument is not a key from createKey");
  size_t len;
  const unsigned char *point = bytes_of(env, argv[1], &len);
  if (point == NULL) return NULL;
  if (len != 65 || point[0] != 0x04) return fail(env, "ERR_P256_BAD_POINT", "the public key is not an uncompressed P-256 point");

  unsigned char secret[32];
  int ok = 0;
  BN_CTX *ctx = BN_CTX_secure_new();
  EC_POINT *q = EC_POINT_new(k->group);
  EC_POINT *s = EC_POINT_new(k->group);
  BIGNUM *x = BN_new();
  if (ctx != NULL && q != NULL && s != NULL && x != NULL) {
    if (EC_POINT_oct2point(k->group, q, point, len, ctx) != 1) ok = -1; /* not on the curve */
    else if (EC_POINT_mul(k->group, s, NULL, q, k->d, ctx) == 1 && !EC_POINT_is_at_infinity(k->group, s) &&
             EC_POINT_get_affine_coordinates(k->group, s, x, NULL, ctx) == 1 && BN_bn2binpad(x, secret, sizeof secret) == sizeof secret)
      ok = 1;
  }
  BN_clear_free(x);
  EC_POINT_clear_free(s);
  EC_POINT_free(q);
  BN_CTX_free(ctx);
  if (ok == -1) return fail(env, "ERR_P256_BAD_POINT", "the public key is not a point of P-256");
  if (ok != 1) {
    OPENSSL_cleanse(secret, sizeof secret);
    return fail(env, "ERR_P256_FAILED", "key agreement failed");
  }
  napi_value out;
  void *data;
  napi_status st = napi_create_buffer_copy(env, sizeof secret, secret, &data, &out);
  OPENSSL_cleanse(secret, sizeof secret);
  if (st != napi_ok) return fail(env, "ERR_P256_NO_MEMORY", "could not return the secret");
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"createKey", NULL, create_key, NULL, NULL, NULL, napi_enumerable, NULL},
    {"agree", NULL, agree, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
