#!/usr/bin/env bash
# `distclust assign`: a finished run's models applied to images.
#  - the run's own images, re-extracted and assigned under 2 and 3 ranks,
#    get exactly the run's SCAN and k-means clusters (the self-labelling gate
#    included: the run below moves rows, so the gate path runs);
#  - copies of some images under new paths (not rows of the run) get the
#    clusters of the originals, and eval scores assign.h5;
#  - features of another model, another dimension, or a model file (or its
#    sidecar) changed since the run are refused by name; nothing is written;
#  - run from another folder, the run's relative model path is said to be
#    missing (not "changed"), and --backbone names it;
#  - --features-out naming one of the run's files is refused (it was
#    overwritten with features: the run's k-means model gone).
source "$(dirname "$0")/lib.sh"
DATA="$DC_SOURCE/../shared/data/cifar10-test1k"
MODEL="$DC_SOURCE/../shared/models/cifar10-resnet20.pt"
[[ -d $DATA && -f $MODEL ]] || { echo "SKIP: no shared CIFAR images or model"; exit 77; }
cp "$MODEL" m.pt && cp "${MODEL%.pt}.json" m.json
cat >run.yaml <<YAML
run: {workdir: w, stages: "extract,kmeans,knn,scan"}
extract: {source: $DATA, backbone: m.pt}
kmeans: {k: 10}
knn: {k: 20}
scan: {clusters: 10, head: mlp, epochs: 20, min_steps: 0, self_label: true}
YAML
dcrun 2 run --config run.yaml >run.txt 2>&1 || { cat run.txt; fail "the run failed"; }
for np in 2 3; do
  dcrun $np assign --run w --source "$DATA" --out own$np.h5 >own$np.txt 2>&1 || { cat own$np.txt; fail "assign -np $np failed"; }
  $PY - own$np.h5 <<'PY' || fail "assign -np $np did not reproduce the run"
