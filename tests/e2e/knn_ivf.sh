#!/usr/bin/env bash
# IVF mode: recall@20 >= 0.95 at the default nprobe on clustered data, and the
# recall it prints agrees with one computed here against the exact graph.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 30000 --d 32 --k 40 --noise 1.3 --seed 8 --out f.h5
dcrun 1 knn --features f.h5 --k 20 --out exact.h5 >/dev/null
for np in 1 3; do
  dcrun $np knn --features f.h5 --k 20 --mode ivf --recall-sample 2000 --out ivf$np.h5 > ivf$np.txt
  printed=$(sed -n 's/.*recall@20 \([0-9.e-]*\) on.*/\1/p' ivf$np.txt)
  [[ -n "$printed" ]] || { cat ivf$np.txt; fail "no recall printed"; }
  $PY - "$printed" $np <<'PY'
import sys, h5py, numpy as np
printed, np_ = float(sys.argv[1]), sys.argv[2]
a = h5py.File("exact.h5")["indices"][:]; b = h5py.File(f"ivf{np_}.h5")["indices"][:]
recall = np.mean([len(set(x) & set(y)) / 20 for x, y in zip(a, b)])
assert recall >= 0.95, f"recall@20 {recall} < 0.95"
assert abs(recall - printed) < 0.01, f"printed recall {printed} vs measured {recall}"
print(f"{np_} ranks: recall@20 {recall:.4f}, printed {printed:.4f}")
PY
done
# Coarse lists from a k-means run.
dcrun 2 kmeans --features f.h5 --k 300 --iters 5 --out km.h5 >/dev/null
dcrun 2 knn --features f.h5 --k 20 --mode ivf --centroids km.h5 --out ivfk.h5 | grep -q "300 lists" || fail "centroids not used"
# Weakly clustered data: the tuned nprobe scans far more than 10% of the
# lists, and the log says that IVF then gains little over exact search.
dcrun 1 synth features --n 20000 --d 32 --k 40 --noise 4.0 --seed 9 --out weak.h5
dcrun 1 knn --features weak.h5 --k 20 --mode ivf --recall-sample 0 --out weak-ivf.h5 > weak.txt 2>&1
grep -q "IVF is not much faster than --mode exact" weak.txt || { cat weak.txt; fail "no warning for a high nprobe"; }
grep -o "nprobe [0-9]*: the smallest" weak.txt
# Settings the data cannot take are said, not silently changed.
dcrun 1 synth features --n 1001 --d 8 --k 4 --out small.h5 >/dev/null
dcrun 1 knn --features small.h5 --k 5 --mode ivf --nlist 5000 --nprobe 500 --out small-ivf.h5 > clamp.txt 2>&1
grep -q "knn.nlist=5000 lowered to 125 (at least 8 valid rows per list; 1001 valid rows)" clamp.txt &&
  grep -q "125 lists, nprobe 125 (given 500, capped at the list count" clamp.txt || { cat clamp.txt; fail "clamps not said"; }
pass "ivf"
