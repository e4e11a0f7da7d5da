#!/usr/bin/env bash
# Installs what the ARM64 cross build and its tests under qemu need (scripts/test-arm64.sh):
# Debian's aarch64 cross compiler, qemu-user, and through Debian multiarch the arm64 image libraries
# and libgomp, which bring the arm64 C library and its loader: qemu-aarch64 then runs the binaries
# without -L. (With -L /usr/aarch64-linux-gnu the cross toolchain's loader met the multiarch C
# library of another Debian revision, and the first thread a program started hung.)
# Idempotent, like scripts/install-deps.sh.
set -euo pipefail

want=(gcc-aarch64-linux-gnu qemu-user libjpeg62-turbo-dev:arm64 libpng-dev:arm64 zlib1g-dev:arm64 libgomp1:arm64
      libmicrohttpd-dev:arm64)

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
added=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-arm64-deps: adding the arm64 architecture to dpkg"
  $SUDO dpkg --add-architecture arm64
  added=1
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-arm64-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif ((added)); then
  $SUDO apt-get update -qq
fi
