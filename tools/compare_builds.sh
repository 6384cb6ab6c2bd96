#!/usr/bin/env bash
# Runs the same jobs with two distclust binaries and compares every HDF5
# output dataset by dataset: identical, or how many elements differ and by
# how much (assignments: rows that moved), plus the eval scores of each.
# Jobs: the demo (configs/demo.yaml), a synthetic mixture through kmeans
# (k-means++, k-means||, spherical), knn (exact cosine/l2, ivf) and scan, and
# the e2e data: MNIST pixels + PCA 50 and CIFAR-10 ResNet-20 features (from
# ../shared) through kmeans, knn, scan (+ self-label).
# Usage: tools/compare_builds.sh OLD_BIN NEW_BIN [WORKDIR]   (NP=2 by default)
set -euo pipefail
old=$(readlink -f "$1"); new=$(readlink -f "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
work=${3:-/tmp/dc-compare}
shared=$root/../shared
np=${NP:-2}
PY=/usr/bin/python3
mpi=("$root/launch/distclust-mpirun" -np "$np")
rm -rf "$work" && mkdir -p "$work"

jobs() {  # jobs BIN OUTDIR
  local dc=$1 o=$2
  mkdir -p "$o" && cd "$o"
  run() { "${mpi[@]}" "$dc" "$@" >>log.txt 2>&1; }
  run run --config "$root/configs/demo.yaml" --set run.workdir="$o/demo" --set run.stages=synth_images,extract,kmeans,knn,scan,eval
  run synth features --n 20011 --d 40 --k 15 --noise 0.9 --seed 11 --out syn.h5
  run kmeans --features syn.h5 --k 15 --iters 20 --tol 0 --seed 2 --out syn-km.h5
  run kmeans --features syn.h5 --k 15 --init kmeans-parallel --iters 20 --tol 0 --seed 2 --out syn-kmpar.h5
  run kmeans --features syn.h5 --k 15 --spherical --restarts 3 --seed 2 --out syn-kmsph.h5
  run knn --features syn.h5 --k 20 --out syn-knn.h5
  run knn --features syn.h5 --k 10 --metric l2 --out syn-knnl2.h5
  run knn --features syn.h5 --k 10 --mode ivf --out syn-ivf.h5
  run scan --features syn.h5 --knn syn-knn.h5 --clusters 15 --epochs 20 --self-label --threshold 0.9 --out syn-scan.h5
  run extract --source "$shared/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 --out mnist.h5
  run knn --features mnist.h5 --k 20 --out mnist-knn.h5
  run kmeans --features mnist.h5 --k 10 --restarts 10 --seed 1 --out mnist-km.h5
  run scan --features mnist.h5 --knn mnist-knn.h5 --clusters 10 --head mlp --self-label --out mnist-scan.h5
  run extract --source "$shared/data/cifar10-test1k" --backbone "$shared/models/cifar10-resnet20.pt" --out cifar.h5
  run knn --features cifar.h5 --k 20 --out cifar-knn.h5
  run kmeans --features cifar.h5 --k 10 --restarts 10 --seed 1 --out cifar-km.h5
  run scan --features cifar.h5 --knn cifar-knn.h5 --clusters 10 --self-label --out cifar-scan.h5
  for p in demo/kmeans.h5:demo/features.h5 demo/scan.h5:demo/features.h5 syn-km.h5:syn.h5 syn-kmpar.h5:syn.h5 \
           syn-kmsph.h5:syn.h5 syn-scan.h5:syn.h5 mnist-km.h5:mnist.h5 mnist-scan.h5:mnist.h5 cifar-km.h5:cifar.h5 \
           cifar-scan.h5:cifar.h5; do
    "$dc" eval --pred "${p%%:*}" --labels "${p##*:}" --json 2>/dev/null | tail -1 >"${p%%:*}.scores.json"
  done
}
echo "old: $old"; (jobs "$old" "$work/old")
echo "new: $new"; (jobs "$new" "$work/new")
$PY - "$work" <<'PY'
import glob, json, os, sys
import h5py, numpy as np
work = sys.argv[1]
for f in sorted(glob.glob(f"{work}/old/**/*.h5", recursive=True)):
    rel = os.path.relpath(f, f"{work}/old")
    g = f"{work}/new/{rel}"
    if not os.path.exists(g):
        print(f"{rel}: missing in new"); continue
    a, b = h5py.File(f, "r"), h5py.File(g, "r")
    notes = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            notes.append(f"/{k} only in {'old' if k in a else 'new'}"); continue
        x, y = a[k][()], b[k][()]
        if k == "ids" and x.dtype.kind in "SO":  # image paths hold the job folder (old/ or new/)
            x = np.array([str(v).replace("/old/", "/") for v in x]); y = np.array([str(v).replace("/new/", "/") for v in y])
        if x.shape != y.shape:
            notes.append(f"/{k} shape {x.shape} vs {y.shape}"); continue
        if np.array_equal(x, y):
            continue
        if x.dtype.kind in "iu" and k in ("assign", "assign_scan", "indices", "prototypes"):
            notes.append(f"/{k}: {int(np.sum(x != y))} of {x.size} differ")
        elif x.dtype.kind == "f":
            d = np.abs(x.astype(np.float64) - y.astype(np.float64))
            rel_ = d.max() / max(np.abs(x).max(), 1e-30)
            notes.append(f"/{k}: {int(np.sum(x != y))} of {x.size} differ, max |diff| {d.max():.3g} ({rel_:.2g} of max)")
        else:
            notes.append(f"/{k}: {int(np.sum(x != y))} of {x.size} differ")
    s = ""
    sj = f[:-3] + ".h5.scores.json"
    if os.path.exists(sj) and os.path.exists(g + ".scores.json"):
        try:
            so, sn = json.load(open(sj)), json.load(open(g + ".scores.json"))
            s = f"  [ACC {so['acc']:.4f} -> {sn['acc']:.4f}, NMI {so['nmi']:.4f} -> {sn['nmi']:.4f}]"
        except Exception as e:
            s = f"  [scores: {e}]"
    print(f"{rel}: " + ("identical" if not notes else "; ".join(notes)) + s)
PY
