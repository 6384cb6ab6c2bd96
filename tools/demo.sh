#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# default job on built-in data (configs/demo.yaml) under mpirun -np 2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup-debian.sh"
"$root/tools/build.sh"
work="${DISTCLUST_WORKDIR:-$root/out/demo}"
mkdir -p "$work"
cd "$work"
run="$root/launch/distclust-mpirun -np ${NP:-2} $root/build/src/cli/distclust"
cfg="$root/configs/demo.yaml"
$run synth features --config "$cfg" --set out=features.h5
$run kmeans --config "$cfg" --set features=features.h5 --set out=kmeans.h5
$run eval --config "$cfg" --set pred=kmeans.h5 --set labels=features.h5 --set out=scores.json
echo "demo: outputs in $work (features.h5, kmeans.h5, scores.json)"
