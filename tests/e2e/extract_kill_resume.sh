#!/usr/bin/env bash
# An extract job killed mid-way (SIGKILL after K batch rounds) and started
# again resumes from OUT.tmp's per-row done flags and ends with the same
# features.h5 as a job that never stopped, also when restarted on another
# number of ranks, and with a PCA (pixels, and after the backbone), which
# the resume reads from OUT.tmp rather than fitting it again. An OUT.tmp
# made with other settings is ignored.
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
# 400 CIFAR images (40 a class) in a list file: 8 batches of 25 per rank on 2 ranks.
$PY - "$shared/data/cifar10-test1k" <<'PY'
import os, sys
src = sys.argv[1]
with open("cifar400.txt", "w") as f:
    for k, c in enumerate(sorted(os.listdir(src))):
        for n in sorted(os.listdir(os.path.join(src, c)))[:40]:
            f.write(f"{os.path.join(src, c, n)},{k}\n")
PY
list="$PWD/cifar400.txt"
tv=(extract --source "$list" --backbone "$shared/models/cifar10-resnet20.pt" --batch 25 --progress-seconds 0)
px=(extract --source "$list" --backbone pixels --pixels-size 16 --pca-dim 16 --batch 25 --progress-seconds 0)
tp=("${tv[@]}" --pca-dim 8 --pca-sample 200)
# Each run works in its own folder with --out f.h5: the files' attributes
# (the resolved config included) can then be compared whole.
mkdir ref_tv ref_px
(cd ref_tv && dcrun 2 "${tv[@]}" --out f.h5 >/dev/null)
(cd ref_px && dcrun 2 "${px[@]}" --out f.h5 >/dev/null)
mkdir ref_tp && (cd ref_tp && dcrun 2 "${tp[@]}" --out f.h5 >/dev/null)
same() {
  $PY - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert sorted(a) == sorted(b), (list(a), list(b))
for k in a:
    assert np.array_equal(a[k][:], b[k][:]), f"/{k} differs after resume"
assert dict(a.attrs) == dict(b.attrs), "attributes differ after resume"
PY
}
run_case() {  # run_case NAME KILL_AFTER NP_FIRST NP_SECOND REF ARGS...
  local name=$1 at=$2 np1=$3 np2=$4 ref=$5; shift 5
  mkdir "$name" && cd "$name"
  if DISTCLUST_FAULT_AFTER_BATCHES=$at dcrun "$np1" "$@" --out f.h5 >kill.txt 2>&1; then
    fail "$name: the injected kill after $at batches did not stop the job"
  fi
  [[ -e f.h5.tmp && ! -e f.h5 ]] || fail "$name: expected f.h5.tmp and no f.h5 after the kill"
  dcrun "$np2" "$@" --out f.h5 >resume.txt 2>&1 || { cat resume.txt; fail "$name: resume failed"; }
  grep -q "resuming from f.h5.tmp" resume.txt || { cat resume.txt; fail "$name: did not resume"; }
  grep -E "resuming" resume.txt
  # The resumed rows' PCA, read back: a refit ran the backbone over the
  # whole sample again (and on other threads or another GPU could round
  # otherwise than the rows already written).
  if [[ " $* " == *" --pca-dim "* ]]; then
    grep -q "of the resumed rows, read from f.h5.tmp: not fitted again" resume.txt ||
      { cat resume.txt; fail "$name: the PCA was fitted again on resume"; }
  fi
  [[ ! -e f.h5.tmp ]] || fail "$name: f.h5.tmp left behind"
  same "../$ref/f.h5" f.h5 || fail "$name: resumed file differs from the uninterrupted run"
  cd ..
  pass "$name: killed after $at batches on $np1 rank(s), resumed on $np2, identical output"
}
run_case tv_np2 3 2 2 ref_tv "${tv[@]}"
run_case tv_np2_to_np3 7 2 3 ref_tv "${tv[@]}"
run_case px_np1_to_np2 4 1 2 ref_px "${px[@]}"
run_case tp_np2_to_np3 3 2 3 ref_tp "${tp[@]}"
# The PCA in OUT.tmp changed on disk (zeros over part of its components):
# its checksum refuses it (the changed components were applied to every
# remaining row, without a word), and the rows already written are not
# resumed either: a refit need not match them bit for bit (other threads,
# another GPU). The job fits again, extracts every row, ends identical.
mkdir pca_damaged && cd pca_damaged
if DISTCLUST_FAULT_AFTER_BATCHES=3 dcrun 2 "${tp[@]}" --out f.h5 >kill.txt 2>&1; then fail "pca damaged: not killed"; fi
$PY -c "
import h5py
with h5py.File('f.h5.tmp', 'r+') as f:
    f['pca_components'][2, 10:50] = 0"
