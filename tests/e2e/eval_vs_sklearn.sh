#!/usr/bin/env bash
# distclust eval agrees with scikit-learn (NMI, ARI) and with Hungarian
# matching by scipy (ACC) on the same label vectors, including invalid rows,
# unknown labels and more clusters than classes (many-to-one ACC).
source "$(dirname "$0")/lib.sh"
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(3)
n = 5000
y = rng.integers(0, 7, n)
for name, k, noise in [("a", 7, 0.3), ("b", 12, 0.5), ("c", 4, 0.2)]:
    p = np.where(rng.random(n) < noise, rng.integers(0, k, n), (y * 5 + 1) % k)
    p[rng.random(n) < 0.02] = -1           # invalid rows
    yy = y.copy(); yy[rng.random(n) < 0.03] = -1  # unknown labels
    with h5py.File(f"pred_{name}.h5", "w") as f: f["assign"] = p.astype(np.int64)
    with h5py.File(f"lab_{name}.h5", "w") as f: f["labels"] = yy.astype(np.int64)
PY
for name in a b c; do
  "$DC" eval --pred pred_$name.h5 --labels lab_$name.h5 --json --out s_$name.json >/dev/null
  $PY - "$name" <<'PY'
import h5py, json, sys, numpy as np
from sklearn.metrics import normalized_mutual_info_score as nmi, adjusted_rand_score as ari
from scipy.optimize import linear_sum_assignment
name = sys.argv[1]
p = h5py.File(f"pred_{name}.h5")["assign"][:]; y = h5py.File(f"lab_{name}.h5")["labels"][:]
m = (p >= 0) & (y >= 0); p, y = p[m], y[m]
s = json.load(open(f"s_{name}.json"))
C = np.zeros((p.max() + 1, y.max() + 1)); np.add.at(C, (p, y), 1)
if C.shape[0] <= C.shape[1]:
    r, c = linear_sum_assignment(-C); acc = C[r, c].sum() / len(p)
else:
    acc = C.max(axis=1).sum() / len(p)
ref = {"acc": acc, "nmi": nmi(y, p), "ari": ari(y, p)}
for k, v in ref.items():
    assert abs(s[k] - v) < 1e-9, f"{name}: {k} distclust {s[k]} vs reference {v}"
assert s["n"] == len(p)
print(f"{name}: ACC {acc:.6f} NMI {ref['nmi']:.6f} ARI {ref['ari']:.6f} match ({s['acc_mapping']})")
PY
done
pass "eval matches scikit-learn/scipy"
