{
  "targets": [
    {
      "target_name": "overlayd_sys",
      "sources": [
        "sys/native/addon.c",
        "sys/native/args.c",
        "sys/native/notify.c",
        "sys/native/io.c",
        "sys/native/mmsg.c",
        "sys/native/sockets.c",
        "sys/native/csum.c",
        "sys/native/steering.c",
        "sys/native/sg-io.c",
        "sys/native/aead.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["<(node_root_dir)/include/node"],
      "conditions": [
        [
          "node_shared_openssl==\"true\"",
          { "libraries": ["-lcrypto"] }
        ]
      ]
    }
  ]
}
