{
  "targets": [
    {
      "target_name": "pin_key",
      "sources": ["pin_key.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
