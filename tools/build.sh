#!/usr/bin/env bash
# Configures and builds distclust into build/ (ccache speeds up rebuilds).
# Usage: tools/build.sh [extra cmake args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${DISTCLUST_BUILD_DIR:-$root/build}"
jobs=$(nproc)
# Paths relative to the checkout in ccache's keys: a fresh clone elsewhere
# (CI) still hits the cache.
export CCACHE_BASEDIR="$root"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$jobs"
echo "build: $build/src/cli/distclust"
