/*
 * The authorization server's PIN key: P-256 ECDH (the x-coordinate of d·Q), and a sealed
 * PIN opened whole (openPinField, below: the agreement, HKDF, AES-GCM and format 4 in one call).
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
 *          openPinField(key, point, ciphertext, context, info, panField) -> Buffer(16)   (see there)
 */
#include "native_keys.h"
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <limits.h>
#include <stdio.h>
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

napi_value pin_key_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_of(env, info, 1, argv, "createKey(d)")) return NULL;
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
  return wrap_key(env, k, key_free, &PIN_KEY_TAG);
}

/* x(d·Q) into secret: 1 done, -1 Q is not a point of P-256, 0 failed otherwise. */
static int ecdh_x(const p256_key *k, const unsigned char *point, size_t len, unsigned char secret[32]) {
  int ok = 0;
  BN_CTX *ctx = BN_CTX_secure_new();
  EC_POINT *q = EC_POINT_new(k->group);
  EC_POINT *s = EC_POINT_new(k->group);
  BIGNUM *x = BN_new();
  if (ctx != NULL && q != NULL && s != NULL && x != NULL) {
    if (EC_POINT_oct2point(k->group, q, point, len, ctx) != 1) ok = -1; /* not on the curve */
    else if (EC_POINT_mul(k->group, s, NULL, q, k->d, ctx) == 1 && !EC_POINT_is_at_infinity(k->group, s) &&
             EC_POINT_get_affine_coordinates(k->group, s, x, NULL, ctx) == 1 && BN_bn2binpad(x, secret, 32) == 32)
      ok = 1;
  }
  BN_clear_free(x);
  EC_POINT_clear_free(s);
  EC_POINT_free(q);
  BN_CTX_free(ctx);
  if (ok != 1) OPENSSL_cleanse(secret, 32);
  return ok;
}

/* The PIN key of a call's first argument, or NULL with an error thrown. */
static p256_key *key_of(napi_env env, napi_value v, const char *call) {
  char what[96];
  snprintf(what, sizeof what, "%s: the first argument is not a key from createKey", call);
  return unwrap_key(env, v, &PIN_KEY_TAG, what);
}

napi_value pin_key_agree(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_of(env, info, 2, argv, "agree(key, point)")) return NULL;
  p256_key *k = key_of(env, argv[0], "agree");
  if (k == NULL) return NULL;
  size_t len;
  const unsigned char *point = bytes_of(env, argv[1], &len);
  if (point == NULL) return NULL;
  if (len != 65 || point[0] != 0x04) return fail(env, "ERR_P256_BAD_POINT", "the public key is not an uncompressed P-256 point");

  unsigned char secret[32];
  int ok = ecdh_x(k, point, len, secret);
  if (ok == -1) return fail(env, "ERR_P256_BAD_POINT", "the public key is not a point of P-256");
  if (ok != 1) return fail(env, "ERR_P256_FAILED", "key agreement failed");
  napi_value out = buffer_of(env, secret, sizeof secret);
  OPENSSL_cleanse(secret, sizeof secret);
  return out;
}

/*
 * The algorithms of a sealed PIN, fetched once per process (OpenSSL 3's implicit fetch by name on
 * every call, as Node's createDecipheriv and hkdfSync do, is most of their cost).
 * Fetched objects are reference-counted and safe to share between threads.
 */
static EVP_KDF *hkdf;
static EVP_CIPHER *aes256gcm, *aes128ecb;
static CRYPTO_ONCE fetch_once = CRYPTO_ONCE_STATIC_INIT;
static void fetch_algorithms(void) {
  hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  aes128ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
}

/* HKDF-SHA256(ikm, salt, info) -> out[n]; 1 on success. */
static int hkdf_sha256(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len, const unsigned char *info, size_t info_len, unsigned char *out, size_t n) {
  EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(hkdf);
  if (kctx == NULL) return 0;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
    OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(kctx, out, n, params) == 1;
  EVP_KDF_CTX_free(kctx);
  return ok;
}

