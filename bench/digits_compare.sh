#!/usr/bin/env bash
# configs/digits.yaml on the MNIST test set (10,000 digits, ../shared/data/
# mnist-test), with and without its deskew, against umap-learn + scikit-learn
# KMeans / GaussianMixture on the same features and the same kNN graph:
# ACC / NMI, trustworthiness@15 of the 10-D embeddings, seconds. Issue 16
# asks for ACC >= 0.95 with no pretrained network.
# Usage: UMAP_PY=VENV/bin/python bench/digits_compare.sh [WORK]
#   (a python with umap-learn, scikit-learn and h5py; bench/embed_vs_umap.sh
#   shows how to make one: venv + pip install umap-learn h5py)
# WORK (default /tmp/digits-compare) must be new, empty, or a folder an
# earlier run made (it carries .distclust-bench-workdir): only then is it
# cleared; any other folder is refused. Env: DC (binary), MPIRUN (launcher),
# NP (ranks, 2), SHARED (default ../shared next to the repo: data/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
dc=${DC:-$root/build/src/cli/distclust}
mpirun=${MPIRUN:-$root/launch/distclust-mpirun}
np=${NP:-2}
shared=${SHARED:-$root/../shared}
py=${UMAP_PY:?set UMAP_PY to a python with umap-learn}
"$py" -c "import umap, sklearn, h5py" || { echo "digits_compare: $py cannot import umap, sklearn and h5py" >&2; exit 1; }
work=${1:-/tmp/digits-compare}; own_workdir "$work"; cd "$work"; work=$(pwd)
for deskew in true false; do
  w=$work/deskew-$deskew
  start=$(date +%s.%N)
  "$mpirun" -np "$np" "$dc" -q run --config "$root/configs/digits.yaml" --set run.workdir="$w" \
    --set extract.source="$shared/data/mnist-test" --set extract.pixels_deskew=$deskew \
    --set run.stages=extract,knn,embed,kmeans,gmm,eval >"$w.log" 2>&1 || { cat "$w.log"; exit 1; }
  end=$(date +%s.%N)
  echo "== extract.pixels_deskew: $deskew (mpirun -np $np; the whole run $(echo "$end - $start" | bc) s)"
  # Each stage's last line (its time), from rank 0's log: -q keeps them off the terminal.
  grep -h "wrote" "$w/logs/rank-0.log" | sed 's/^\[[^]]*\] /  /' || true
  for m in kmeans gmm; do echo "distclust embed 10-D + $m: $("$dc" eval --pred "$w/$m.h5" --labels "$w/features.h5" | tail -1)"; done
  "$py" "$root/bench/digits_umap_ref.py" "$w/features.h5" 10 1 "$w/knn.h5" "$w/embed.h5"
done