import csv, sys, h5py, numpy as np
a, s, k = h5py.File(sys.argv[1]), h5py.File('w/scan.h5'), h5py.File('w/kmeans.h5')
assert np.array_equal(a['assign'][:], s['assign'][:]), 'SCAN clusters differ: %d rows' % (a['assign'][:] != s['assign'][:]).sum()
assert np.array_equal(a['kmeans_assign'][:], k['assign'][:]), 'k-means clusters differ'
assert a.attrs['gate_proposed'] > 0, 'the gate did not run (no self-labelling move)'
assert a.attrs['gate_proposed'] == s.attrs['self_label_proposed'] and a.attrs['gate_kept'] == s.attrs['self_label_proposed'] - s.attrs['self_label_rejected']
rows = list(csv.DictReader(open(sys.argv[1][:-3] + '.csv')))
assert len(rows) == 1000 and [int(r['cluster']) for r in rows] == list(a['assign'][:])
assert rows[0]['path'].endswith('.png') and rows[0]['label'] == '0'
print('reproduced: %d rows, gate kept %d of %d moves' % (len(rows), a.attrs['gate_kept'], a.attrs['gate_proposed']))
PY
done
# The run again without scan: its scan.h5 is a leftover that eval, export
# and report no longer use, and assign must not use it either (it did:
# "assigned with the SCAN head", 56% of rows off the run's k-means).
dcrun 2 run --config run.yaml --set run.stages=extract,kmeans >km.txt 2>&1 || { cat km.txt; fail "the k-means run failed"; }
dcrun 2 assign --run w --source "$DATA/cat" --out kmonly.h5 >kmonly.txt 2>&1 || { cat kmonly.txt; fail "assign, k-means run"; }
grep -q "assign: not used: w/scan.h5 (left from an earlier run" kmonly.txt || { cat kmonly.txt; fail "the leftover scan.h5 not said"; }
$PY - <<'PY' || fail "assign of a k-means run did not give the run's k-means clusters"
import h5py, numpy as np
a, f, ref, k = h5py.File('kmonly.h5'), h5py.File('kmonly.features.h5'), h5py.File('w/features.h5'), h5py.File('w/kmeans.h5')
row = {p: i for i, p in enumerate(ref['ids'][:])}
orig = [row[p] for p in f['ids'][:]]
assert a.attrs['scan'] in (b'', ''), a.attrs['scan']
assert np.array_equal(a['assign'][:], k['assign'][:][orig]), 'not the run\'s k-means clusters'
print('k-means run: %d rows assigned by its k-means' % len(orig))
PY
dcrun 2 run --config run.yaml >run2.txt 2>&1 || { cat run2.txt; fail "the run again"; }  # run.stages back
# A run with a PCA (fitted on the run's rows): assign applies that PCA, not one
# fitted on the new images, and reproduces the run.
cat >pca.yaml <<YAML
run: {workdir: wp, stages: "extract,kmeans"}
extract: {source: $DATA, backbone: m.pt, normalize: true, pca_dim: 16}
kmeans: {k: 10}
YAML
dcrun 2 run --config pca.yaml >pca.txt 2>&1 || { cat pca.txt; fail "the PCA run failed"; }
dcrun 2 assign --run wp --source "$DATA/cat" --out pca.h5 >pca_assign.txt 2>&1 || { cat pca_assign.txt; fail "assign with PCA failed"; }
$PY - <<'PY' || fail "assign with the run's PCA did not reproduce the run"
import h5py, numpy as np
a, f, ref, k = h5py.File('pca.h5'), h5py.File('pca.features.h5'), h5py.File('wp/features.h5'), h5py.File('wp/kmeans.h5')
row = {p: i for i, p in enumerate(ref['ids'][:])}
orig = [row[p] for p in f['ids'][:]]
assert np.array_equal(f['pca_components'][:], ref['pca_components'][:]), 'another projection'
assert np.array_equal(f['features'][:], ref['features'][:][orig]), 'features differ from the run'
assert np.array_equal(a['kmeans_assign'][:], k['assign'][:][orig]), 'clusters differ'
print('PCA run reproduced on %d rows' % len(orig))
PY
# New paths: 100 images copied elsewhere (same pixels, not rows of the run).
mkdir -p new/a new/b
ls "$DATA/cat" | head -50 | while read f; do cp "$DATA/cat/$f" new/a/; done
ls "$DATA/ship" | head -50 | while read f; do cp "$DATA/ship/$f" new/b/; done
dcrun 2 assign --run w --source new --out new.h5 >new.txt 2>&1 || { cat new.txt; fail "assign of new images failed"; }
$PY - <<'PY' || fail "new images did not get their originals' clusters"
import h5py, numpy as np, os
a, f = h5py.File('new.h5'), h5py.File('new.features.h5')
ref = h5py.File('w/features.h5'); s = h5py.File('w/scan.h5')
row = {os.path.basename(os.path.dirname(p.decode())) + '/' + os.path.basename(p.decode()): i for i, p in enumerate(ref['ids'][:])}
cls = {'a': 'cat', 'b': 'ship'}
orig = [row[cls[os.path.basename(os.path.dirname(p.decode()))] + '/' + os.path.basename(p.decode())] for p in f['ids'][:]]
agree = (a['assign'][:] == s['assign'][:][orig]).mean()
# Only self-labelling moves judged by other neighbours may differ.
assert agree >= 0.95, agree
print('new paths: %.3f agree with the originals' % agree)
PY
dcrun 1 eval --labels new.features.h5 --pred new.h5 --out new_scores.json >/dev/null 2>&1 || fail "eval does not take assign.h5"
acc=$(json_get new_scores.json acc)
ge "$acc" 0.9 || fail "eval of the assigned copies: ACC $acc"
# A SIGTERM after the new rows' features were committed, while the models
# are applied: assign's own output is not committed, and the message says so
# (not "after new_sig.features.h5 was committed: it is whole").
set +e
DISTCLUST_FAULT_SIGNAL_AT=assign-features-written "$DC" assign --run w --source new --out new_sig.h5 >sig.txt 2>&1; rc=$?
set -e
[[ $rc -eq 143 ]] || { cat sig.txt; fail "SIGTERM while assigning: rc $rc, not 143"; }
grep -q "stopped by SIGTERM: the running stage's output was not committed" sig.txt || { cat sig.txt; fail "stop message"; }
[[ ! -e new_sig.h5 && -s new_sig.features.h5 ]] || { ls; fail "a stopped assign left its output, or no features"; }
# Refusals, each naming the cause; no output written.
dcrun 1 extract --source new --backbone pixels --out pix.h5 >/dev/null 2>&1
$PY - m.pt other.pt <<'PY'
import sys, torch
m = torch.jit.load(sys.argv[1])
with torch.no_grad():
    for p in m.parameters(): p.mul_(1.01); break
