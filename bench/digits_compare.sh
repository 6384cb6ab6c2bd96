#!/usr/bin/env bash
# MNIST test set (10,000 digits, ../shared/data/mnist-test), pixels + PCA 50,
# no pretrained network: distclust's embed (10-D, min_dist 0) + gmm / kmeans
# against umap-learn (same settings, its own NN descent) + scikit-learn
# KMeans / GaussianMixture on the same features. Issue 16 asks for ACC >= 0.95.
# Usage: bench/digits_compare.sh [WORK]   (UMAP_PY: a python with umap-learn;
# bench/embed_vs_umap.sh shows how to make one: venv + pip install umap-learn)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dc=${DC:-$root/build/src/cli/distclust}
work=${1:-/tmp/digits-compare}; mkdir -p "$work"; cd "$work"
py=${UMAP_PY:?set UMAP_PY to a python with umap-learn}
$dc -q extract --source "$root/../shared/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 --out f.h5
$dc -q knn --features f.h5 --k 15 --out knn.h5
/usr/bin/time -f "distclust embed: %e s" $dc -q embed --features f.h5 --knn knn.h5 --dim 10 --min-dist 0 --epochs 500 --out e10.h5
$dc -q gmm --features e10.h5 --k 10 --restarts 4 --out g.h5
$dc -q kmeans --features e10.h5 --k 10 --out k.h5
echo "distclust embed + gmm:    $($dc eval --pred g.h5 --labels f.h5 | tail -1)"
echo "distclust embed + kmeans: $($dc eval --pred k.h5 --labels f.h5 | tail -1)"
$py "$root/bench/digits_umap_ref.py" f.h5 10
