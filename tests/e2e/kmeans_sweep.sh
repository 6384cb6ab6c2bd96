#!/usr/bin/env bash
# Choosing K: `kmeans --k 3:7` fits each K, stores inertia and a sampled
# silhouette per K, suggests the planted K and writes its fit; the
# silhouette equals scikit-learn's silhouette_score (every row sampled
# here); the sweep is bit-identical for 1, 2 and 3 ranks; the report shows it.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 1500 --d 16 --k 5 --noise 0.6 --seed 4 --out f.h5 >/dev/null
for np in 1 2 3; do
  dcrun $np kmeans --features f.h5 --k 3:7 --restarts 3 --out km$np.h5 >sweep$np.txt
done
grep -q "kmeans sweep: suggested K=5" sweep1.txt || { cat sweep1.txt; fail "the planted K=5 was not suggested"; }
# 1500 rows, sweep_sample 2000: every row is in the silhouette, and the log says so.
grep -q "silhouette .* (all 1500 rows)" sweep1.txt || { cat sweep1.txt; fail "the sampled row count is not the real one"; }
$PY - <<'PY'
import h5py, numpy as np
from sklearn.metrics import silhouette_score
f = h5py.File("km1.h5", "r")
k = f["sweep_k"][:].tolist()
assert k == [3, 4, 5, 6, 7], k
assert f.attrs["suggested_k"] == 5 and f["centroids"].shape == (5, 16), "the fit written is not the suggested K's"
x = h5py.File("f.h5", "r")["features"][:]
a = f["assign"][:]
ours = f["sweep_silhouette"][k.index(5)]
ref = silhouette_score(x.astype(np.float64), a)
assert abs(ours - ref) < 1e-9, (ours, ref)
ine = f["sweep_inertia"][:]
assert abs(ine[k.index(5)] - f.attrs["final_inertia"]) < 1e-9 * ine[0]
assert all(np.diff(ine) < 0), f"inertia does not fall with K: {ine}"
for np_ in (2, 3):
    g = h5py.File(f"km{np_}.h5", "r")
    for name in ["sweep_k", "sweep_inertia", "sweep_silhouette", "centroids", "assign"]:
        assert np.array_equal(f[name][:], g[name][:]), f"/{name} differs between 1 and {np_} ranks"
print(f"silhouette at K=5: {ours:.6f} (sklearn {ref:.6f}); identical for 1, 2, 3 ranks")
PY
# A list as kmeans.k in --set and in the YAML is a sweep, as --k takes it
# (both were "'3:5' is not an integer").
printf 'kmeans:\n  k: 3,4,5\n' >ks.yaml
dcrun 1 kmeans --features f.h5 --set kmeans.k=3:5 --out kset.h5 >kset.txt 2>&1 || { cat kset.txt; fail "--set kmeans.k=3:5"; }
dcrun 1 kmeans --features f.h5 --config ks.yaml --out kyaml.h5 >kyaml.txt 2>&1 || { cat kyaml.txt; fail "k: 3,4,5 in the YAML"; }
# The template writes `sweep: ""` after k: the list still sweeps; another sweep beside it is refused.
printf 'kmeans:\n  k: 3,4,5\n  sweep: ""\n' >ks2.yaml
dcrun 1 kmeans --features f.h5 --config ks2.yaml --out kyaml2.h5 >kyaml2.txt 2>&1 || { cat kyaml2.txt; fail "k list then sweep ''"; }
printf 'kmeans:\n  k: 3,4,5\n  sweep: 6:7\n' >ks3.yaml
if dcrun 1 kmeans --features f.h5 --config ks3.yaml --out kbad.h5 >kbad.txt 2>&1; then fail "k list beside another sweep accepted"; fi
grep -q "kmeans.k = '3,4,5' is a list, which sets kmeans.sweep, but kmeans.sweep = '6:7' is given too" kbad.txt ||
  { cat kbad.txt; fail "k list beside another sweep: unclear"; }
for f in kset.h5 kyaml.h5 kyaml2.h5; do
  [[ $($PY -c "import h5py; print(list(h5py.File('$f','r')['sweep_k'][:]))") == "[3, 4, 5]" ]] || fail "$f: not a sweep of 3,4,5"
