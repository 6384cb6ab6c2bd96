#!/usr/bin/env bash
# synth features -> kmeans -> eval on NP ranks: a well-separated mixture must
# be recovered (ARI >= 0.99), with the outputs complete and no temp files left.
source "$(dirname "$0")/lib.sh"
np=${1:-1}
dcrun "$np" synth features --n 30000 --d 48 --k 12 --noise 0.35 --seed 7 --out f.h5
dcrun "$np" kmeans --features f.h5 --k 12 --restarts 3 --seed 3 --out km.h5
dcrun "$np" eval --pred km.h5 --labels f.h5 --json --out scores.json
ari=$(json_get scores.json ari); acc=$(json_get scores.json acc)
ge "$ari" 0.99 || fail "ARI $ari < 0.99 on $np ranks"
ge "$acc" 0.99 || fail "ACC $acc < 0.99 on $np ranks"
[[ ! -e km.h5.tmp && ! -e km.h5.ckpt ]] || fail "temporary or checkpoint file left behind"
$PY - <<'PY'
import h5py, numpy as np
k = h5py.File("km.h5", "r")
assert k["centroids"].shape == (12, 48), k["centroids"].shape
assert k["assign"].shape == (30000,) and k["distance"].shape == (30000,)
assert k["assign"][:].min() >= 0 and k["assign"][:].max() < 12
assert np.all(np.diff(k["inertia"][:]) <= 1e-6 * k["inertia"][0]), "inertia rose"
PY
# Warm start from the converged centroids: same solution within 2 iterations.
dcrun "$np" kmeans --features f.h5 --k 12 --init-centroids km.h5 --out warm.h5 >/dev/null
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("km.h5", "r"), h5py.File("warm.h5", "r")
assert len(b["inertia"]) <= 2, f"warm start took {len(b['inertia'])} iterations"
assert np.array_equal(a["assign"][:], b["assign"][:]), "warm start moved assignments"
assert abs(a.attrs["final_inertia"] - b.attrs["final_inertia"]) <= 1e-6 * a.attrs["final_inertia"]
PY
pass "np=$np ARI=$ari ACC=$acc"
