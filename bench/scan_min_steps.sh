#!/usr/bin/env bash
# SCAN on a small folder (bench/RESULTS-scan.md, "Small folders"): 200
# images, the first 20 per class (sorted names) of CIFAR-10 test1k (ResNet-20
# TorchScript) and of MNIST test (pixels 28x28 + PCA 50); exact cosine kNN
# k=20; `scan --min-steps M` for several M with every other setting at its
# default (60 epochs, batch 256: one step an epoch at 200 rows). Prints ACC,
# mean confidence, cluster sizes, the late loss fall the health check uses
# and the warnings stored in scan.h5.
#   bench/scan_min_steps.sh [SEEDS] [MIN_STEPS] [HEADS]  defaults "1 2 3", "0 250 500 1000 2000", "linear mlp"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DC=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=/usr/bin/python3
SEEDS=${1:-1 2 3}
STEPS=${2:-0 250 500 1000 2000}
HEADS=${3:-linear mlp}
SHARED=${SHARED:-$ROOT/../shared}
W=$(mktemp -d /tmp/dc-minsteps.XXXX)
trap 'rm -rf "$W"' EXIT
acc() { "$DC" eval --pred "$1" --labels "$2" --json | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["acc"])'; }
subset() {  # subset SRC DST: the first 20 files (by name) of each class folder
  for c in "$1"/*/; do
    mkdir -p "$2/$(basename "$c")"
    local files=("$c"*)  # sorted; `sort | head` can die of SIGPIPE under pipefail
    cp "${files[@]:0:20}" "$2/$(basename "$c")/"
  done
}
echo "| set | head | min_steps | seed | steps | ACC | mean confidence | sizes | late fall % | warnings | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for set in cifar mnist; do
  if [[ $set == cifar ]]; then
    subset "$SHARED/data/cifar10-test1k" "$W/img-$set"
    "$DC" extract --source "$W/img-$set" --backbone "$SHARED/models/cifar10-resnet20.pt" --out "$W/f.h5" >/dev/null
  else
    subset "$SHARED/data/mnist-test" "$W/img-$set"
    "$DC" extract --source "$W/img-$set" --backbone pixels --pixels-size 28 --pca-dim 50 --out "$W/f.h5" >/dev/null
  fi
  "$DC" knn --features "$W/f.h5" --k 20 --metric cosine --out "$W/knn.h5" >/dev/null
  for head in $HEADS; do
    for m in $STEPS; do
      for s in $SEEDS; do
        t0=$(date +%s.%N)
        "$DC" scan --features "$W/f.h5" --knn "$W/knn.h5" --clusters 10 --head "$head" --min-steps "$m" --seed "$s" \
          --no-checkpoint --out "$W/s.h5" -v >"$W/log.txt" 2>&1
        t1=$(date +%s.%N)
        a=$(acc "$W/s.h5" "$W/f.h5")
        # the health line (-v): "the last W epochs lowered the loss by X% of its fall"
        fall=$(grep -o 'lowered the loss by [-0-9.]*%' "$W/log.txt" | grep -o '[-0-9.]*' || echo "?")
        $PY - "$W/s.h5" "$set" "$head" "$m" "$s" "$a" "$fall" "$($PY -c "print($t1-$t0)")" <<'PY'
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
z = f["cluster_sizes"][:]
w = json.loads(f.attrs["warnings"])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {sys.argv[5]} | {int(f.attrs['steps'])} | {float(sys.argv[6]):.3f} "
      f"| {float(f.attrs['mean_confidence']):.3f} | {z.min()}..{z.max()} | {sys.argv[7]} "
      f"| {', '.join(x.split(':')[0] for x in w) or '-'} | {float(sys.argv[8]):.0f} |")
PY
      done
    done
  done
done
