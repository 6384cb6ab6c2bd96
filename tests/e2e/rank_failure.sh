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
  # | cat: waits for the launcher's stderr filter too (it may write after mpirun exits).
  set +e; "$DC_SOURCE/launch/distclust-mpirun" -np $np "$DC" kmeans --features f.h5 --k 0 --out km.h5 2>&1 | cat >cfg2.txt
  rc=${PIPESTATUS[0]}; set -e
  [[ $rc -ne 0 ]] || fail "k=0 accepted"
  # (distclust's own "compute env:" line may come first where it changed the environment)
  [[ $(grep -c "ERROR" cfg2.txt) == 1 ]] || { cat cfg2.txt; fail "$np ranks via distclust-mpirun: not one error line"; }
  ! grep -Eq "MPI_ABORT|mpirun detected|Primary job" cfg2.txt || { cat cfg2.txt; fail "$np ranks via distclust-mpirun: an mpirun banner"; }
done
pass "config errors: one line from rank 0, no abort banner"
# A failure on rank 0 alone (run_on_root: creating the workdir) fails the
# others with "run failed on rank 0", which printed before the cause.
for np in 2 3; do
  if dcrun $np run --set run.workdir=/proc/nowhere/w --set run.stages=kmeans >root.txt 2>&1; then fail "workdir in /proc accepted"; fi
  [[ $(grep -c "ERROR" root.txt) == 1 ]] && grep -q "ERROR: run: cannot create workdir /proc/nowhere/w/logs" root.txt ||
    { cat root.txt; fail "$np ranks: rank 0's failure is not its one error line"; }
done
pass "a failure on rank 0 alone: its cause, once, and not the others' echo"
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

# A FIFO as the input: the ranks' check that they see one file opened it and
# waited for a writer forever (1 rank: a clear error).
mkfifo pipe.h5
for np in 1 2; do
  rc=0; timeout 60 $DC_MPIEXEC -n $np "$DC" kmeans --features pipe.h5 --k 3 --out kp.h5 >fifo.txt 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] && grep -q "ERROR: HDF5 file pipe.h5 " fifo.txt || { cat fifo.txt; fail "$np ranks, a FIFO input: rc $rc (124: hung)"; }
done
pass "a FIFO as the input: a clear error on 1 and 2 ranks"
# H5Fcreate failing on 2 ranks (no MPI-IO component): extract left rank 0's
# token as e.h5.tmp, which the next run took for a damaged checkpoint.
dcrun 1 synth images --classes 2 --per-class 8 --size 16 --out img >/dev/null
rc=0; OMPI_MCA_io='^ompio,romio321' timeout 60 $DC_MPIEXEC -x OMPI_MCA_io -n 2 "$DC" extract --source img --backbone pixels --out e.h5 >ex.txt 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] && grep -q "H5Fcreate(e.h5.tmp)" ex.txt || { cat ex.txt; fail "extract without MPI-IO: rc $rc"; }
[[ ! -e e.h5.tmp && ! -e e.h5 ]] || fail "extract's failed create left e.h5.tmp"
# A symbolic link left at OUT.tmp is replaced, not written through (1 rank
# wrote extract's file into what it pointed to).
echo precious > victim.txt && ln -s victim.txt e.h5.tmp
dcrun 1 extract --source img --backbone pixels --out e.h5 >/dev/null
[[ $(cat victim.txt) == precious && -f e.h5 && ! -L e.h5 ]] || fail "extract wrote through a link at e.h5.tmp"
pass "extract: a failed parallel create leaves no e.h5.tmp; a link at e.h5.tmp is replaced"
