#!/usr/bin/env bash
# A stopped rank (SIGSTOP: a debugger, a frozen node) neither fails nor
# exits, so the launcher sees nothing and the other ranks would wait for it
# until the job's time limit. The heartbeat (comm/heartbeat.h) ends the job
# within seconds, naming the rank; a job stopped and resumed as a whole
# (`scontrol suspend`/`resume`) goes on.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 60000 --d 32 --k 20 --out f.h5 >/dev/null
export DISTCLUST_HEARTBEAT_TIMEOUT=3
for case in "2 1" "2 0" "3 1"; do
  read -r np stop <<<"$case"
  start_long_kmeans "$np" km$np.h5
  pids=$(rank_pids "$stop")
  [[ -n $pids ]] || fail "$np ranks: rank $stop's process not found"
  t0=$(date +%s.%N)
  kill -STOP $pids
  rc=0; wait $JOB || rc=$?
  secs=$($PY -c "print(round($(date +%s.%N) - $t0, 1))")
  [[ $rc -ne 0 && $rc -ne 124 ]] || { cat km$np.h5.log; kill -KILL $pids 2>/dev/null; fail "$np ranks, rank $stop stopped: rc $rc (124: hung)"; }
  grep -q "ERROR: rank $stop (pid $pids on .*) has sent no heartbeat for [0-9]* s: it is stopped" km$np.h5.log ||
    { cat km$np.h5.log; fail "$np ranks, rank $stop stopped: the rank is not named"; }
  [[ ! -e km$np.h5 ]] || fail "$np ranks: output committed by a job with a stopped rank"
  # 3 s of silence, then MPI_Abort and the launcher's kill: well under 20 s.
  $PY -c "import sys; sys.exit(0 if $secs < 20 else 1)" || { cat km$np.h5.log; fail "$np ranks: ended $secs s after the stop"; }
  [[ -z $(rank_pids 0 1 2) ]] || fail "$np ranks: processes left after the job ended: $(rank_pids 0 1 2)"
  pass "$np ranks, rank $stop stopped: job ended $secs s later with rc $rc, naming the rank"
done

# The whole job stopped for 3x the timeout and resumed: it finishes.
rm -f kall.h5
timeout 120 $DC_MPIEXEC -n 3 "$DC" kmeans --features f.h5 --k 50 --set kmeans.iters=60 --set kmeans.tol=0 \
  --out kall.h5 >kall.log 2>&1 &
JOB=$!
for _ in $(seq 600); do grep -q "kmeans: f.h5:" kall.log && break; sleep 0.05; done
pids=$(rank_pids 0 1 2)
[[ $(wc -w <<<"$pids") == 3 ]] || fail "suspend: expected 3 rank processes, found '$pids'"
kill -STOP $pids; sleep 9; kill -CONT $pids
rc=0; wait $JOB || rc=$?
[[ $rc -eq 0 && -f kall.h5 ]] || { cat kall.log; fail "a job suspended and resumed as a whole: rc $rc"; }
! grep -q "heartbeat" kall.log || { cat kall.log; fail "suspend/resume: a heartbeat message"; }
pass "3 ranks suspended 9 s together and resumed: the job finished"

# Bad values: one clear line, no hang (also when the ranks were given
# different values: they must not part ways in the set-up collectives).
for bad in 1 abc; do
  rc=0; DISTCLUST_HEARTBEAT_TIMEOUT=$bad timeout 60 $DC_MPIEXEC -n 2 "$DC" kmeans --features f.h5 --k 5 --out kb.h5 >bad.log 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] || { cat bad.log; fail "DISTCLUST_HEARTBEAT_TIMEOUT=$bad: rc $rc"; }
  [[ $(grep -c "ERROR: DISTCLUST_HEARTBEAT_TIMEOUT='$bad' is not a number of seconds >= 2 (0 = no heartbeat)" bad.log) == 1 ]] ||
    { cat bad.log; fail "DISTCLUST_HEARTBEAT_TIMEOUT=$bad: not one clear error"; }
done
rc=0; timeout 60 $DC_MPIEXEC -n 2 sh -c 'DISTCLUST_HEARTBEAT_TIMEOUT=$((5 + OMPI_COMM_WORLD_RANK)) exec "$0" "$@"' \
  "$DC" kmeans --features f.h5 --k 5 --out kb.h5 >per.log 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat per.log; fail "per-rank DISTCLUST_HEARTBEAT_TIMEOUT: rc $rc (124: hung)"; }
grep -q "ERROR: DISTCLUST_HEARTBEAT_TIMEOUT differs between ranks (5 to 6 s)" per.log || { cat per.log; fail "per-rank DISTCLUST_HEARTBEAT_TIMEOUT: cause not said"; }
[[ ! -e kb.h5 ]] || fail "a job refused for its heartbeat setting wrote its output"
pass "DISTCLUST_HEARTBEAT_TIMEOUT=1, =abc and different values per rank refused with one line each"
