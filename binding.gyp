{
  "targets": [{
    "target_name": "meshfuse",
    "sources": ["lib/fuse/native/meshfuse.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
    "libraries": ["<!@(pkg-config --libs fuse3)"]
  }]
}
