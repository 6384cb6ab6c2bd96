#!/usr/bin/env bash
# A failure on one rank ends the whole job quickly (MPI_Abort), naming the
# rank and the cause, instead of leaving the other ranks waiting.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 3000 --d 8 --k 3 --out f.h5
for np in 2 3; do
  last=$((np - 1))
  start=$(date +%s)
  rc=0
  DISTCLUST_TEST_FAIL_RANK=$last timeout 60 $DC_MPIEXEC -n $np "$DC" kmeans --features f.h5 --k 3 --out km.h5 >out.txt 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "job with a failing rank exited 0"
  [[ $rc -ne 124 ]] || fail "job with a failing rank $last of $np hung"
  grep -q "injected failure (DISTCLUST_TEST_FAIL_RANK) on rank $last" out.txt || { cat out.txt; fail "cause not reported"; }
  [[ ! -e km.h5 ]] || fail "output written by a failed job"
  pass "rank $last of $np failed -> job ended in $(( $(date +%s) - start )) s with rc $rc"
done
# A config error fails every rank at once: said once (by rank 0), no
# MPI_Abort banner, exit non-zero.
for np in 2 3; do
  if dcrun $np kmeans --features f.h5 --k 0 --out km.h5 >cfg.txt 2>&1; then fail "k=0 accepted"; fi
  [[ $(grep -c "ERROR: kmeans.k: 0 must be >= 1" cfg.txt) == 1 ]] || { cat cfg.txt; fail "$np ranks: the config error is not printed exactly once"; }
  ! grep -q "MPI_ABORT" cfg.txt || { cat cfg.txt; fail "$np ranks: MPI_Abort banner for a config error"; }
  # Through the launcher, not even mpirun's note on the exit code.
  if "$DC_SOURCE/launch/distclust-mpirun" -np $np "$DC" kmeans --features f.h5 --k 0 --out km.h5 >cfg2.txt 2>&1; then fail "k=0 accepted"; fi
  # (distclust's own "compute env:" line may come first where it changed the environment)
  [[ $(grep -c "ERROR" cfg2.txt) == 1 ]] || { cat cfg2.txt; fail "$np ranks via distclust-mpirun: not one error line"; }
  ! grep -Eq "MPI_ABORT|mpirun detected|Primary job" cfg2.txt || { cat cfg2.txt; fail "$np ranks via distclust-mpirun: an mpirun banner"; }
done
pass "config errors: one line from rank 0, no abort banner"
# A bad value in one rank's rows of an input, found while that rank still has
# the file open: the collective close must not wait for the others (scan,
# embed and export --duplicates once hung here on one bad /indices entry).
dcrun 1 knn --features f.h5 --k 5 --out knn.h5 >/dev/null
$PY -c "
import h5py, shutil; shutil.copy('knn.h5', 'kbig.h5')
with h5py.File('kbig.h5', 'r+') as f: f['indices'][2999, 0] = 3000"
for cmd in "scan --clusters 3 --out s.h5" "embed --out e.h5" "export --duplicates 0.99 --out dups"; do
  start=$(date +%s)
  rc=0
  timeout 60 $DC_MPIEXEC -n 2 "$DC" $cmd --features f.h5 --knn kbig.h5 >bad.txt 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] || { cat bad.txt; fail "$cmd with a bad id in rank 1's rows: rc $rc (124: hung)"; }
  grep -q "kbig.h5: /indices row 2999 column 0 holds 3000, outside \[-1, 3000)" bad.txt || { cat bad.txt; fail "$cmd: cause not reported"; }
  pass "$cmd: bad id in rank 1's rows -> ended in $(( $(date +%s) - start )) s"
done
# Ranks that resolve different settings (a per-rank variable in a path) are
# refused at once, naming the value; they once hung in collective writes of
# different files.
start=$(date +%s)
rc=0
timeout 60 $DC_MPIEXEC -n 2 "$DC" kmeans --features f.h5 --k 3 --set 'kmeans.out=r$OMPI_COMM_WORLD_RANK.h5' >per.txt 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat per.txt; fail "per-rank kmeans.out: rc $rc (124: hung)"; }
grep -q "the ranks resolved different settings: rank 0 has '  out: \"r0.h5\"', rank 1 has '  out: \"r1.h5\"'" per.txt ||
  { cat per.txt; fail "per-rank kmeans.out: cause not reported"; }
[[ ! -e r0.h5.tmp && ! -e r1.h5.tmp ]] || fail "per-rank kmeans.out left a .tmp"
pass "per-rank settings refused in $(( $(date +%s) - start )) s"
