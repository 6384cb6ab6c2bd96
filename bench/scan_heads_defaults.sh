#!/usr/bin/env bash
# Which SCAN head should be the default (bench/RESULTS-scan.md, "Default
# head"): linear vs mlp with every other setting at its default, on MNIST
# test (pixels 28x28 + PCA 50) and CIFAR-10 test1k (ResNet-20 TorchScript),
# exact cosine kNN k=20, 2 ranks. One `scan --self-label` run per (set,
# head, seed): /assign_scan is SCAN alone, /assign after self-labelling (with
# its neighbour gate, the default). Also k-means (10 restarts) for reference,
# the mean confidence and the warnings the run stored (scan.h5 `warnings`).
#   bench/scan_heads_defaults.sh [SEEDS] [RANKS] [SETS]    defaults "1 2 3", 2, "cifar mnist"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DC=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=/usr/bin/python3
SEEDS=${1:-1 2 3}
NP=${2:-2}
SETS=${3:-cifar mnist}
SHARED=${SHARED:-$ROOT/../shared}
W=$(mktemp -d /tmp/dc-heads.XXXX)
trap 'rm -rf "$W"' EXIT
run() { "$ROOT/launch/distclust-mpirun" -np "$NP" "$DC" "$@"; }
acc() { "$DC" eval --pred "$1" --labels "$2" --json | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["acc"])'; }
# mean confidence, seconds-free summary of the stored warnings
facts() {
  $PY - "$1" <<'PY'
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
w = json.loads(f.attrs["warnings"]) if "warnings" in f.attrs else []
c = f["confidence"][:]
print(f"{c[c > 0].mean():.3f}|{'; '.join(x.split(':')[0] for x in w) or '-'}")
PY
}
echo "| set | seed | k-means | head | SCAN ACC | + self-label ACC | mean confidence | warnings | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
for set in $SETS; do
  if [[ $set == cifar ]]; then
    run extract --source "$SHARED/data/cifar10-test1k" --backbone "$SHARED/models/cifar10-resnet20.pt" --out "$W/f.h5" >/dev/null
  else
    run extract --source "$SHARED/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 --out "$W/f.h5" >/dev/null
  fi
  run knn --features "$W/f.h5" --k 20 --metric cosine --out "$W/knn.h5" >/dev/null
  for s in $SEEDS; do
    run kmeans --features "$W/f.h5" --k 10 --restarts 10 --seed "$s" --out "$W/km.h5" >/dev/null
    km=$(acc "$W/km.h5" "$W/f.h5")
    for head in linear mlp; do
      t0=$(date +%s.%N)
      run scan --features "$W/f.h5" --knn "$W/knn.h5" --clusters 10 --head $head --self-label --seed "$s" \
        --no-checkpoint --out "$W/s.h5" >/dev/null
      t1=$(date +%s.%N)
      $PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); g=h5py.File(sys.argv[2],'w'); g['assign']=f['assign_scan'][:]" \
        "$W/s.h5" "$W/pre.h5"
      a=$(acc "$W/pre.h5" "$W/f.h5"); b=$(acc "$W/s.h5" "$W/f.h5")
      IFS='|' read -r conf warn <<<"$(facts "$W/s.h5")"
      printf "| %s | %s | %.4f | %s | %.4f | %.4f | %s | %s | %.0f |\n" "$set" "$s" "$km" "$head" "$a" "$b" "$conf" \
        "$warn" "$($PY -c "print($t1-$t0)")"
    done
  done
done
