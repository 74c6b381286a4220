{
  "targets": [
    {
      "target_name": "overlayd_sys",
      "sources": [
        "encap/sys/native/addon.c",
        "encap/sys/native/args.c",
        "encap/sys/native/notify.c",
        "encap/sys/native/io.c",
        "encap/sys/native/mmsg.c",
        "encap/sys/native/sockets.c",
        "encap/sys/native/csum.c",
        "encap/sys/native/steering.c",
        "encap/sys/native/sg-io.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
