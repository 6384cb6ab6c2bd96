#!/usr/bin/env bash
# One writer per output: a second job writing the same output (or the same
# run workdir) is refused with a message naming the holder, and the first
# job's output is not harmed. (A second extract used to truncate the first's
# OUT.tmp, and the first then committed a corrupt file.)
source "$(dirname "$0")/lib.sh"

dcrun 1 synth features --n 2000 --d 8 --k 4 --seed 3 --out f.h5 >/dev/null

# hold_lock FILE "HOST PID": a python holding flock on FILE with that
# content, standing in for another job; sets $holder once it holds it.
hold_lock() {
  rm -f held
  $PY - "$1" "$2" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, (sys.argv[2] + "\n").encode())
open("held", "w").close()
time.sleep(30)
PY
  holder=$!
  for _ in $(seq 100); do [[ -e held ]] && break; sleep 0.1; done
}

# 1. A lock held by another process refuses kmeans, naming it.
hold_lock km.h5.lock "otherhost 12345"
set +e; dcrun 2 kmeans --features f.h5 --k 4 --out km.h5 >k1.txt 2>&1; rc=$?; set -e
kill $holder; wait $holder 2>/dev/null || true
[[ $rc -ne 0 ]] || { cat k1.txt; fail "kmeans wrote km.h5 while another process held its lock"; }
grep -q "km.h5 is being written by pid 12345 on host otherhost" k1.txt || { cat k1.txt; fail "the holder is not named"; }
[[ ! -e km.h5 && ! -e km.h5.tmp ]] || fail "the refused kmeans touched km.h5"
pass "kmeans refused while another process holds km.h5.lock: $(grep -m1 ERROR k1.txt)"
# Released (the holder ended): the same command now runs and removes its lock.
rm -f km.h5.lock
dcrun 2 kmeans --features f.h5 --k 4 --out km.h5 >/dev/null
[[ -e km.h5 && ! -e km.h5.lock ]] || fail "kmeans after the lock was released: km.h5 missing or lock left"
pass "kmeans after release: km.h5 written, km.h5.lock removed"

# 2. Two runs on one workdir: while the first runs, the second is refused at
#    once; the first finishes and its outputs are whole and correct.
# The first run is made to last a few seconds: k-means, 40 iterations, tol 0.
mkdir -p w
dcrun 1 synth features --n 200000 --d 32 --k 50 --seed 3 --out w/features.h5 >/dev/null
cat >job.yaml <<YAML
run: {workdir: w, stages: "kmeans,eval"}
kmeans: {k: 50, seed: 1, iters: 40, tol: 0}
YAML
dcrun 2 run --config job.yaml >runA.txt 2>&1 &
first=$!
for _ in $(seq 200); do [[ -e w/.distclust.lock ]] && break; sleep 0.05; done
[[ -e w/.distclust.lock ]] || fail "the first run never took w/.distclust.lock"
set +e; dcrun 2 run --config job.yaml >runB.txt 2>&1; rcB=$?; set -e
kill -0 $first 2>/dev/null || echo "note: the first run ended before the second was refused"
wait $first || { cat runA.txt; fail "the first run failed"; }
[[ $rcB -ne 0 ]] || { cat runB.txt; fail "a second run on the same workdir was not refused"; }
grep -q "is being written by pid [0-9]* on host" runB.txt || { cat runB.txt; fail "the second run does not name the holder"; }
$PY - <<'PY' || fail "the first run's outputs are damaged"
import h5py, numpy as np
f = h5py.File("w/features.h5", "r"); k = h5py.File("w/kmeans.h5", "r")
assert k["assign"].shape == (f["features"].shape[0],) and np.all(k["assign"][:] >= 0)
PY
[[ ! -e w/.distclust.lock ]] || fail "the first run left its lock behind"
pass "second run on the same workdir refused: $(grep -m1 ERROR runB.txt); the first run's outputs whole"

# 4. A stage command writing into a workdir a run is using (its
#    .distclust.lock held: here by a python standing in for the run) is
#    refused; it replaced the run's kmeans.h5, which the run then scored as
#    its own. Without the holder it runs.
mkdir -p busy
hold_lock busy/.distclust.lock "runhost 4242"
set +e; dcrun 2 kmeans --features f.h5 --k 4 --out busy/kmeans.h5 >k4.txt 2>&1; rc=$?
dcrun 1 synth features --n 100 --d 4 --k 2 --out busy/features.h5 >s4.txt 2>&1; rcs=$?
# eval without --out writes nothing there, and is not refused.
(cd busy && "$DC" eval --labels ../f.h5 --pred ../km.h5 >../e4.txt 2>&1); rce=$?; set -e
kill $holder; wait $holder 2>/dev/null || true
[[ $rc -ne 0 && ! -e busy/kmeans.h5 ]] || { cat k4.txt; fail "kmeans wrote into a workdir a run holds"; }
grep -q "output busy/kmeans.h5 lies in the run workdir busy, which pid 4242 on host runhost is running" k4.txt ||
  { cat k4.txt; fail "the run holding the workdir is not named"; }
[[ $rcs -ne 0 && ! -e busy/features.h5 ]] && grep -q "lies in the run workdir busy" s4.txt ||
  { cat s4.txt; fail "synth features wrote into a workdir a run holds"; }
[[ $rce -eq 0 ]] || { cat e4.txt; fail "eval without --out refused in a busy workdir"; }
dcrun 1 kmeans --features f.h5 --k 4 --out busy/kmeans.h5 >/dev/null || fail "kmeans into busy/ after the run ended"
pass "a stage command into a workdir a run holds: refused, named; eval printing only: runs; after the run: runs"

# 5. synth features follows the overwrite rule: a file it did not write is
#    replaced only with --force (it was replaced silently), its own always.
echo "my notes" >notes.h5
if dcrun 1 synth features --n 100 --d 4 --k 2 --out notes.h5 >s5.txt 2>&1; then fail "synth replaced notes.h5"; fi
grep -q "notes.h5 exists and is not a distclust output: pass --force" s5.txt || { cat s5.txt; fail "synth: no refusal"; }
[[ $(cat notes.h5) == "my notes" ]] || fail "notes.h5 changed"
dcrun 1 synth features --n 100 --d 4 --k 2 --out notes.h5 --force >/dev/null || fail "synth --force"
dcrun 1 synth features --n 100 --d 4 --k 2 --seed 2 --out notes.h5 >/dev/null || fail "synth over its own file"
pass "synth features: a user's file kept without --force, its own replaced"
