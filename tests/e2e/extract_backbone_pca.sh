#!/usr/bin/env bash
# PCA of a network backbone's features (CIFAR-10 test1k, ResNet-20, D = 64),
# the seeds' recipe backbone -> L2 -> PCA 32 -> L2:
# - against numpy on the same rows (distclust's un-PCA'd features, L2-
#   normalised): mean, variances and the variance the subspace captures
#   within TOL_FIT (the rows are rounded to 2^-21 of each column's range
#   before the exact moments, feature_pca.h: ~5e-7 relative), and the
#   projected rows within TOL_ROWS absolute (float32 output of unit rows);
# - 1 rank and 2 ranks (other batches) write the same file;
# - whitened (no L2 after), every component has variance 1 within TOL_WHITE;
# - extract.pca_from with the first file's projection gives its /features
#   bit for bit (what `assign` needs), and refuses a file without a PCA, one
#   of another input dimension, and other whitening, naming them;
# - k-means K=10 on the PCA'd features stays within 0.03 ACC of the raw
#   features' (extract_cifar.sh: >= 0.85; scikit-learn ~0.91).
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
model="$shared/models/cifar10-resnet20.pt"
ex=(extract --source "$shared/data/cifar10-test1k" --backbone "$model" --progress-seconds 0)
dcrun 1 "${ex[@]}" --out raw.h5 >/dev/null 2>&1 || fail "raw extract failed"
dcrun 1 "${ex[@]}" --normalize --pca-dim 32 --out p1.h5 >log1.txt 2>&1 || { cat log1.txt; fail "PCA extract failed"; }
grep -E "PCA" log1.txt
dcrun 2 "${ex[@]}" --normalize --pca-dim 32 --batch 50 --out p2.h5 >/dev/null 2>&1 || fail "PCA extract on 2 ranks failed"
dcrun 1 "${ex[@]}" --pca-dim 32 --pca-whiten --out w.h5 >/dev/null 2>&1 || fail "whitened extract failed"
dcrun 1 "${ex[@]}" --normalize --pca-from p1.h5 --out from.h5 >logf.txt 2>&1 || { cat logf.txt; fail "pca_from failed"; }
grep -q "from p1.h5" logf.txt || fail "pca_from not named in the log: $(grep 'per rank' logf.txt)"
TOL_FIT=1e-5 TOL_ROWS=1e-5 TOL_WHITE=1e-3 $PY - <<'PY'
import os, h5py, numpy as np
tol_fit, tol_rows, tol_white = (float(os.environ[k]) for k in ["TOL_FIT", "TOL_ROWS", "TOL_WHITE"])
raw = h5py.File("raw.h5", "r")["features"][:].astype(np.float64)
p1 = h5py.File("p1.h5", "r")
x = raw / np.linalg.norm(raw, axis=1, keepdims=True)
mean = x.mean(0)
xc = x - mean
cov = xc.T @ xc / (len(x) - 1)
w, v = np.linalg.eigh(cov)
w, v = w[::-1], v[:, ::-1].T
c, var, m = p1["pca_components"][:], p1["pca_variances"][:], p1["pca_mean"][:]
assert c.shape == (32, 64) and m.shape == (64,) and var.shape == (32,), (c.shape, m.shape)
assert p1.attrs["pca_normalize_input"] == 1 and "pca_whiten_scales" not in p1
assert np.abs(m - mean).max() < tol_fit, np.abs(m - mean).max()
e_var = np.abs(var - w[:32]).max() / w[0]
assert e_var < tol_fit, f"variances differ from numpy's by {e_var} of the first"
assert abs(p1.attrs["pca_total_variance"] - np.trace(cov)) < tol_fit * np.trace(cov)
captured = np.trace(c @ cov @ c.T) / w[:32].sum()
assert abs(1 - captured) < tol_fit, f"distclust's subspace captures {captured} of numpy's top-32 variance"
assert np.allclose(c @ c.T, np.eye(32), atol=1e-9)
# Components with a clear gap to their neighbours agree one by one.
gap = np.minimum(np.abs(np.diff(w[:33]))[:32], np.r_[np.inf, np.abs(np.diff(w[:32]))])
cos = np.abs(np.sum(c * v[:32], axis=1))
assert (cos[gap > 1e-3 * w[0]] > 1 - 1e-4).all(), cos
y = xc @ c.T
y /= np.linalg.norm(y, axis=1, keepdims=True)
e_rows = np.abs(p1["features"][:] - y).max()
assert e_rows < tol_rows, f"projected rows differ from numpy's by {e_rows}"
print(f"vs numpy: variances {e_var:.1e} of the first, subspace captures {captured:.9f}, "
      f"{(gap > 1e-3 * w[0]).sum()} separated components cos >= {cos[gap > 1e-3 * w[0]].min():.9f}, rows {e_rows:.1e}; "
      f"kept {var.sum() / np.trace(cov):.4f} of the variance")
