#!/usr/bin/env bash
# IVF mode: recall@20 >= 0.95 at the default nprobe on clustered data, and the
# recall it prints agrees with one computed here against the exact graph;
# its stored values are the distances (rescored in double), the same on 1
# and 3 ranks; what it ignores or leaves short is said.
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
# --nlist beside --centroids was dropped without a word.
dcrun 1 knn --features f.h5 --k 20 --mode ivf --centroids km.h5 --nlist 10 --recall-sample 0 --out ivfk10.h5 >k10.txt 2>&1
grep -q "knn.nlist=10 ignored: the lists are the 300 centroids of km.h5" k10.txt || { cat k10.txt; fail "--nlist ignored silently"; }
# Values: IVF rescores its picks in double, as exact mode does. Its float
# l2 score (2<q,b> - |b|^2 against |q|^2) cancelled on pixel-scale rows:
# exact copies were stored 4 apart and missed by export --duplicates.
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(2)
C = rng.integers(0, 256, (20, 784)).astype(np.float64)
X = np.clip(C[rng.integers(0, 20, 1000)] + rng.normal(0, 30, (1000, 784)), 0, 255).astype(np.float32)
X[500] = X[10]; X[501] = X[10]
with h5py.File("pix.h5", "w") as f: f["features"] = X
PY
for np in 1 3; do
  dcrun $np knn --features pix.h5 --k 5 --metric l2 --mode ivf --recall-sample 500 --out pix-ivf$np.h5 >pix$np.txt 2>&1 ||
    { cat pix$np.txt; fail "ivf on pixels"; }
done
grep -q "on 500 sampled rows" pix1.txt || { cat pix1.txt; fail "the recall sample size"; }
$PY - <<'PY' || fail "ivf l2 values are not the distances"
import h5py, numpy as np
X = h5py.File("pix.h5")["features"][:].astype(np.float64)
g = h5py.File("pix-ivf1.h5"); I, V = g["indices"][:], g["similarities"][:]
g3 = h5py.File("pix-ivf3.h5")
assert np.array_equal(I, g3["indices"][:]) and np.array_equal(V, g3["similarities"][:]), "1 and 3 ranks differ"
assert list(I[10][:2]) == [500, 501] and V[10][0] == 0 and V[10][1] == 0, (I[10], V[10])
ok = I >= 0
rows = np.nonzero(ok)
true = ((X[rows[0]] - X[I[ok]]) ** 2).sum(1).astype(np.float32)
err = np.abs(V[ok] - true).max()
assert err <= 1e-6 * true.max(), "largest error %g (distances up to %g)" % (err, true.max())
print("ivf l2 values: copies 0, largest error %g of distances up to %g, 1 and 3 ranks identical" % (err, true.max()))
PY
# Valid rows with fewer than k neighbours in their probed lists are counted.
$PY - <<'PY'
import h5py, numpy as np
X = np.random.default_rng(0).standard_normal((1000, 8)).astype(np.float32); v = np.ones(1000, np.uint8); v[:400] = 0
with h5py.File("short.h5", "w") as f: f["features"] = X; f["valid"] = v
PY
dcrun 1 knn --features short.h5 --mode ivf --k 20 --nprobe 1 --recall-sample 5000 --out short-ivf.h5 >short.txt 2>&1
grep -q "on 600 sampled rows" short.txt || { cat short.txt; fail "the sample counted invalid rows"; }
n=$($PY -c "import h5py; I=h5py.File('short-ivf.h5')['indices'][:]; v=h5py.File('short.h5')['valid'][:]; print(((I==-1)&(v[:,None]==1)).any(1).sum())")
grep -q "knn ivf: $n valid rows found fewer than k=20 neighbours" short.txt || { cat short.txt; fail "short lists not said ($n)"; }
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
