#!/bin/sh
# npm install runs this: the FUSE binding builds against libfuse 3 (headers found by pkg-config)
# and mounts with fusermount3. Where they are missing and this runs as root on Debian/Ubuntu,
# it installs them (apt-get); otherwise it says which packages to install. Then it builds.
set -e
need=""
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
pkg-config --exists fuse3 2>/dev/null || need="$need libfuse3-dev"
command -v fusermount3 >/dev/null 2>&1 || command -v fusermount >/dev/null 2>&1 || need="$need fuse3"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "$MESHFS_NO_APT" ]; then
    echo "meshfs: installing$need (the FUSE binding needs them)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $need >/dev/null
  else
    echo "meshfs: the FUSE binding needs$need; install them (Debian/Ubuntu: sudo apt-get install$need) and run npm install again" >&2
    exit 1
  fi
fi
exec node-gyp rebuild