done
# A K given beside a sweep was dropped without a word.
dcrun 1 kmeans --features f.h5 --k 4 --sweep 3:5 --out both.h5 >both.txt 2>&1 || { cat both.txt; fail "--k beside --sweep"; }
grep -q "kmeans.k=4 is ignored: kmeans.sweep 3:5 chooses K" both.txt || { cat both.txt; fail "--k beside --sweep not said"; }
for bad in "5,x|kmeans.sweep: 'x' is not a K" "1:3|kmeans.sweep: '1' is not a K" "7:3|is an empty range" \
           "3:7:1.5|STEP '1.5' is not a whole number" "3:7:|STEP '' is not a whole number"; do
  args=${bad%%|*}; msg=${bad#*|}
  if dcrun 1 kmeans --features f.h5 --k "$args" --out bad.h5 >bad.txt 2>&1; then fail "--k $args accepted"; fi
  grep -qF "$msg" bad.txt || { cat bad.txt; fail "--k $args: message lacks '$msg'"; }
done
# A sweep killed after 2 of its 5 Ks, and one killed inside its first K,
# resume from the per-K checkpoints to the uninterrupted file.
for kill in DISTCLUST_FAULT_AFTER_SWEEP_KS=2 DISTCLUST_FAULT_AFTER_ITER=2; do
  rm -f kk.h5 kk.h5.ckpt*
  if env "$kill" $DC_MPIEXEC -n 2 "$DC" kmeans --features f.h5 --k 3:7 --restarts 3 --out kk.h5 >kill.txt 2>&1; then
    fail "$kill did not stop the sweep"
  fi
  [[ -e kk.h5.ckpt.k3 && ! -e kk.h5 ]] || { ls; fail "$kill: no per-K checkpoint, or an output"; }
  dcrun 2 kmeans --features f.h5 --k 3:7 --restarts 3 --out kk.h5 >resume.txt 2>&1 || { cat resume.txt; fail "resume after $kill"; }
  grep -q "resuming from kk.h5.ckpt.k3" resume.txt || { cat resume.txt; fail "$kill: the sweep did not resume"; }
  ! ls kk.h5.ckpt* >/dev/null 2>&1 || fail "$kill: checkpoints left behind: $(ls kk.h5.ckpt*)"
  $PY - <<'PY' || fail "$kill: the resumed sweep differs from the uninterrupted one"
import h5py, numpy as np
a, b = h5py.File("km2.h5", "r"), h5py.File("kk.h5", "r")
for name in ["sweep_k", "sweep_inertia", "sweep_silhouette", "centroids", "assign"]:
    assert np.array_equal(a[name][:], b[name][:]), name
assert a.attrs["suggested_k"] == b.attrs["suggested_k"]
PY
done
pass "a killed sweep (after 2 Ks; inside the first) resumes to the same file"
dcrun 1 report --features f.h5 --pred km1.h5 --out rep >/dev/null
grep -q "Choosing K" rep/index.html && grep -q "5 (suggested)" rep/index.html || fail "the report does not show the sweep"
# It said "2,000 sampled rows" of these 1500 (the requested sample, not the rows used).
grep -q "the highest mean silhouette on all 1500 rows" rep/index.html || fail "the report misstates the silhouette's rows"
dcrun 1 kmeans --features f.h5 --k 4:5 --sweep-sample 500 --out km500.h5 >/dev/null
dcrun 1 report --features f.h5 --pred km500.h5 --out rep500 >/dev/null
grep -q "the highest mean silhouette on about 500 sampled rows" rep500/index.html || fail "the sampled silhouette misstated"
pass "K sweep: suggested the planted K, silhouette = sklearn, ranks agree, report shows it"

# Fewer distinct rows than k: the clusters no split can fill are said.
$PY -c "
import h5py, numpy as np
with h5py.File('same.h5', 'w') as f: f['features'] = np.tile(np.float32([[1, 2, 3]]), (50, 1))"
dcrun 3 kmeans --features same.h5 --k 3 --out same-km.h5 >same.txt 2>&1 || { cat same.txt; fail "k-means on identical rows"; }
[[ $(grep -c "WARN: kmeans: 2 of 3 clusters are empty" same.txt) -eq 1 ]] ||
  { cat same.txt; fail "empty clusters not said, or said by every rank"; }
pass "empty clusters said: $(grep -o 'kmeans: 2 of 3 clusters are empty.*' same.txt)"