m.save(sys.argv[2])
PY
cp m.json other.json
dcrun 1 extract --source new --backbone other.pt --out other.h5 >/dev/null 2>&1
expect_refusal() {  # NAME PATTERN ARGS...
  local name=$1 pat=$2; shift 2
  if dcrun 1 assign --run w --out bad.h5 "$@" >bad.txt 2>&1; then fail "$name: accepted"; fi
  grep -q "$pat" bad.txt || { cat bad.txt; fail "$name: no '$pat' in the error"; }
  [[ ! -e bad.h5 && ! -e bad.csv ]] || fail "$name: an output was written"
}
expect_refusal "pixels features" "dimension mismatch: pix.h5" --features pix.h5
expect_refusal "another model" "backbone mismatch: other.h5 has model" --features other.h5
# The same file by another spelling: the CSV's rename failed after OUT's commit.
expect_refusal "--csv naming --out" "assign.csv: ./bad.h5 is also --out bad.h5" --features new.features.h5 --csv ./bad.h5
# --out naming a CSV (what a user wants to read): beside an earlier
# assign's CSV it said "exists and is not a distclust output".
if dcrun 1 assign --run w --out bad.csv --features new.features.h5 >bad.txt 2>&1; then fail "--out bad.csv: accepted"; fi
grep -q "assign.out: bad.csv is the HDF5 predictions file (e.g. --out bad.h5)" bad.txt || { cat bad.txt; fail "--out bad.csv: no advice"; }
[[ ! -e bad.h5 && ! -e bad.csv ]] || fail "--out bad.csv: an output was written"
# OUT's own lock as the CSV: renamed onto it and deleted with it, rc 0.
expect_refusal "--csv OUT's lock" "assign.csv is 'bad.h5.lock'" --features new.features.h5 --csv bad.h5.lock
# A stop right after OUT's commit leaves OUT with its CSV (the CSV came
# after OUT, and a stop between left OUT alone: run then skipped assign).
set +e
DISTCLUST_FAULT_SIGNAL_AT=committed "$DC" assign --run w --features new.features.h5 --out late.h5 >late.txt 2>&1; rc=$?
set -e
[[ $rc -eq 143 && -s late.h5 && -s late.csv ]] || { cat late.txt; ls; fail "a stop after OUT's commit: rc $rc, OUT without its CSV"; }
# From another folder the run's relative model path (m.pt) is not there: said
# as such (it read as "the model changed"), and --backbone finds it.
mkdir -p elsewhere
(cd elsewhere && dcrun 1 assign --run ../w --source ../new --out e.h5 >e.txt 2>&1) && fail "a missing model accepted"
grep -q "the run's model m.pt (the path the run recorded, relative to the folder it started in) does not exist" \
  elsewhere/e.txt || { cat elsewhere/e.txt; fail "the missing model is not named"; }
(cd elsewhere && dcrun 1 assign --run ../w --source ../new --backbone ../m.pt --out e.h5 >e.txt 2>&1) ||
  { cat elsewhere/e.txt; fail "assign --backbone from another folder"; }
cmp <($PY -c "import h5py; print(list(h5py.File('elsewhere/e.h5')['assign'][:]))") \
  <($PY -c "import h5py; print(list(h5py.File('new.h5')['assign'][:]))") || fail "--backbone gave other clusters"
# Outputs inside the --source folder replace nothing and are taken (an
# early version of the input check refused them).
(cd new && dcrun 1 assign --run ../w --source . --backbone ../m.pt --out here.h5 >here.txt 2>&1) || { cat new/here.txt; fail "assign --source ."; }
[[ -s new/here.csv && -s new/here.features.h5 ]] || fail "assign --source . wrote no CSV or features"
md5=$(md5sum <w/kmeans.h5)
expect_refusal "--features-out over the run's model" \
  "output w/kmeans.h5 is the input w/kmeans.h5: writing it would replace or delete that input; choose another --features-out" \
  --source new --features-out w/kmeans.h5
# The message names the option to change (it said --out for each).
expect_refusal "--csv over the run's features" \
  "output w/features.h5 is the input w/features.h5: writing it would replace or delete that input; choose another --csv" \
  --features new.features.h5 --csv w/features.h5
[[ $(md5sum <w/kmeans.h5) == "$md5" ]] || fail "--features-out replaced w/kmeans.h5"
# The same model bytes with an edited sidecar (another mean): other features,
# refused before the images are extracted (it was after, by the features check).
cp m.json m.json.orig && sed -i 's/0.485/0.2/' m.json
rm -f bad.features.h5
expect_refusal "sidecar changed" "the input transform of m.pt changed since the run" --source new
[[ ! -e bad.features.h5 ]] || fail "sidecar changed: the new images were extracted before the refusal"
mv m.json.orig m.json
cp other.pt m.pt
expect_refusal "model changed" "the model m.pt changed since the run" --source new
pass "assign reproduces the run on its own images (2 and 3 ranks), follows copies, refuses other features"
