#!/usr/bin/env bash
# A k-means job killed mid-way (SIGKILL after N iterations, its checkpoint
# from then or a little earlier) and started again ends with the same
# kmeans.h5 as a job that never stopped.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 20000 --d 32 --k 10 --noise 1.2 --seed 5 --out f.h5
args=(kmeans --features f.h5 --k 25 --iters 12 --tol 0 --restarts 2 --seed 9)
dcrun 2 "${args[@]}" --out ref.h5
for at in 3 12 14; do  # mid restart 0, end of restart 0, mid restart 1
  rm -f km.h5 km.h5.ckpt
  if DISTCLUST_FAULT_AFTER_ITER=$at dcrun 2 "${args[@]}" --out km.h5 >log-$at.txt 2>&1; then
    fail "the injected kill after $at iterations did not stop the job"
  fi
  [[ -e km.h5.ckpt ]] || fail "no checkpoint after a kill at iteration $at"
  [[ ! -e km.h5 ]] || fail "a kmeans.h5 exists although the job was killed"
  dcrun 2 "${args[@]}" --out km.h5 >resume-$at.txt 2>&1 || { cat resume-$at.txt; fail "resume failed"; }
  grep -q "resuming from km.h5.ckpt" resume-$at.txt || fail "the second run did not resume"
  $PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("ref.h5", "r"), h5py.File("km.h5", "r")
for name in ["centroids", "assign", "distance", "inertia"]:
    assert np.array_equal(a[name][:], b[name][:]), f"/{name} differs after resume"
PY
  pass "killed after $at iterations, resumed, identical output"
done
# One rank of two killed alone (a node failure, an OOM kill): mpirun stops
# rank 0 with SIGTERM, whose handler skips the destructors: km.h5.lock was
# left behind. Now the handler removes it; the rerun resumes as above.
rm -f km.h5 km.h5.ckpt
if DISTCLUST_FAULT_AFTER_ITER=3 DISTCLUST_FAULT_RANK=1 dcrun 2 "${args[@]}" --out km.h5 >rank1.txt 2>&1; then
  fail "the injected kill of rank 1 did not stop the job"
fi
grep -q "stopped by SIGTERM" rank1.txt || { cat rank1.txt; fail "rank 0 was not stopped by SIGTERM"; }
[[ ! -e km.h5 && ! -e km.h5.lock && -e km.h5.ckpt ]] || { ls -la; fail "rank 1 killed: left km.h5.lock (or no checkpoint)"; }
dcrun 2 "${args[@]}" --out km.h5 >resume-r1.txt 2>&1 || { cat resume-r1.txt; fail "resume after rank 1's kill failed"; }
$PY -c "
import h5py, numpy as np
a, b = h5py.File('ref.h5', 'r'), h5py.File('km.h5', 'r')
assert all(np.array_equal(a[n][:], b[n][:]) for n in ['centroids', 'assign', 'inertia'])" || fail "resume after rank 1's kill differs"
pass "rank 1 killed alone: rank 0 stopped, no lock left, resumed identical"
# Stopped while an HDF5 output or a checkpoint is written but not yet
# renamed (scancel's SIGTERM to every rank): the handler skips the
# destructors, and OUT.tmp / OUT.ckpt.tmp stayed on the disk until the next
# run. Every rank now registers the file for removal at an abnormal end.
for np in 1 2; do
  # (*-creating: the file exists, with 2 ranks, before HDF5 creates it.)
  for at in checkpoint-creating checkpoint-written output-creating output-written; do
    rm -f st.h5*
    rm -rf lg
    if DISTCLUST_FAULT_SIGNAL_AT=$at dcrun $np "${args[@]}" --out st.h5 --log-dir lg >st.txt 2>&1; then fail "$np ranks, $at: not stopped"; fi
    grep -q "stopped by SIGTERM" st.txt || { cat st.txt; fail "$np ranks, $at: no stop message"; }
    [[ ! -e st.h5 && ! -e st.h5.tmp && ! -e st.h5.ckpt.tmp && ! -e st.h5.lock ]] ||
      { ls -la st.h5*; fail "$np ranks, stopped at $at: a .tmp (or the output) was left"; }
    # Every rank's log ends with the stop line (the post-mortem; under
    # mpirun in a batch job the terminal's copy can be lost).
    for ((r = 0; r < np; ++r)); do
      tail -1 lg/rank-$r.log | grep -q "^\[  signal r$r .*\] distclust: stopped by SIGTERM: the running stage's output was not committed" ||
        { tail -3 lg/rank-$r.log; fail "$np ranks, $at: rank $r's log does not end with the stop line"; }
    done
  done
