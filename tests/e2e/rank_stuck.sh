#!/usr/bin/env bash
# A rank alive but stuck: its main thread never returns (a read on a hung
# file system, a deadlock) while its heartbeat thread beats on, so the
# heartbeat sees nothing wrong and every other rank would wait for it in its
# next collective until the job's time limit. The collective watch
# (comm/collective_watch.h) ends the job once a rank has waited
# DISTCLUST_COLLECTIVE_TIMEOUT seconds in one collective call. Here the
# stuck thread is made with ptrace (stall_thread.py): only the main thread
# stops, as in the real case.
STALL_PY="$(cd "$(dirname "$0")" && pwd)/stall_thread.py"
source "$(dirname "$0")/lib.sh"
STALL="$PY $STALL_PY"
dcrun 1 synth features --n 60000 --d 32 --k 20 --out f.h5 >/dev/null
export DISTCLUST_COLLECTIVE_TIMEOUT=3

# stall PID [outside]: stops the main thread of PID (its tid is its pid) in
# the background (STALLER), with "outside" only where it waits in no
# collective call; exits the test as skipped where ptrace is refused.
SEQ_OFFSET=$(nm -C "$DC" 2>/dev/null | awk '/distclust::\(anonymous namespace\)::g_state$/ {print "0x" $1}')
stall() {
  local at=""
  [[ ${2:-} == outside && -n $SEQ_OFFSET ]] && at=$SEQ_OFFSET
  $STALL "$1" $at >stall.out 2>&1 &
  STALLER=$!
  for _ in $(seq 100); do grep -q stalled stall.out && return 0; kill -0 $STALLER 2>/dev/null || break; sleep 0.05; done
  local rc=0; wait $STALLER || rc=$?
  if [[ $rc == 3 ]]; then
    kill -KILL $JOB 2>/dev/null; cat stall.out
    echo "SKIP: ptrace is not permitted here, so no thread can be stalled"; exit 0
  fi
  cat stall.out; fail "could not stall pid $1"
}

# The rank is stopped in its own work (stall_thread.py reads its collective
# counter and lets it go while it is inside a call), where the others name
# it: the heartbeat ring tells them it has called no collective for as long
# as they waited. Where the counter cannot be found (no symbols), a stall
# inside a call ends the job unnamed: tried again, at most 4 times.
# (The ranks trust the ring's pick once it has held for size + 2 ticks of
# 0.5 s: hence a limit of 5 s here.)
dcrun 1 synth features --n 60000 --d 128 --k 20 --out big.h5 >/dev/null
export DISTCLUST_COLLECTIVE_TIMEOUT=5
for case in "2 1" "3 0" "3 2"; do
  read -r np stuck <<<"$case"
  named=""
  for try in 1 2 3 4; do
    start_long_kmeans "$np" ks$np.h5 big.h5 2000 "restart 0 iter 1 "
    pid=$(rank_pids "$stuck")
    [[ -n $pid ]] || fail "$np ranks: rank $stuck's process not found"
    sleep 0.$((RANDOM % 10))
    t0=$(date +%s.%N)
    stall "$pid" outside
    rc=0; wait $JOB || rc=$?
    secs=$($PY -c "print(round($(date +%s.%N) - $t0, 1))")
    kill $STALLER 2>/dev/null || true
    log=ks$np.h5.log
    [[ $rc -ne 0 && $rc -ne 124 ]] || { cat $log; fail "$np ranks, rank $stuck stuck: rc $rc (124: hung)"; }
    grep -Eq "ERROR: waited [0-9]+ s in [A-Za-z]+ [a-z_ ()]+ for " $log || { cat $log; fail "$np ranks, rank $stuck stuck: the cause is not said"; }
    ! grep -q "has sent no heartbeat" $log || { cat $log; fail "the heartbeat took a stuck rank for a stopped one"; }
    [[ ! -e ks$np.h5 ]] || fail "$np ranks: output committed by a job with a stuck rank"
    # 5 s of waiting, a tick, then MPI_Abort and the launcher's kill.
    $PY -c "import sys; sys.exit(0 if $secs < 20 else 1)" || { cat $log; fail "$np ranks: ended $secs s after the stall"; }
    for _ in $(seq 50); do [[ -z $(rank_pids 0 1 2) ]] && break; sleep 0.1; done
    [[ -z $(rank_pids 0 1 2) ]] || fail "$np ranks: processes left after the job ended: $(rank_pids 0 1 2)"
    if grep -q "which has called no collective for" $log; then
      grep -Eq "for rank $stuck \(pid $pid on .*\), which has called no collective for [0-9]+ s: it is stuck in its own work" $log ||
        { cat $log; fail "$np ranks, rank $stuck stuck: another rank named"; }
      named=yes; break
    fi
    echo "($np ranks, try $try: the stall landed inside a call; the job ended unnamed)"
  done
  [[ -n $named ]] || { cat $log; fail "$np ranks, rank $stuck stuck: never named in 4 tries"; }
  pass "$np ranks, rank $stuck's main thread stuck: job ended $secs s later with rc $rc, naming rank $stuck"
