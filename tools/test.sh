#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test (unit, distributed under mpiexec -n 1/2/3, end to end) through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup-debian.sh" --test
"$root/tools/build.sh"
cd "${DISTCLUST_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