/* AES-256-GCM decryption of a 16-byte block with a 16-byte tag; 1 when genuine. */
static int gcm_open(const unsigned char key[32], const unsigned char iv[12], const unsigned char *aad, size_t aad_len, const unsigned char ct[16], const unsigned char tag[16], unsigned char out[16]) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, m = 0;
  int ok = c != NULL && EVP_DecryptInit_ex2(c, aes256gcm, key, iv, NULL) == 1 &&
           (aad_len == 0 || EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
           EVP_DecryptUpdate(c, out, &n, ct, 16) == 1 && n == 16 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1 &&
           EVP_DecryptFinal_ex(c, out + n, &m) == 1 && m == 0;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

/* ISO 9564-1 format 4 decipherment: P = D(K, D(K, C) xor panField); 1 on success. */
static int format4_decipher(const unsigned char key[16], const unsigned char block[16], const unsigned char pan_field[16], unsigned char out[16]) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  unsigned char intermediate[16];
  int n1 = 0, n2 = 0;
  int ok = c != NULL && EVP_DecryptInit_ex2(c, aes128ecb, key, NULL, NULL) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
           EVP_DecryptUpdate(c, intermediate, &n1, block, 16) == 1 && n1 == 16;
  if (ok) {
    for (int i = 0; i < 16; i++) intermediate[i] ^= pan_field[i];
    ok = EVP_DecryptUpdate(c, out, &n2, intermediate, 16) == 1 && n2 == 16;
  }
  OPENSSL_cleanse(intermediate, sizeof intermediate);
  EVP_CIPHER_CTX_free(c);
  return ok;
}

/*
 * openPinField(key, point, ciphertext, context, info, panField) -> Buffer(16): the plaintext
 * format-4 PIN field of a sealed PIN, by exactly the steps of protocol/src/pin/pin-seal.ts:
 *   secret  = x(d·Q)                                  Q = point (65 bytes, uncompressed)
 *   K4‖Kg‖iv = HKDF-SHA256(secret, salt = point, info, 16 + 32 + 12)
 *   block   = AES-256-GCM-open(Kg, iv, ciphertext[0..16), tag = ciphertext[16..32), aad = context)
 *   field   = D(K4, D(K4, block) xor panField)        ISO 9564-1 format 4, AES-128
 * Throws ERR_P256_BAD_POINT for a point off the curve, ERR_PIN_SEAL_NOT_GENUINE when the
 * ciphertext, tag or context do not match. Every intermediate secret is wiped.
 */
napi_value pin_key_open_pin_field(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!args_of(env, info, 6, argv, "openPinField(key, point, ciphertext, context, info, panField)")) return NULL;
  p256_key *k = key_of(env, argv[0], "openPinField");
  if (k == NULL) return NULL;
  size_t point_len, ct_len, aad_len, info_len, pan_len;
  const unsigned char *point = bytes_of(env, argv[1], &point_len);
  if (point == NULL) return NULL;
  const unsigned char *ct = bytes_of(env, argv[2], &ct_len);
  if (ct == NULL) return NULL;
  const unsigned char *aad = bytes_of(env, argv[3], &aad_len);
  if (aad == NULL) return NULL;
  const unsigned char *kdf_info = bytes_of(env, argv[4], &info_len);
  if (kdf_info == NULL) return NULL;
  const unsigned char *pan_field = bytes_of(env, argv[5], &pan_len);
  if (pan_field == NULL) return NULL;
  if (point_len != 65 || point[0] != 0x04) return fail(env, "ERR_P256_BAD_POINT", "the public key is not an uncompressed P-256 point");
  if (ct_len != 32) return fail(env, "ERR_PIN_SEAL_BAD_SIZE", "the ciphertext is 32 bytes (block and tag)");
  if (pan_len != 16) return fail(env, "ERR_PIN_SEAL_BAD_SIZE", "the PAN field is 16 bytes");
  if (aad_len > INT_MAX) return fail(env, "ERR_PIN_SEAL_BAD_SIZE", "the context is too long");
  if (!CRYPTO_THREAD_run_once(&fetch_once, fetch_algorithms) || hkdf == NULL || aes256gcm == NULL || aes128ecb == NULL)
    return fail(env, "ERR_PIN_SEAL_UNAVAILABLE", "HKDF, AES-256-GCM or AES-128-ECB is not available");

  unsigned char secret[32], okm[60], block[16], field[16];
  int ok = ecdh_x(k, point, point_len, secret);
  if (ok == -1) return fail(env, "ERR_P256_BAD_POINT", "the public key is not a point of P-256");
  const char *code = "ERR_PIN_SEAL_FAILED", *message = "the sealed PIN could not be opened";
  if (ok == 1) {
    ok = hkdf_sha256(secret, sizeof secret, point, point_len, kdf_info, info_len, okm, sizeof okm);
    if (ok && !gcm_open(okm + 16, okm + 48, aad, aad_len, ct, ct + 16, block)) {
      ok = 0;
      code = "ERR_PIN_SEAL_NOT_GENUINE";
      message = "the sealed PIN is not genuine for this context";
    }
    ok = ok && format4_decipher(okm, block, pan_field, field);
  }
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(okm, sizeof okm);
  OPENSSL_cleanse(block, sizeof block);
  napi_value out = ok ? buffer_of(env, field, sizeof field) : fail(env, code, message);
  OPENSSL_cleanse(field, sizeof field);
  return out;
}
