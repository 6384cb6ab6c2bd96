#!/usr/bin/env bash
# Predictions are rows of the features they were made from (io/rows_identity.h):
# eval, report and export refuse a features/labels file of other rows with
# the same row count (they paired it silently: scores and galleries of other
# images), and accept the same features under a copy, an h5py edit, or an
# embedding of them.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth images --classes 3 --per-class 20 --size 16 --seed 1 --out a >/dev/null
dcrun 1 synth images --classes 3 --per-class 20 --size 16 --seed 2 --out b >/dev/null
dcrun 1 extract --source a --backbone pixels --pixels-size 8 --out fa.h5 >/dev/null
dcrun 1 extract --source b --backbone pixels --pixels-size 8 --out fb.h5 >/dev/null
dcrun 2 kmeans --features fa.h5 --k 3 --out km.h5 >/dev/null
dcrun 1 gmm --features fa.h5 --k 3 --covariance diag --out gm.h5 >/dev/null
dcrun 1 knn --features fa.h5 --k 5 --out knn.h5 >/dev/null
dcrun 1 scan --features fa.h5 --knn knn.h5 --clusters 3 --epochs 2 --out sc.h5 >/dev/null
n=0
refused() {  # refused CMD...: rc 1 and the message names both files
  n=$((n + 1))
  set +e; timeout 60 "$DC" "$@" >out.txt 2>&1; local rc=$?; set -e
  [[ $rc -eq 1 ]] && grep -q "the files do not belong together" out.txt || { cat out.txt; fail "case $n ($*): rc $rc"; }
  echo "ok $n: $(grep -m1 -o 'ERROR: .*' out.txt | cut -c1-160)"
}
for pred in km.h5 gm.h5 sc.h5; do
  refused eval --labels fb.h5 --pred $pred
  refused report --features fb.h5 --pred $pred --out rep-$pred
  refused export --features fb.h5 --pred $pred --out ex-$pred
done
[[ ! -e rep-km.h5 && ! -e ex-km.h5 ]] || fail "a refused report/export left its output"

# The same rows pass: the file itself, a copy (cp: new mtime), an h5py edit.
cp fa.h5 fa-copy.h5
$PY -c "import h5py; h = h5py.File('fa-copy.h5', 'r+'); h.attrs['note'] = 'edited'"
for f in fa.h5 fa-copy.h5; do
  dcrun 1 eval --labels $f --pred km.h5 >/dev/null || fail "eval --labels $f refused its own rows"
  dcrun 1 export --features $f --pred sc.h5 --out ex-ok-$f --no-folders >/dev/null || fail "export $f"
done
# An embedding's rows are its source's rows: k-means on embed.h5 goes with fa.h5.
dcrun 1 embed --features fa.h5 --knn knn.h5 --epochs 20 --out em.h5 >/dev/null
dcrun 1 kmeans --features em.h5 --k 3 --out kme.h5 >/dev/null
dcrun 1 report --features fa.h5 --pred kme.h5 --out rep-emb >/dev/null || fail "report of k-means on the embedding refused"
refused report --features fb.h5 --pred kme.h5 --out rep-emb-b
# A labels file distclust did not write is not judged (it cannot be told apart).
$PY -c "
import h5py
with h5py.File('fb.h5') as s, h5py.File('labels-only.h5', 'w') as d: d['labels'] = s['labels'][:]"
dcrun 1 eval --labels labels-only.h5 --pred km.h5 >/dev/null || fail "eval with a plain labels file"
# Features distclust did not write: known by their /features shape, so an
# h5py edit that adds labels (the file's size changes) still pairs.
$PY -c "
import h5py, numpy as np
with h5py.File('fa.h5') as s, h5py.File('foreign.h5', 'w') as d: d['features'] = s['features'][:]"
dcrun 1 kmeans --features foreign.h5 --k 3 --out kmf.h5 >/dev/null
$PY -c "
import h5py
with h5py.File('fa.h5') as s, h5py.File('foreign.h5', 'r+') as d: d['labels'] = s['labels'][:]"
dcrun 1 export --features foreign.h5 --pred kmf.h5 --out ex-foreign --no-folders >/dev/null || fail "export after an h5py edit"
dcrun 1 eval --labels foreign.h5 --pred kmf.h5 >/dev/null || fail "eval after an h5py edit"
# Extracted with --source . from inside the image folder: a report written
# from elsewhere is not "inside the input ." (the early check once resolved
# the relative source from the report's own folder).
(cd a && "$DC" extract --source . --backbone pixels --pixels-size 8 --out ../fdot.h5 >/dev/null)
dcrun 1 kmeans --features fdot.h5 --k 3 --out kmdot.h5 >/dev/null
mkdir -p elsewhere && (cd elsewhere && "$DC" report --features ../fdot.h5 --pred ../kmdot.h5 --out rep >/dev/null) ||
  fail "report from another folder, features extracted with --source ."
pass "$n refusals of other rows; copies, edits, embeddings and plain label files accepted"
