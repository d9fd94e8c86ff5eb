/*
 * What the native key operations share (backend/native): N-API argument and result
 * helpers, and the functions each file exports to module.c.
 */
#ifndef BLUETILL_NATIVE_KEYS_H
#define BLUETILL_NATIVE_KEYS_H

#include <node_api.h>
#include <openssl/err.h>

/* Throws an Error with a string code (OpenSSL's error queue cleared); returns NULL for the caller to return. */
static inline napi_value fail(napi_env env, const char *code, const char *message) {
  ERR_clear_error();
  napi_throw_error(env, code, message);
  return NULL;
}

/* The bytes of a Uint8Array (or Buffer) argument (an empty one included), or NULL with a TypeError thrown. */
static inline const unsigned char *bytes_of(napi_env env, napi_value v, size_t *len) {
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

/* Exactly n arguments into argv, or false with ERR_INVALID_ARG_COUNT thrown (`usage` names the call). */
static inline bool args_of(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != n) {
    fail(env, "ERR_INVALID_ARG_COUNT", usage);
    return false;
  }
  return true;
}

/* A Buffer holding a copy of n bytes, or NULL with an error thrown. */
static inline napi_value buffer_of(napi_env env, const unsigned char *bytes, size_t n) {
  napi_value out;
  void *data;
  if (napi_create_buffer_copy(env, n, bytes, &data, &out) != napi_ok) return fail(env, "ERR_NATIVE_NO_MEMORY", "could not return the result");
  return out;
}

/*
 * Keys cross to JS as externals, tagged with their kind (napi_type_tag_object), so that a key of
 * one kind passed where another is expected is refused, not read as the wrong struct.
 */
static const napi_type_tag PIN_KEY_TAG = {0x62746c7470696e6bULL, 0x0000000000000001ULL};
static const napi_type_tag SIGNING_KEY_TAG = {0x62746c747369676eULL, 0x0000000000000002ULL};

/* `data` wrapped as an external tagged `tag` (finalize frees it when collected), or NULL with an error thrown (data freed). */
static inline napi_value wrap_key(napi_env env, void *data, napi_finalize finalize, const napi_type_tag *tag) {
  napi_value out;
  if (napi_create_external(env, data, finalize, NULL, &out) != napi_ok) {
    finalize(env, data, NULL);
    return fail(env, "ERR_NATIVE_NO_MEMORY", "could not wrap the key");
  }
  if (napi_type_tag_object(env, out, tag) != napi_ok) return fail(env, "ERR_NATIVE_NO_MEMORY", "could not tag the key");
  return out;
}

/* The data of an external tagged `tag`, or NULL with ERR_INVALID_ARG_TYPE thrown (`what` names the expected key). */
static inline void *unwrap_key(napi_env env, napi_value v, const napi_type_tag *tag, const char *what) {
  napi_valuetype t;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    fail(env, "ERR_INVALID_ARG_TYPE", what);
    return NULL;
  }
  return data;
}

/* pin_key.c: the PIN key (P-256 agreement, a sealed PIN opened whole). */
napi_value pin_key_create(napi_env env, napi_callback_info info);
napi_value pin_key_agree(napi_env env, napi_callback_info info);
napi_value pin_key_open_pin_field(napi_env env, napi_callback_info info);

/* signing_key.c: ECDSA P-256 / SHA-256 signatures (receipts). */
napi_value signing_key_create(napi_env env, napi_callback_info info);
napi_value signing_key_sign(napi_env env, napi_callback_info info);

#endif
