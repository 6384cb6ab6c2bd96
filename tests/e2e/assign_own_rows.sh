#!/usr/bin/env bash
# `distclust assign` on features without images (integer /ids) and the
# files it must not take or replace:
#  - a run's own rows get exactly the run's SCAN clusters, the
#    self-labelling gate included, under 1 and 3 ranks (rows with integer
#    ids were judged by a fresh search that found the row itself, which the
#    run's graph leaves out: 20 of 3000 rows differed);
#  - a model fitted on other features of the same dimension is refused;
#  - a CSV at the CSV's path that assign did not write is kept without
#    --force (it was replaced), and assign's own CSV is replaced.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 3000 --d 32 --k 12 --noise 1.5 --seed 1 --out feat.h5 >/dev/null 2>&1 || fail "synth"
dcrun 1 knn --features feat.h5 --k 10 --out knn.h5 >/dev/null 2>&1 || fail "knn"
dcrun 2 scan --features feat.h5 --knn knn.h5 --clusters 12 --heads 2 --hidden 64 --epochs 5 --min-steps 0 \
  --self-label --threshold 0.6 --self-label-epochs 5 --self-label-lr 0.003 --out scan.h5 >scan.txt 2>&1 ||
  { cat scan.txt; fail "scan"; }
for np in 1 3; do
  dcrun $np assign --reference feat.h5 --scan scan.h5 --features feat.h5 --out own$np.h5 >own$np.txt 2>&1 ||
    { cat own$np.txt; fail "assign -np $np"; }
  $PY - own$np.h5 <<'PY' || fail "assign -np $np did not reproduce the run's SCAN clusters"
import sys, h5py, numpy as np
a, s = h5py.File(sys.argv[1]), h5py.File('scan.h5')
assert h5py.check_dtype(vlen=h5py.File('feat.h5')['ids'].dtype) is None, 'the ids are meant to be integers'
assert s.attrs['self_label_rejected'] > 0, 'the gate turned nothing down: this data does not test it'
d = int((a['assign'][:] != s['assign'][:]).sum())
assert d == 0, '%d of %d rows differ' % (d, len(s['assign']))
assert a.attrs['gate_kept'] == s.attrs['self_label_proposed'] - s.attrs['self_label_rejected']
print('reproduced, gate kept %d of %d' % (a.attrs['gate_kept'], a.attrs['gate_proposed']))
PY
done
# A report of assign.h5: named as assign's, and no "no /loss dataset"
# warning (it was taken for a scan.h5).
dcrun 1 report --features feat.h5 --pred own1.h5 --out rep --map none >rep.txt 2>&1 || { cat rep.txt; fail "report of assign.h5"; }
! grep -q "no /loss" rep.txt || { cat rep.txt; fail "report looked for a SCAN loss in assign.h5"; }
grep -q "assign (new rows)" rep/index.html || fail "the report does not name assign"
# Another model of the same dimension.
dcrun 1 synth features --n 500 --d 32 --k 3 --seed 7 --out other.h5 >/dev/null 2>&1 || fail "synth other"
dcrun 1 kmeans --features other.h5 --k 3 --out other_km.h5 >/dev/null 2>&1 || fail "kmeans other"
for m in "--kmeans other_km.h5" "--scan scan.h5 --kmeans other_km.h5"; do
  if dcrun 1 assign --reference feat.h5 $m --features feat.h5 --out bad.h5 >bad.txt 2>&1; then fail "$m: accepted"; fi
  grep -q "other_km.h5 was made from features .*the model was fitted on other features than feat.h5" bad.txt ||
    { cat bad.txt; fail "$m: not named"; }
  [[ ! -e bad.h5 && ! -e bad.csv ]] || fail "$m: an output was written"
done
# A projection the run has and the new rows lack (the message was garbled).
dcrun 1 kmeans --features feat.h5 --k 12 --out km.h5 >/dev/null 2>&1 || fail "kmeans"
cp feat.h5 pca.h5
$PY -c "import h5py, numpy as np; h5py.File('pca.h5', 'a')['pca_mean'] = np.zeros(32)"
if dcrun 1 assign --reference pca.h5 --kmeans km.h5 --features feat.h5 --out bad.h5 >bad.txt 2>&1; then fail "PCA: accepted"; fi
grep -q "projection mismatch: feat.h5 lacks /pca_mean, which the run's pca.h5 has: extract" bad.txt || { cat bad.txt; fail "PCA message"; }
# A damaged value in the model's stored params names the file: the error
# named only kmeans.tol, a key the user never set.
cp km.h5 km_bad.h5
$PY -c "
import h5py
with h5py.File('km_bad.h5', 'a') as f: f.attrs['params'] = f.attrs['params'].replace(b'tol: 0.0001', b'tol: 0.0x01')"
if dcrun 1 assign --reference feat.h5 --kmeans km_bad.h5 --features feat.h5 --out bad.h5 >bad.txt 2>&1; then
  fail "damaged params: accepted"
fi
grep -qF "km_bad.h5: its stored params: kmeans.tol: '0.0x01' is not a number" bad.txt || { cat bad.txt; fail "params message"; }
# The CSV: the user's file kept, assign's own replaced.
echo "my notes" >notes.csv
if dcrun 1 assign --reference feat.h5 --scan scan.h5 --features feat.h5 --out n.h5 --csv notes.csv >n.txt 2>&1; then
  fail "a CSV assign did not write was replaced"
fi
grep -q "notes.csv exists and is not a file distclust assign wrote" n.txt || { cat n.txt; fail "the CSV refusal"; }
[[ $(cat notes.csv) == "my notes" && ! -e n.h5 ]] || fail "notes.csv changed or n.h5 written"
dcrun 1 assign --reference feat.h5 --scan scan.h5 --features feat.h5 --out n.h5 --csv notes.csv --force >/dev/null 2>&1 ||
  fail "--force did not replace it"
dcrun 1 assign --reference feat.h5 --scan scan.h5 --features feat.h5 --out own1.h5 >again.txt 2>&1 ||
  { cat again.txt; fail "assign's own CSV was not replaced"; }
head -1 notes.csv | grep -q '^row,path,cluster' || fail "notes.csv is not assign's CSV after --force"
pass "assign reproduces integer-id rows (1 and 3 ranks), refuses other features' models, keeps a user's CSV"
