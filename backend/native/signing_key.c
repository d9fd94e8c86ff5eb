/*
 * ECDSA P-256 with SHA-256 for the settlement server's receipt key: a signature in DER,
 * as Node's crypto.sign('sha256', data, key) makes it, for ~2/3 of its CPU on the loaded use-case
 * worker. Node's sign sets up the signature from scratch on every call (it fetches SHA-256 and the
 * ECDSA signature method by name, makes the contexts, runs a sign job); here the key is decoded
 * once and a context initialised once per key, and each signature starts from a copy of that
 * context (EVP_MD_CTX_copy_ex: the digest and ECDSA contexts are duplicated, nothing is fetched).
 * The nonce is OpenSSL's (random, as Node's); a verifier cannot tell the two apart.
 *
 * JS API:  createSigningKey(pkcs8Der: Uint8Array) -> key   (a P-256 private key, else throws)
 *          sign(key, data: Uint8Array) -> Buffer   (DER ECDSA-Sig-Value)
 */
#include "native_keys.h"
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_PKEY *pkey;
  /* Initialised for signing with SHA-256 under pkey; copied for each signature. */
  EVP_MD_CTX *ready;
} signing_key;

static void signing_key_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  signing_key *k = data;
  EVP_MD_CTX_free(k->ready);
  EVP_PKEY_free(k->pkey);
  free(k);
}

napi_value signing_key_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_of(env, info, 1, argv, "createSigningKey(pkcs8Der)")) return NULL;
  size_t len;
  const unsigned char *der = bytes_of(env, argv[0], &len);
  if (der == NULL) return NULL;
  if (len > 4096) return fail(env, "ERR_SIGNING_BAD_KEY", "the key is not a PKCS#8 P-256 private key");
  const unsigned char *p = der;
  PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
  EVP_PKEY *pkey = p8 != NULL && p == der + len ? EVP_PKCS82PKEY(p8) : NULL;
  PKCS8_PRIV_KEY_INFO_free(p8);
  char group[32] = {0};
  size_t group_len = 0;
  if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_group_name(pkey, group, sizeof group, &group_len) != 1 ||
      (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
    EVP_PKEY_free(pkey);
    return fail(env, "ERR_SIGNING_BAD_KEY", "the key is not a PKCS#8 P-256 private key");
  }
  signing_key *k = calloc(1, sizeof *k);
  if (k == NULL) {
    EVP_PKEY_free(pkey);
    return fail(env, "ERR_NATIVE_NO_MEMORY", "out of memory");
  }
  k->pkey = pkey;
  k->ready = EVP_MD_CTX_new();
  if (k->ready == NULL || EVP_DigestSignInit_ex(k->ready, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1) {
    signing_key_free(env, k, NULL);
    return fail(env, "ERR_SIGNING_FAILED", "could not set up ECDSA with SHA-256");
  }
  return wrap_key(env, k, signing_key_free, &SIGNING_KEY_TAG);
}

napi_value signing_key_sign(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_of(env, info, 2, argv, "sign(key, data)")) return NULL;
  signing_key *k = unwrap_key(env, argv[0], &SIGNING_KEY_TAG, "sign: the first argument is not a key from createSigningKey");
  if (k == NULL) return NULL;
  size_t len;
  const unsigned char *data = bytes_of(env, argv[1], &len);
  if (data == NULL) return NULL;
  unsigned char sig[80]; /* a DER P-256 signature is at most 72 bytes */
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  int ok = c != NULL && EVP_MD_CTX_copy_ex(c, k->ready) == 1 && EVP_DigestSign(c, sig, &sig_len, data, len) == 1;
  EVP_MD_CTX_free(c);
  if (!ok) return fail(env, "ERR_SIGNING_FAILED", "ECDSA signing failed");
  return buffer_of(env, sig, sig_len);
}
