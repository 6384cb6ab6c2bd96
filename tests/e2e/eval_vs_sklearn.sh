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

# Only -1 means unknown/invalid: another negative number was dropped as one,
# silently; labels that are all unknown were "no row to score".
$PY - <<'PY'
import h5py, numpy as np
y = np.arange(300) % 3; p = np.arange(300) % 4
y2 = y.copy(); y2[[5, 9]] = -2
p2 = p.copy(); p2[7] = -3
for name, arr, key in [("neg_lab", y2, "labels"), ("neg_pred", p2, "assign"), ("ok_lab", y, "labels"),
                       ("ok_pred", p, "assign"), ("nolab", np.full(300, -1), "labels")]:
    with h5py.File(f"{name}.h5", "w") as f: f[key] = arr.astype(np.int64)
PY
for c in "neg_lab.h5 ok_pred.h5|neg_lab.h5: /labels holds -2 at row 5 (2 values below -1): class numbers are >= 0, -1 where unknown" \
         "ok_lab.h5 neg_pred.h5|neg_pred.h5: /assign holds -3 at row 7 (1 values below -1): cluster numbers are >= 0" \
         "nolab.h5 ok_pred.h5|nolab.h5: /labels has no known class (all 300 rows are -1)"; do
  set -- ${c%%|*}
  set +e; "$DC" eval --labels "$1" --pred "$2" >neg.txt 2>&1; rc=$?; set -e
  [[ $rc -eq 1 ]] && grep -qF "${c#*|}" neg.txt || { cat neg.txt; fail "eval --labels $1 --pred $2: rc $rc"; }
done
"$DC" --help >/dev/null; "$DC" eval --help | grep -q "with more clusters than classes, each cluster's majority class" ||
  fail "eval --help does not say when ACC is many-to-one"
pass "negative codes other than -1 and label-less files refused by name; help says the ACC rule"