dcrun 2 "${tp[@]}" --out f.h5 >resume.txt 2>&1 || { cat resume.txt; fail "pca damaged: resume failed"; }
grep -q "WARN: extract: resuming: f.h5.tmp: the PCA's checksum does not match .*; fitting the PCA again, and extracting its rows again" resume.txt ||
  { cat resume.txt; fail "pca damaged: the changed PCA was not refused"; }
if grep -q "resuming from f.h5.tmp" resume.txt; then cat resume.txt; fail "pca damaged: rows of the refused PCA resumed"; fi
grep -q "400 rows computed" resume.txt || { cat resume.txt; fail "pca damaged: not every row extracted again"; }
same ../ref_tp/f.h5 f.h5 || fail "pca damaged: the resumed file differs from the uninterrupted run"
# extract.pca_from with such a file: refused by name.
cp ../ref_tp/f.h5 from.h5
$PY -c "
import h5py
with h5py.File('from.h5', 'r+') as f:
    f['pca_mean'][3] = 0.5"
if dcrun 1 "${tv[@]}" --pca-from from.h5 --out g.h5 >from.txt 2>&1; then fail "pca_from with a changed PCA accepted"; fi
grep -q "extract.pca_from: from.h5: the PCA's checksum does not match" from.txt || { cat from.txt; fail "pca_from: not said"; }
cd ..
pass "a PCA changed on disk: refused on resume (fitted again, every row again, identical output) and as pca_from"
# Stopped in its commit, after the file was closed without /done, before
# the rename (a SIGTERM there; a full disk at the close alike): the file
# holds every row. It was taken for a damaged one and every image extracted
# again; now it resumes with nothing left to compute.
mkdir commit_window && cd commit_window
set +e; DISTCLUST_FAULT_SIGNAL_AT=extract-closed dcrun 2 "${tv[@]}" --out f.h5 >stop.txt 2>&1; rc=$?; set -e
[[ $rc -ne 0 && -e f.h5.tmp && ! -e f.h5 ]] || { cat stop.txt; fail "commit window: rc $rc, or no f.h5.tmp, or an f.h5"; }
dcrun 2 "${tv[@]}" --out f.h5 >resume.txt 2>&1 || { cat resume.txt; fail "commit window: the rerun failed"; }
grep -q "resuming from f.h5.tmp: 400 of 400 rows already done" resume.txt ||
  { cat resume.txt; fail "commit window: the complete f.h5.tmp was not resumed whole"; }
same ../ref_tv/f.h5 f.h5 || fail "commit window: the resumed file differs from the uninterrupted run"
cd ..
pass "stopped in its commit (closed, not renamed): the rerun computes nothing, identical output"
# A temporary file from other settings is not resumed into.
rm -f other.h5 other.h5.tmp
DISTCLUST_FAULT_AFTER_BATCHES=2 dcrun 1 "${tv[@]}" --out other.h5 >/dev/null 2>&1 || true
[[ -e other.h5.tmp ]] || fail "no other.h5.tmp after the kill"
dcrun 1 "${tv[@]}" --normalize --out other.h5 >other.txt 2>&1 || { cat other.txt; fail "run after foreign tmp failed"; }
grep -q "ignoring other.h5.tmp (made with other settings" other.txt || { cat other.txt; fail "foreign tmp not ignored"; }
$PY -c "
import h5py, numpy as np
x = h5py.File('other.h5', 'r')['features'][:]
assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5), 'rows not normalised: the old tmp was used'"
pass "OUT.tmp made with other settings ignored"
