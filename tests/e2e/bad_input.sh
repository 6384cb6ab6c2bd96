#!/usr/bin/env bash
# Bad input: each case must exit non-zero within seconds, print an error that
# names the thing and the value, and leave no output file behind.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 100 --d 8 --k 3 --out ok.h5
mkdir adir
: > empty.h5
echo "hello" > text.h5
$PY - <<'PY'
import h5py, numpy as np
with h5py.File("nan.h5", "w") as f:
    x = np.random.rand(50, 4).astype(np.float32); x[17, 2] = np.nan; x[30, 0] = np.inf
    f["features"] = x
with h5py.File("intfeat.h5", "w") as f:
    f["features"] = np.ones((10, 4), dtype=np.int32)
with h5py.File("boolfeat.h5", "w") as f:
    f["features"] = np.ones((10, 4), dtype=bool)
with h5py.File("cplxfeat.h5", "w") as f:
    f["features"] = np.ones((10, 4), dtype=np.complex64)
with h5py.File("nofeat.h5", "w") as f:
    f["stuff"] = np.ones(3)
with h5py.File("vec.h5", "w") as f:
    f["features"] = np.ones(10, dtype=np.float32)
with h5py.File("zero.h5", "w") as f:
    f["features"] = np.ones((0, 4), dtype=np.float32)
with h5py.File("lab99.h5", "w") as f:
    f["labels"] = np.zeros(99, dtype=np.int64)
