{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["weft_native.c", "wg_aead.c", "offload.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
