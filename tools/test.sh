#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test (unit, distributed under mpiexec -n 1/2/3, end to end) through ctest.
# The tests run under the machine's BLAS/OpenMP environment as it is (no
# OPENBLAS_* or OMP_* is set or unset here); the set-up is printed first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup-debian.sh" --test
"$root/tools/build.sh"
build="${DISTCLUST_BUILD_DIR:-$root/build}"
echo "== BLAS/OpenMP set-up of this test run"
echo "-- as the test binaries see it (environment untouched):"
DISTCLUST_KEEP_ENV=1 "$build/src/cli/distclust" env | sed 's/^/   /'
echo "-- as distclust runs it (after its own environment check):"
"$build/src/cli/distclust" env | grep -v '^given:' | sed 's/^/   /'
echo "=="
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
