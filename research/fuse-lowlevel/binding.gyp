{ "targets": [{ "target_name": "fl3", "sources": ["fl3.c"],
  "cflags": ["-O2", "-Wall", "<!@(pkg-config --cflags fuse3)"],
  "libraries": ["<!@(pkg-config --libs fuse3)"] }] }