PY
n=0
check() {  # check NP "expected message" args...
  local np=$1 msg=$2; shift 2
  n=$((n + 1))
  rm -f out.h5 out.h5.tmp
  if timeout 60 $DC_MPIEXEC -n "$np" "$DC" "$@" --out out.h5 >out.txt 2>&1; then
    cat out.txt; fail "case $n ($*) succeeded"
  fi
  local rc=$?
  [[ $rc -ne 124 ]] || fail "case $n ($*) hung"
  grep -qF -- "$msg" out.txt || { cat out.txt; fail "case $n ($*): message lacks '$msg'"; }
  [[ ! -e out.h5 ]] || fail "case $n ($*) left out.h5"
  echo "ok $n: $* -> $(grep -F -- "$msg" out.txt | head -1 | sed 's/^.*ERROR: //')"
}
check 1 "k=101 exceeds the number of valid rows (100 of 100)" kmeans --features ok.h5 --k 101
check 2 "k=101 exceeds the number of valid rows (100 of 100)" kmeans --features ok.h5 --k 101
check 1 "kmeans.k: 0 must be >= 1" kmeans --features ok.h5 --k 0
check 1 "kmeans.k: -3 must be >= 1" kmeans --features ok.h5 --k -3
check 1 "kmeans.k: 'ten' is not an integer" kmeans --features ok.h5 --k ten
check 1 "missing.h5 does not exist" kmeans --features missing.h5 --k 2
check 3 "missing.h5 does not exist" kmeans --features missing.h5 --k 2
check 1 "adir is a directory" kmeans --features adir --k 2
ln -s loopb.h5 loopa.h5 && ln -s loopa.h5 loopb.h5   # a link loop is not "does not exist"
check 1 "HDF5 file loopa.h5 cannot be opened: Too many levels of symbolic links" kmeans --features loopa.h5 --k 2
check 1 "config file loopa.h5 cannot be opened: Too many levels of symbolic links" kmeans --features ok.h5 --config loopa.h5
check 1 "empty.h5 is empty (0 bytes)" kmeans --features empty.h5 --k 2
check 1 "text.h5 is not an HDF5 file" kmeans --features text.h5 --k 2
check 2 "nan.h5: /features row 17 holds NaN or Inf (2 such rows in all)" kmeans --features nan.h5 --k 2
check 1 "/features has type int32, expected float32, float16 or float64" kmeans --features intfeat.h5 --k 2
check 1 "/features has type enum (numpy bool, as h5py stores it?), expected float32" kmeans --features boolfeat.h5 --k 2
check 1 "/features has type compound (numpy complex or a record?), expected float32" kmeans --features cplxfeat.h5 --k 2
check 1 "no dataset /features (file holds /stuff)" kmeans --features nofeat.h5 --k 2
check 1 "/features is 10 float32, expected 2-D [N x D]" kmeans --features vec.h5 --k 2
check 1 "/features is 0 x 4 float32, which is empty" kmeans --features zero.h5 --k 2
check 1 "kmeans.init: 'kmeans+' is not one of" kmeans --features ok.h5 --k 2 --init kmeans+
check 1 "unknown key 'kk' in section 'kmeans'" kmeans --features ok.h5 --set kmeans.kk=3
check 1 "no input given (--features" kmeans --k 3
$PY -c "import h5py,numpy as np; h5py.File('pred.h5','w')['assign']=np.zeros(100,dtype=np.int64)"
check 1 "pred.h5: /assign has 100 rows but lab99.h5: /labels has 99" eval --pred pred.h5 --labels lab99.h5
check 1 "no dataset /assign" eval --pred ok.h5 --labels ok.h5
check 1 "comm=nccl" kmeans --features ok.h5 --k 2 --comm nccl
check 1 "runtime.comm: 'nccll' is not one of" kmeans --features ok.h5 --k 2 --comm nccll
mkdir outdir
check 1 "outdir is a directory, expected a file name" synth features --n 10 --set out=outdir
dcrun 1 synth features --n 100 --d 6 --k 3 --out d6.h5 >/dev/null
dcrun 1 kmeans --features d6.h5 --k 3 --out km6.h5 >/dev/null
check 1 "ok.h5: /features is 100 x 8 and k=3 but km6.h5: /centroids is 3 x 6 float32 (expected 3 x 8)" kmeans --features ok.h5 --k 3 --init-centroids km6.h5
check 1 "but km6.h5: /centroids is 3 x 6 float32 (expected 4 x 6)" kmeans --features d6.h5 --k 4 --init-centroids km6.h5
printf 'kmeans:\n  k: [1, 2\n' > broken.yaml
check 1 "broken.yaml: YAML error at line" kmeans --features ok.h5 --config broken.yaml
# A --log-dir that cannot be made: the system's reason (it said only "cannot open").
touch afile
check 1 "cannot open log file afile/x/rank-0.log for writing: Not a directory" kmeans --features ok.h5 --k 3 --log-dir afile/x
printf 'kmaens:\n  k: 3\n' > typo.yaml
check 1 "unknown section 'kmaens'" kmeans --features ok.h5 --config typo.yaml
# An empty or blank --out: refused before any work (it ran the whole stage,
# then failed renaming ".tmp" to "" and left a hidden .ckpt).
dcrun 1 knn --features ok.h5 --k 5 --out knn_ok.h5 >/dev/null 2>&1
mkdir blank && cd blank
for args in "kmeans --features ../ok.h5 --k 3" "gmm --features ../ok.h5 --k 3" "knn --features ../ok.h5 --k 5" \
            "embed --features ../ok.h5 --knn ../knn_ok.h5" "scan --features ../ok.h5 --knn ../knn_ok.h5 --clusters 3"; do
  for out in "" " "; do
    n=$((n + 1))
    if timeout 60 $DC $args --out "$out" >out.txt 2>&1; then fail "$args --out '$out' succeeded"; fi
    stage=${args%% *}
    grep -q "$stage.out: no output given (--out $stage.h5)" out.txt || { cat out.txt; fail "$args --out '$out': message"; }
    [[ -z "$(ls -A)" || "$(ls -A)" == out.txt ]] || { ls -A; fail "$args --out '$out' left files"; }
  done