done

# A rank held up for less than the limit (2 s against 5 s), then let go:
# the job finishes. And the whole job stopped for 3x the limit and resumed
# (`scontrol suspend`): the time stopped does not count.
export DISTCLUST_COLLECTIVE_TIMEOUT=5
rm -f kslow.h5
timeout 120 $DC_MPIEXEC -n 2 "$DC" kmeans --features f.h5 --k 50 --set kmeans.iters=150 --set kmeans.tol=0 \
  --out kslow.h5 >kslow.log 2>&1 &
JOB=$!
for _ in $(seq 600); do grep -q "kmeans: f.h5:" kslow.log && break; sleep 0.05; done
stall "$(rank_pids 1)"; sleep 2; kill $STALLER; wait $STALLER || true
pids=$(rank_pids 0 1)
kill -STOP $pids; sleep 15; kill -CONT $pids
rc=0; wait $JOB || rc=$?
[[ $rc -eq 0 && -f kslow.h5 ]] || { cat kslow.log; fail "a rank held 2 s, then the job suspended 15 s: rc $rc"; }
! grep -q "waited" kslow.log || { cat kslow.log; fail "a wait shorter than the limit ended the job"; }
pass "a rank held 2 s (limit 5 s), then the whole job suspended 15 s: the job finished"

# Bad values: one clear line and no hang, also when only one rank has it.
unset DISTCLUST_COLLECTIVE_TIMEOUT
rc=0; DISTCLUST_COLLECTIVE_TIMEOUT=0.5 timeout 60 $DC_MPIEXEC -n 2 "$DC" kmeans --features f.h5 --k 5 --out kb.h5 >bad.log 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat bad.log; fail "DISTCLUST_COLLECTIVE_TIMEOUT=0.5: rc $rc"; }
[[ $(grep -c "ERROR: DISTCLUST_COLLECTIVE_TIMEOUT='0.5' is not a number of seconds >= 1 (0 = no limit)" bad.log) == 1 ]] ||
  { cat bad.log; fail "DISTCLUST_COLLECTIVE_TIMEOUT=0.5: not one clear error"; }
rc=0; timeout 60 $DC_MPIEXEC -n 2 sh -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export DISTCLUST_COLLECTIVE_TIMEOUT=abc; exec "$0" "$@"' \
  "$DC" kmeans --features f.h5 --k 5 --out kb.h5 >one.log 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat one.log; fail "DISTCLUST_COLLECTIVE_TIMEOUT=abc on rank 1: rc $rc (124: hung)"; }
grep -q "DISTCLUST_COLLECTIVE_TIMEOUT='abc' is not a number of seconds" one.log ||
  { cat one.log; fail "DISTCLUST_COLLECTIVE_TIMEOUT=abc on rank 1: cause not said"; }
[[ ! -e kb.h5 ]] || fail "a job refused for its collective timeout wrote its output"
pass "DISTCLUST_COLLECTIVE_TIMEOUT=0.5, and =abc on one rank only, refused with a clear line"
