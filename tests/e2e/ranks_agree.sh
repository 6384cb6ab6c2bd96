#!/usr/bin/env bash
# One seed, any rank count: kmeans.h5 from 1, 2 and 3 ranks are identical
# dataset for dataset (bit-identical by construction: src/kmeans/kmeans.h).
source "$(dirname "$0")/lib.sh"
dcrun 2 synth features --n 20011 --d 40 --k 15 --noise 0.9 --seed 11 --out f.h5
for np in 1 2 3; do
  for init in kmeans++ kmeans-parallel; do
    dcrun "$np" kmeans --features f.h5 --k 15 --init $init --iters 20 --tol 0 --seed 2 --out km-$init-$np.h5
  done
  dcrun "$np" kmeans --features f.h5 --k 15 --spherical --iters 20 --seed 2 --out km-sph-$np.h5
done
$PY - <<'PY'
import h5py, numpy as np
for tag in ["kmeans++", "kmeans-parallel", "sph"]:
    ref = h5py.File(f"km-{tag}-1.h5", "r")
    for np_ in (2, 3):
        o = h5py.File(f"km-{tag}-{np_}.h5", "r")
        a, b = ref["assign"][:], o["assign"][:]
        assert np.array_equal(a, b), f"{tag}: {np.sum(a != b)} assignments differ between 1 and {np_} ranks"
        i, j = ref["inertia"][:], o["inertia"][:]
        assert i.shape == j.shape, f"{tag}: {i.shape} vs {j.shape} iterations"
        for ds in ("inertia", "centroids", "distance"):
            assert np.array_equal(ref[ds][:], o[ds][:]), f"{tag}: /{ds} differs between 1 and {np_} ranks"
        print(f"{tag} 1 vs {np_} ranks: assign, distance, centroids, inertia bit-identical")
PY
pass "ranks agree"
