#!/usr/bin/env bash
# MNIST test set (10,000 PNGs) through the pixels backbone with PCA to 50
# dimensions: k-means K=10 reaches NMI >= 0.45 (raw pixels: 0.47-0.51).
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
dcrun 2 extract --source "$shared/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 \
  --out m.h5 >log.txt 2>&1 || { cat log.txt; fail "extract failed"; }
grep -E "PCA|wrote" log.txt
$PY - <<'PY'
import h5py, numpy as np
f = h5py.File("m.h5", "r")
assert f["features"].shape == (10000, 50), f["features"].shape
assert f["pca_components"].shape == (50, 2352) and f["pca_mean"].shape == (2352,)
c = f["pca_components"][:]
assert np.allclose(c @ c.T, np.eye(50), atol=1e-6), "PCA components are not orthonormal"
v = f["pca_variances"][:]
assert np.all(np.diff(v) <= 1e-9 * v[0]), "variances not decreasing"
x = f["features"][:].astype(np.float64)
# Features are the centred data on the components: their variances are the eigenvalues.
assert np.allclose(x.var(axis=0, ddof=1), v, rtol=1e-3), (x.var(axis=0, ddof=1)[:5], v[:5])
PY
dcrun 1 kmeans --features m.h5 --k 10 --restarts 3 --seed 1 --out km.h5 >/dev/null
dcrun 1 eval --pred km.h5 --labels m.h5 --json --out scores.json >/dev/null
nmi=$(json_get scores.json nmi); acc=$(json_get scores.json acc)
ge "$nmi" 0.45 || fail "k-means NMI $nmi < 0.45 on MNIST pixels"
pass "MNIST pixels+PCA50: NMI=$nmi ACC=$acc"
