#!/usr/bin/env bash
# kill -9 of one rank in each stage of the ImageNet-size rehearsal, then the
# same command again: the job must end within seconds of the kill, the rerun
# must resume (kmeans: iteration checkpoint; knn exact: ring steps; scan:
# epochs; knn IVF restarts from scratch) and its output must equal, dataset
# by dataset, the output of a run that was never killed.
#   bench/rehearsal_kill.sh           in WORK (default: a temp dir)
# Env: N (1281167), D (512), WORK, DISTCLUST, EPOCHS (SCAN epochs, 1),
# STAGES ("kmeans knn scan"), KILL_AT (fraction of the uninterrupted wall
# time at which rank 1 is killed, 0.7), KILL_WHEN_<stage> (kill instead once
# the stage's log matches this extended regex, e.g. KILL_WHEN_kmeans='[4-9]/25
# iterations': after its checkpoints began). The rank killed is looked for
# only below the launcher this script started (never another job's rank on
# the machine); when none is there, the script stops its job and fails.
# Uses bench/imagenet_rehearsal.sh's file names, so a WORK left by it is
# reused (its outputs are the references).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
N=${N:-1281167}; D=${D:-512}; EPOCHS=${EPOCHS:-1}; KILL_AT=${KILL_AT:-0.7}
STAGES=${STAGES:-kmeans knn scan}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/rehearsal-kill.XXXXXX")}
cd "$WORK"
MPI=("$ROOT/launch/distclust-mpirun" -np 2)
PY=/usr/bin/python3

args_of() {  # the stage's arguments, output $2
  case $1 in
    kmeans) echo "kmeans --features f.h5 --k 1000 --spherical --init kmeans-parallel --seed 1 --out $2" ;;
    knn) echo "knn --features f.h5 --k 20 --mode ivf --recall-sample 2000 --out $2" ;;
    scan) echo "scan --features f.h5 --knn knn.h5 --clusters 1000 --head mlp --epochs $EPOCHS --out $2" ;;
  esac
}
ref_of() { case $1 in kmeans) echo kmeans.h5 ;; knn) echo knn.h5 ;; scan) echo scan.h5 ;; esac; }

[[ -e f.h5 ]] || "${MPI[@]}" "$BIN" synth features --n "$N" --d "$D" --k 1000 --noise 1.0 --seed 7 --half --out f.h5 >synth.log 2>&1

# descendants PID: the pids of every process below PID (children, theirs, ...).
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done
}
# rank_pid R LAUNCHER: the pid of rank R (its OMPI_COMM_WORLD_RANK) of the job
# this script started as process LAUNCHER: only a process named distclust
# below LAUNCHER qualifies, never another job's rank on the same machine.
# Prints nothing when there is none.
rank_pid() {
  local want=$1 launcher=$2 p
  for p in $(descendants "$launcher"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == distclust ]] || continue
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$want"; then echo "$p"; return; fi
  done
}

if [[ ! -s kill-table.md ]]; then  # a second run (other STAGES) adds rows
  echo "| stage | uninterrupted s | killed rank 1 at s | job ended after kill, s | rerun s | rerun resumed | output identical |" | tee kill-table.md
  echo "|---|---:|---:|---:|---:|---|---|" | tee -a kill-table.md
fi
for stage in $STAGES; do
  ref=$(ref_of "$stage")
  if [[ ! -e $ref || ! -e $ref.seconds ]]; then
    t0=$(date +%s.%N)
    "${MPI[@]}" "$BIN" $(args_of "$stage" "$ref") >"$stage-ref.log" 2>&1
    echo "$(date +%s.%N) - $t0" | bc >"$ref.seconds"
  fi
  full=$(cat "$ref.seconds")
  out=killed-$ref
  rm -rf "$out" "$out".ckpt*
  at=$(echo "$full * $KILL_AT" | bc)
  t0=$(date +%s.%N)
  "${MPI[@]}" "$BIN" $(args_of "$stage" "$out") >"$stage-killed.log" 2>&1 &
  job=$!
  when_var=KILL_WHEN_$stage
  if [[ -n ${!when_var:-} ]]; then  # kill on a log line, not at a time
    until grep -Eq "${!when_var}" "$stage-killed.log" 2>/dev/null; do
      sleep 1
      kill -0 "$job" 2>/dev/null || { echo "$stage ended before '${!when_var}'"; exit 1; }
    done
    at=$(echo "$(date +%s.%N) - $t0" | bc)
  else
    sleep "$at"
  fi
  pid=$(rank_pid 1 "$job")
  if [[ -z $pid ]]; then
    echo "$stage: no rank 1 (a distclust with OMPI_COMM_WORLD_RANK=1) below this script's launcher (pid $job);" \
      "stopping its job and this script (log: $WORK/$stage-killed.log)" >&2
    kill $(descendants "$job") "$job" 2>/dev/null || true
    wait "$job" || true
    exit 1
  fi
  kill -9 "$pid"
  tk=$(date +%s.%N)
  if wait "$job"; then echo "$stage: the job exited 0 after its rank was killed"; exit 1; fi
  ended=$(echo "$(date +%s.%N) - $tk" | bc)
  [[ ! -e $out ]] || { echo "$stage: an output exists after the kill"; exit 1; }
  t1=$(date +%s.%N)
  "${MPI[@]}" "$BIN" $(args_of "$stage" "$out") >"$stage-rerun.log" 2>&1
  rerun=$(echo "$(date +%s.%N) - $t1" | bc)
  resumed=$(grep -m1 -o "resuming from[^,;]*" "$stage-rerun.log" || echo "no (started afresh)")
  same=$($PY - "$ref" "$out" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
diff = [n for n in names if n not in b or not np.array_equal(a[n][()], b[n][()])]
print(f"yes ({len(names)} datasets)" if not diff else "NO: " + ", ".join(diff))
PY
)
  printf "| %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n" "$stage" "$full" "$at" "$ended" "$rerun" "$resumed" "$same" | tee -a kill-table.md
done
echo "N=$N D=$D; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; work in $WORK"