done
pass "stopped while writing a checkpoint or the output (1, 2 ranks): no .tmp left, each rank log ends with the stop line"
# A checkpoint from other parameters is ignored, not used.
DISTCLUST_FAULT_AFTER_ITER=2 dcrun 1 "${args[@]}" --out km2.h5 >/dev/null 2>&1 || true
dcrun 1 kmeans --features f.h5 --k 25 --iters 12 --tol 0 --restarts 2 --seed 10 --out km2.h5 >other.txt 2>&1
grep -q "ignoring checkpoint" other.txt || fail "a checkpoint made with other parameters was not ignored"
pass "foreign checkpoint ignored"
# Iterations far faster than a checkpoint's write (a GPU's, here a tiny
# problem's): not every one is saved, the first and each restart's end are,
# and the answer is the one without checkpoints. It saved every iteration:
# a 20 MB state (K=20000, D=256) took 60-80 ms to write, as long as a GPU's
# whole iteration.
dcrun 1 synth features --n 600 --d 8 --k 3 --seed 3 --out tiny.h5 >/dev/null
tiny=(kmeans --features tiny.h5 --k 3 --iters 400 --tol 0 --restarts 2 --seed 4)
dcrun 1 "${tiny[@]}" --no-checkpoint --out tiny-ref.h5 >/dev/null 2>&1 || fail "tiny k-means without checkpoints"
DISTCLUST_LOG=debug dcrun 2 "${tiny[@]}" --out tinyk.h5 >tiny.txt 2>&1 || { cat tiny.txt; fail "tiny k-means"; }
saves=$(grep -c "kmeans: checkpoint at restart" tiny.txt)
((saves >= 3 && saves < 400)) || fail "$saves checkpoints for 800 fast iterations (want the first, the restarts' ends, and a few)"
grep -q "kmeans: checkpoint at restart 2, iteration 0" tiny.txt || fail "no checkpoint at the last restart's end"
# A finished restart is saved once, as the next restart's start (its last
# iteration's state was saved too, just before: twice in a row).
! grep "kmeans: checkpoint at restart ., iteration 400" tiny.txt || fail "a finished restart saved twice"
$PY - <<'PY' || fail "checkpoints changed the answer"
import h5py, numpy as np
a, b = h5py.File("tiny-ref.h5", "r"), h5py.File("tinyk.h5", "r")
for name in ["centroids", "assign", "inertia"]:
    assert np.array_equal(a[name][:], b[name][:]), name
PY
pass "fast iterations: $saves checkpoints for 800 iterations, same answer"

# Stopped by a signal (scancel, a time limit, Ctrl-C): rank 0 says so and
# what is left, the exit status is the signal's, and the rerun resumes.
dcrun 1 synth features --n 60000 --d 32 --k 10 --out big.h5 >/dev/null
"$DC" kmeans --features big.h5 --k 400 --iters 300 --tol 0 --out sig.h5 >sig.txt 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -s sig.h5.ckpt ]] && break; sleep 0.1; done
[[ -s sig.h5.ckpt ]] || { kill $pid; fail "no checkpoint to stop after"; }
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[[ $rc -eq 143 ]] || { cat sig.txt; fail "SIGTERM: rc $rc, not 143"; }
grep -q "distclust: stopped by SIGTERM: the running stage's output was not committed" sig.txt ||
  { cat sig.txt; fail "SIGTERM not said"; }
[[ ! -e sig.h5 ]] || fail "a stopped stage left its output"
dcrun 1 kmeans --features big.h5 --k 400 --iters 300 --tol 0 --out sig.h5 >sig2.txt 2>&1
grep -q "resuming from sig.h5.ckpt" sig2.txt || { cat sig2.txt; fail "the rerun did not resume"; }
pass "SIGTERM said, rc 143, resumed: $(grep -o 'resuming from .*' sig2.txt)"
# A SIGTERM after the commit (the ranks shutting down, a run past its last
# stage) said "not committed" of a whole output: now it says it is whole.
set +e
DISTCLUST_FAULT_SIGNAL_AT=committed "$DC" kmeans --features big.h5 --k 5 --iters 3 --out late.h5 >late.txt 2>&1; rc=$?
set -e
[[ $rc -eq 143 ]] || { cat late.txt; fail "SIGTERM after the commit: rc $rc, not 143"; }
grep -q "distclust: stopped by SIGTERM after late.h5 was committed: it is whole and in place" late.txt ||
  { cat late.txt; fail "the message after the commit"; }
grep -q "not committed" late.txt && { cat late.txt; fail "said not committed after the commit"; }
$PY -c "import h5py; assert h5py.File('late.h5', 'r')['centroids'].shape == (5, 32)" || fail "late.h5 not whole"
set +e  # eval's scores.json, a text output: the same
DISTCLUST_FAULT_SIGNAL_AT=committed "$DC" eval --pred late.h5 --labels big.h5 --out late.json >late2.txt 2>&1; rc=$?
set -e
[[ $rc -eq 143 ]] && grep -q "stopped by SIGTERM after late.json was committed: it is whole" late2.txt ||
  { cat late2.txt; fail "eval: the message after the commit (rc $rc)"; }
pass "a SIGTERM after the commit says the output is whole"
# Just after the rename, before the ranks heard of it: "not committed" was
# said of a whole output (its note came only after the ranks agreed).
for np in 1 2; do
  rm -f ren.h5 ren.h5.ckpt
  set +e
  DISTCLUST_FAULT_SIGNAL_AT=renamed dcrun $np kmeans --features big.h5 --k 5 --iters 3 --out ren.h5 >ren.txt 2>&1
  set -e
  grep -q "distclust: stopped by SIGTERM after ren.h5 was committed: it is whole and in place" ren.txt ||
    { cat ren.txt; fail "$np rank(s): a SIGTERM just after the rename: not said whole"; }
  grep -q "not committed" ren.txt && { cat ren.txt; fail "$np rank(s): said not committed just after the rename"; }
  $PY -c "import h5py; assert h5py.File('ren.h5', 'r')['centroids'].shape == (5, 32)" || fail "ren.h5 not whole"
done
pass "a SIGTERM just after the rename says the output is whole"
# A signal inherited as ignored stays ignored: nohup's SIGHUP (the handler
# once undid it and the job died with rc 129).
rm -f sig.h5 sig.h5.ckpt
nohup "$DC" kmeans --features big.h5 --k 50 --iters 40 --tol 0 --out hup.h5 >hup.txt 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -s hup.h5.ckpt || -e hup.h5 ]] && break; sleep 0.1; done
kill -HUP $pid 2>/dev/null || true
set +e; wait $pid; rc=$?; set -e
[[ $rc -eq 0 && -e hup.h5 ]] || { cat hup.txt; fail "nohup: SIGHUP ended the job (rc $rc)"; }
pass "under nohup, SIGHUP is still ignored"
