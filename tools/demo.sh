#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# default job on built-in data (configs/demo.yaml: procedural images ->
# features -> k-means -> kNN -> SCAN -> scores -> export -> report) under
# mpirun -np 2. Outputs in out/demo/ (report/index.html, export/, *.h5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup-debian.sh"
"$root/tools/build.sh"
cd "$root"
"$root/launch/distclust-mpirun" -np "${NP:-2}" "$root/build/src/cli/distclust" run \
  --config "$root/configs/demo.yaml" --set run.workdir="${DISTCLUST_WORKDIR:-$root/out/demo}" "$@"
echo "demo: outputs in ${DISTCLUST_WORKDIR:-$root/out/demo} (open report/index.html)"
