#!/usr/bin/env bash
# Installs what the ARM64 cross build and its tests under qemu need (scripts/test-arm64.sh):
# Debian's aarch64 cross compiler (its libgomp included), qemu-user, and the arm64 builds of the
# image libraries through Debian multiarch (which also bring the arm64 C library and its loader,
# so qemu-aarch64 runs the binaries without -L). Idempotent, like scripts/install-deps.sh.
set -euo pipefail

want=(gcc-aarch64-linux-gnu qemu-user libjpeg62-turbo-dev:arm64 libpng-dev:arm64 zlib1g-dev:arm64)

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
