/*
 * The backend's native key operations, one N-API module over the OpenSSL inside Node:
 * the PIN key (pin_key.c) and the receipt signing key (signing_key.c). Loaded by
 * src/adapters/native-keys.ts; built by `make setup` (node-gyp).
 */
#include "native_keys.h"

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"createKey", NULL, pin_key_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"agree", NULL, pin_key_agree, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openPinField", NULL, pin_key_open_pin_field, NULL, NULL, NULL, napi_enumerable, NULL},
    {"createSigningKey", NULL, signing_key_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sign", NULL, signing_key_sign, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