done
# distclust's own working names (OUT.tmp, OUT.lock, OUT.ckpt) and '-' were
# taken as plain file names: --out x.h5.tmp collided with a job writing x.h5.
for out in - x.h5.tmp x.h5.lock x.h5.ckpt rep.tmp/; do
  n=$((n + 1))
  if timeout 60 $DC kmeans --features ../ok.h5 --k 3 --out "$out" >out.txt 2>&1; then fail "--out '$out' succeeded"; fi
  grep -q "kmeans.out is '$out'" out.txt || { cat out.txt; fail "--out '$out': message"; }
  [[ -z "$(ls -A)" || "$(ls -A)" == out.txt ]] || { ls -A; fail "--out '$out' left files"; }
done
# A file name of 247-255 bytes ran, wrote, and failed naming OUT.lock or
# OUT.ckpt.tmp ("File name too long"); now refused up front. 230 bytes,
# with checkpoints, still runs.
long=$(printf 'k%.0s' $(seq 227)).h5
n=$((n + 1))
timeout 60 $DC kmeans --features ../ok.h5 --k 3 --out "$long" >out.txt 2>&1 && [[ -e "$long" ]] ||
  { cat out.txt; fail "--out of 230 bytes"; }
rm -f "$long" out.txt
if timeout 60 $DC kmeans --features ../ok.h5 --k 3 --out "k$long" >out.txt 2>&1; then fail "--out of 231 bytes accepted"; fi
grep -q "kmeans.out: the file name kkkk.*\.\.\. is 231 bytes: at most 230" out.txt || { cat out.txt; fail "231 bytes: message"; }
[[ -z "$(ls -A)" || "$(ls -A)" == out.txt ]] || { ls -A; fail "--out of 231 bytes left files"; }
cd ..
# Flag values are taken as given (the shell expanded them already): 'km$x.h5'
# was expanded a second time and written to kmzzz.h5.
n=$((n + 1))
x=zzz timeout 60 "$DC" kmeans --features ok.h5 --k 3 --out 'km$x.h5' >flag.txt 2>&1 || { cat flag.txt; fail "--out 'km\$x.h5'"; }
[[ -e 'km$x.h5' && ! -e kmzzz.h5 ]] || { ls; fail "a flag value was expanded again"; }
# synth features kept its own copy of the output rules, without the names.
n=$((n + 1))
if timeout 60 "$DC" synth features --n 50 --d 4 --out x.h5.tmp >sx.txt 2>&1; then fail "synth features --out x.h5.tmp accepted"; fi
grep -q "synth_features.out is 'x.h5.tmp'" sx.txt || { cat sx.txt; fail "synth features: the refused name"; }
# run: a comma in the workdir split the run's own eval.compare list.
n=$((n + 1))
if timeout 60 "$DC" run --workdir 'a,b' --set run.stages=extract,kmeans >cw.txt 2>&1; then fail "a workdir with a comma accepted"; fi
grep -q "run.workdir = 'a,b': a comma in the workdir is not supported" cw.txt || { cat cw.txt; fail "the comma workdir message"; }
# A missing output folder: said as the output's folder (it named the lock
# file), and no "No space left" for a file system without blocks (/proc).
for np in 1 2; do
  n=$((n + 1))
  if timeout 60 $DC_MPIEXEC -n $np "$DC" kmeans --features ok.h5 --k 2 --out nodir/out.h5 >nd.txt 2>&1; then
    fail "--out nodir/out.h5 accepted"
  fi
  grep -q "cannot write output nodir/out.h5: its folder nodir does not exist (create it first)" nd.txt ||
    { cat nd.txt; fail "missing output folder: unclear"; }
done
n=$((n + 1))
if timeout 60 "$DC" kmeans --features ok.h5 --k 2 --out /proc/out.h5 >pr.txt 2>&1; then fail "--out /proc/out.h5 accepted"; fi
! grep -q "No space left" pr.txt || { cat pr.txt; fail "/proc said to be full"; }
pass "$n bad-input cases"
