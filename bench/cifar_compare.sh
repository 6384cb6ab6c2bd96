#!/usr/bin/env bash
# The first 1,000 CIFAR-10 test images (../shared/data/cifar10-test1k) with
# the ResNet-20 backbone (../shared/models/cifar10-resnet20.pt): the shipped
# configs/cifar10.yaml (k-means, then SCAN on the 20-NN graph) against the
# embedding recipe of configs/digits.yaml (15-NN graph, 10-D embed,
# k-means / GMM) and umap-learn + scikit-learn on the same features and
# graph. Issue 16: no worse than k-means on the raw features (about 0.91).
# Usage: UMAP_PY=VENV/bin/python bench/cifar_compare.sh [WORK]
# WORK (default /tmp/cifar-compare) must be new, empty, or a folder an
# earlier run made (it carries .distclust-bench-workdir): only then is it
# cleared; any other folder is refused. Env: DC (binary), MPIRUN (launcher),
# SHARED (default ../shared next to the repo: data/ and models/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
dc=${DC:-$root/build/src/cli/distclust}
mpirun=${MPIRUN:-$root/launch/distclust-mpirun}
py=${UMAP_PY:?set UMAP_PY to a python with umap-learn}
"$py" -c "import umap, sklearn, h5py" || { echo "cifar_compare: $py cannot import umap, sklearn and h5py" >&2; exit 1; }
shared=${SHARED:-$root/../shared}
work=${1:-/tmp/cifar-compare}; own_workdir "$work"; cd "$work"
"$mpirun" -np 2 "$dc" -q run --config "$root/configs/cifar10.yaml" --set run.workdir=job \
  --set extract.source="$shared/data/cifar10-test1k" --set extract.backbone="$shared/models/cifar10-resnet20.pt" \
  --set run.stages=extract,kmeans,knn,scan,eval >job.log 2>&1 || { cat job.log; exit 1; }
echo "== configs/cifar10.yaml (mpirun -np 2)"
for m in kmeans scan; do echo "$m: $("$dc" eval --pred job/$m.h5 --labels job/features.h5 | tail -1)"; done
echo "== the embedding recipe of configs/digits.yaml on the same features"
"$dc" -q knn --features job/features.h5 --k 15 --out knn15.h5
"$dc" -q embed --features job/features.h5 --knn knn15.h5 --dim 10 --min-dist 0 --epochs 500 --out e10.h5
"$dc" -q gmm --features e10.h5 --k 10 --restarts 4 --out g.h5
"$dc" -q kmeans --features e10.h5 --k 10 --restarts 4 --out ek.h5
echo "embed 10-D + gmm: $("$dc" eval --pred g.h5 --labels job/features.h5 | tail -1)"
echo "embed 10-D + kmeans: $("$dc" eval --pred ek.h5 --labels job/features.h5 | tail -1)"
"$py" "$root/bench/digits_umap_ref.py" job/features.h5 10 1 knn15.h5 e10.h5 2>&1 | grep -v -i warn
