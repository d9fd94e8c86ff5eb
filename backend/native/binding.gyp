{
  "targets": [
    {
      "target_name": "native_keys",
      "sources": ["module.c", "pin_key.c", "signing_key.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
