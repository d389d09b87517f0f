#!/bin/sh
# Installs the Debian packages the build needs, only those missing.
# Runs as root, or through sudo; says what it installs.
set -eu
need="pkg-config gcc g++ libstb-dev libsqlite3-dev libcmocka-dev zlib1g-dev clang libclang-rt-dev python3
  libunwind-dev libdw-dev elfutils valgrind heaptrack chromium golang-go nodejs npm
  sqlite3 libc6-dbg"
missing=""
for pkg in $need; do
  # A nodejs package from NodeSource carries npm itself and conflicts with Debian's npm.
  [ "$pkg" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
echo "tracemalloc: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "tracemalloc: need root or sudo to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
