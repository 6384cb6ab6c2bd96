#!/usr/bin/env bash
# configs/digits.yaml on the MNIST test set (10,000 digits, ../shared/data/
# mnist-test), with and without its deskew, against umap-learn + scikit-learn
# KMeans / GaussianMixture on the same features and the same kNN graph:
# ACC / NMI, trustworthiness@15 of the 10-D embeddings, seconds. Issue 16
# asks for ACC >= 0.95 with no pretrained network.
# Usage: UMAP_PY=VENV/bin/python bench/digits_compare.sh [WORK]
#   (a python with umap-learn, scikit-learn and h5py; bench/embed_vs_umap.sh
#   shows how to make one: venv + pip install umap-learn h5py)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dc=${DC:-$root/build/src/cli/distclust}
mpirun=${MPIRUN:-$root/launch/distclust-mpirun}
np=${NP:-2}
work=${1:-/tmp/digits-compare}; mkdir -p "$work"; cd "$work"
py=${UMAP_PY:?set UMAP_PY to a python with umap-learn}
for deskew in true false; do
  w=$work/deskew-$deskew; rm -rf "$w"
  start=$(date +%s.%N)
  "$mpirun" -np "$np" "$dc" -q run --config "$root/configs/digits.yaml" --set run.workdir="$w" \
    --set extract.source="$root/../shared/data/mnist-test" --set extract.pixels_deskew=$deskew \
    --set run.stages=extract,knn,embed,kmeans,gmm,eval >"$w.log" 2>&1 || { cat "$w.log"; exit 1; }
  end=$(date +%s.%N)
  echo "== extract.pixels_deskew: $deskew (mpirun -np $np; the whole run $(echo "$end - $start" | bc) s)"
  sed -n '/^ *extract:\|^ *knn:\|^ *embed:\|^ *kmeans:\|^ *gmm:/p' "$w.log" | grep ' s$' || true
  for m in kmeans gmm; do echo "distclust embed 10-D + $m: $("$dc" eval --pred "$w/$m.h5" --labels "$w/features.h5" | tail -1)"; done
  "$py" "$root/bench/digits_umap_ref.py" "$w/features.h5" 10 1 "$w/knn.h5" "$w/embed.h5"
done