# Ranks: same projection and rows.
p2 = h5py.File("p2.h5", "r")
for k in ["pca_mean", "pca_components", "pca_variances", "features"]:
    assert np.array_equal(p1[k][:], p2[k][:]), f"/{k} differs between 1 and 2 ranks"
# Whitening: unit variance per component (the sample is every row).
wf = h5py.File("w.h5", "r")
s = wf["pca_whiten_scales"][:]
assert np.allclose(s, 1 / np.sqrt(wf["pca_variances"][:] + 1e-6 * wf["pca_variances"][0]), rtol=1e-12)
vw = wf["features"][:].astype(np.float64).var(0, ddof=1)
assert np.abs(vw - 1).max() < tol_white, f"whitened variances {vw.min()}..{vw.max()}"
assert wf.attrs["pca_normalize_input"] == 0
# pca_from: bit for bit.
fr = h5py.File("from.h5", "r")
assert np.array_equal(p1["features"][:], fr["features"][:]), "pca_from features differ from the fitting run's"
for k in ["pca_mean", "pca_components", "pca_variances"]:
    assert np.array_equal(p1[k][:], fr[k][:]), k
print(f"ranks 1 = 2 bit for bit; whitened variances {vw.min():.6f}..{vw.max():.6f}; pca_from bit-identical")
PY
# Refusals, by name.
refuse() {
  local want=$1; shift
  if dcrun 1 "${ex[@]}" "$@" --out bad.h5 >err.txt 2>&1; then fail "accepted: $*"; fi
  grep -qF -- "$want" err.txt || { cat err.txt; fail "no '$want' for: $*"; }
}
refuse "raw.h5 holds no PCA projection" --pca-from raw.h5
refuse "is whitened" --normalize --pca-from w.h5 --no-pca-whiten
refuse "keeps 32 components" --normalize --pca-from p1.h5 --pca-dim 16
refuse "fitted on rows that were normalised" --pca-from p1.h5
dcrun 1 extract --source "$shared/data/cifar10-test1k" --backbone pixels --pixels-size 8 --pca-dim 8 \
  --progress-seconds 0 --out px.h5 >/dev/null 2>&1 || fail "pixels PCA extract failed"
refuse "takes rows of 192 values, but the backbone" --pca-from px.h5
# k-means on raw and PCA'd features.
acc() {
  dcrun 1 kmeans --features "$1" --k 10 --restarts 5 --seed 1 --out "km-$1" >/dev/null
  dcrun 1 eval --pred "km-$1" --labels "$1" --json --out "s-$1.json" >/dev/null
  json_get "s-$1.json" acc
}
a_raw=$(acc raw.h5) a_pca=$(acc p1.h5) a_white=$(acc w.h5)
echo "k-means ACC: raw $a_raw, L2 -> PCA 32 -> L2 $a_pca, PCA 32 whitened $a_white"
ge "$a_pca" "$($PY -c "print($a_raw - 0.03)")" || fail "ACC on PCA'd features $a_pca < raw $a_raw - 0.03"
ge "$a_pca" 0.85 || fail "ACC on PCA'd features $a_pca < 0.85"
pass "ResNet-20 + PCA: numpy agreement, ranks, whitening, pca_from bit for bit; ACC raw $a_raw, PCA $a_pca"
