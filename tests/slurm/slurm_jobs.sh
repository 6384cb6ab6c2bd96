#!/usr/bin/env bash
# A real one-node Slurm cluster (../shared/tools/slurm-local.sh): the demo job
# submitted with sbatch through slurm/distclust-1node.sbatch finishes with its
# outputs and scores; the requeue template, signalled part-way (USR1, as
# Slurm does before the time limit), requeues itself and the second start
# finishes from the checkpoints with the same outputs as an uninterrupted run;
# the K-sweep array template writes one kmeans-K<k>.h5 per array task.
set -euo pipefail
: "${DC_SOURCE:?}" "${DC:?}"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: slurm-local needs root"; exit 77; }
SLURM_LOCAL="$DC_SOURCE/../shared/tools/slurm-local.sh"
[[ -x "$SLURM_LOCAL" || -f "$SLURM_LOCAL" ]] || { echo "SKIP: $SLURM_LOCAL not found"; exit 77; }
PY=/usr/bin/python3
T="${DC_TMP:-/tmp/dc-slurm}"
rm -rf "$T" && mkdir -p "$T" && cd "$T"
export SB="$T/slurm" SLURM_CONF="$T/slurm/slurm.conf"
bash "$SLURM_LOCAL" up >up.log 2>&1 || { cat up.log; exit 1; }
trap 'bash "$SLURM_LOCAL" down >/dev/null 2>&1 || true' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export_env="ALL,OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1,DISTCLUST_ROOT=$DC_SOURCE"
small=(--ntasks-per-node=2 --cpus-per-task=1 --gpus-per-node=0)  # this node: 2 cores, no GPU
wait_job() {  # wait_job ID TIMEOUT [RESTARTS]: poll the job (sbatch --wait polls slowly)
  # Done in a terminal state reached after at least RESTARTS requeues:
  # around a requeue the job passes through states (and squeue can list
  # nothing) that a plain poll took for the end (seen twice in CI runs).
  local info state restarts
  for _ in $(seq "$2"); do
    info=$(scontrol show job "$1" 2>/dev/null || true)
    state=$(grep -o "JobState=[A-Z_]*" <<<"$info" | cut -d= -f2 || true)
    restarts=$(grep -o "Restarts=[0-9]*" <<<"$info" | cut -d= -f2 || true)
    if (( ${restarts:-0} >= ${3:-0} )); then
      case "$state" in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
        "") squeue -h -j "$1" 2>/dev/null | grep -q . || break ;;  # record gone and not queued
      esac
    fi
    sleep 1
  done
  scontrol show job "$1" 2>/dev/null | grep -o "ExitCode=[0-9:]*" || sacct -j "$1" 2>/dev/null | tail -1
}
cfg="$DC_SOURCE/configs/demo.yaml"

# 1. The demo job, end to end.
j=$(sbatch --parsable "${small[@]}" --output="$T/demo-%j.out" --export="$export_env" \
      "$DC_SOURCE/slurm/distclust-1node.sbatch" "$cfg" --set run.workdir="$T/demo")
echo "submitted demo job $j"
code=$(wait_job "$j" 240)
[[ "$code" == "ExitCode=0:0" ]] || { cat "$T/demo-$j.out"; fail "demo job $j: $code"; }
for f in features.h5 kmeans.h5 knn.h5 scan.h5 scores.json report/index.html export/assignments.csv; do
  [[ -e "$T/demo/$f" ]] || fail "demo job: $f missing"
done
acc=$($PY -c "import json; print(json.load(open('$T/demo/scores.json'))['acc'])")
$PY -c "import sys; sys.exit(0 if $acc >= 0.95 else 1)" || fail "demo ACC $acc < 0.95"
echo "PASS: demo job $j under Slurm: ACC $acc, all outputs present"

# 2. Choosing K with a job array on the demo's features: task i fits the
# i-th K; each file holds its K's fit and the inertia and silhouette a
# one-job sweep of the same Ks stores, bit for bit.
ks="5 10 20"
j=$(sbatch --parsable "${small[@]}" --array=0-2 --output="$T/ks-%A_%a.out" --export="$export_env" \
      "$DC_SOURCE/slurm/distclust-ksweep.sbatch" "$T/demo/features.h5" "$T/ks" "$ks")
echo "submitted K-sweep array job $j"
for _ in $(seq 240); do squeue -h -j "$j" 2>/dev/null | grep -q . || break; sleep 1; done
codes=$(scontrol show job "$j" | grep -o "ExitCode=[0-9:]*" | sort | uniq -c | xargs)
[[ "$codes" == "3 ExitCode=0:0" ]] || { cat "$T"/ks-*.out; fail "K-sweep array job $j: $codes"; }
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$DC_SOURCE/launch/distclust-mpirun" -np 2 "$DC" kmeans \
  --features "$T/demo/features.h5" --k "${ks// /,}" --out "$T/ks-ref.h5" >ks-ref.log 2>&1 || { cat ks-ref.log; fail "one-job sweep"; }
$PY - "$T" $ks <<'PY'
import sys, h5py, numpy as np
t, ks = sys.argv[1], [int(k) for k in sys.argv[2:]]
ref = h5py.File(f"{t}/ks-ref.h5", "r")
assert ref["sweep_k"][:].tolist() == ks
for i, k in enumerate(ks):
    f = h5py.File(f"{t}/ks/kmeans-K{k}.h5", "r")
    assert f["sweep_k"][:].tolist() == [k] and f.attrs["suggested_k"] == k, f"kmeans-K{k}.h5 is not a fit at K={k}"
    assert f["centroids"].shape[0] == k and f["assign"][:].max() < k, f"kmeans-K{k}.h5 has another K"
    for name in ("sweep_inertia", "sweep_silhouette"):
        assert f[name][0] == ref[name][i], f"K={k}: /{name} {f[name][0]} != {ref[name][i]} of the one-job sweep"
print("array tasks: " + ", ".join(f"K={k} silhouette {ref['sweep_silhouette'][i]:.4f}" for i, k in enumerate(ks)))
PY
for k in $ks; do  # the template's note: the K lines of the task logs
  grep -h "kmeans sweep: K=$k: inertia" "$T"/ks-"$j"_*.out | grep -q silhouette || fail "no log line for K=$k"
done
"$DC" eval --pred "$T/ks/kmeans-K10.h5" --labels "$T/demo/features.h5" | grep -q "^ACC" || fail "eval of kmeans-K10.h5"
# A task beyond the list stops with a message (no job step started).
if SLURM_ARRAY_TASK_ID=3 SLURM_SUBMIT_DIR="$DC_SOURCE" bash "$DC_SOURCE/slurm/distclust-ksweep.sbatch" \
     "$T/demo/features.h5" "$T/ks" "$ks" >ks-bad.log 2>&1; then fail "array task 3 of 3 Ks ran"; fi
grep -q "array task 3 has no K: the list '5 10 20' has 3" ks-bad.log || { cat ks-bad.log; fail "message"; }
echo "PASS: K-sweep array job $j: one file per K, the same figures as a one-job sweep"

# 3. Requeue: bigger run, signalled once the features exist.
args=(--set run.workdir="$T/rq" --set synth_images.per_class=600 --set kmeans.iters=60 --set kmeans.tol=0
      --set kmeans.restarts=6)
j=$(sbatch --parsable "${small[@]}" --output="$T/rq-%j.out" --export="$export_env" \
      "$DC_SOURCE/slurm/distclust-requeue.sbatch" "$cfg" "${args[@]}")
echo "submitted requeue job $j"
for _ in $(seq 240); do [[ -e "$T/rq/features.h5" ]] && break; sleep 0.5; done
[[ -e "$T/rq/features.h5" ]] || { cat "$T/rq-$j.out"; fail "job $j made no features"; }
[[ -e "$T/rq/scan.h5" ]] && fail "job finished before it could be signalled (make the workload bigger)"
scancel --signal=USR1 --batch "$j"   # what --signal=B:USR1@300 does before the limit
# Slurm holds a requeued job ~2 minutes before it may start again (and a
# requeue that lands while the job is completing can leave it held): until
# the second start prints its line, let a pending job start now and release
# a held one (the test is about resuming, not waiting). Only then poll for
# the end: between the requeue and that start the job passes through states
# that read as final even with Restarts=1.
out="$T/rq-$j.out"
for _ in $(seq 300); do
  grep -q "restart count 1" "$out" 2>/dev/null && break
  st=$(squeue -h -j "$j" -o "%T %r" 2>/dev/null || true)
  if [[ $st == PENDING* ]]; then
    [[ $st == *Held* ]] && { scontrol release "$j" 2>/dev/null || true; }
    scontrol update JobId="$j" StartTime=now 2>/dev/null || true
  fi
  sleep 1
done
grep -q "restart count 1" "$out" || { scontrol show job "$j"; cat "$out"; fail "the job did not start again"; }
code=$(wait_job "$j" 300 1)
grep -q "time limit near: requeueing job $j" "$out" || { cat "$out"; fail "the trap did not requeue"; }
grep -q "restart count 1" "$out" || { cat "$out"; fail "the job did not start again"; }
grep -q "extract: up to date" "$out" || { cat "$out"; fail "the restarted job redid finished stages"; }
[[ "$code" == "ExitCode=0:0" ]] || { cat "$out"; fail "requeued job: $code"; }
# Same outputs as an uninterrupted run of the same config.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$DC_SOURCE/launch/distclust-mpirun" -np 2 "$DC" run \
  --config "$cfg" "${args[@]}" --set run.workdir="$T/ref" >ref.log 2>&1 || { tail ref.log; fail "reference run"; }
$PY - "$T" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[1]
for f, ds in [("features.h5", "features"), ("kmeans.h5", "assign"), ("knn.h5", "indices"), ("scan.h5", "assign")]:
    a, b = h5py.File(f"{t}/rq/{f}")[ds][:], h5py.File(f"{t}/ref/{f}")[ds][:]
    assert np.array_equal(a, b), f"{f}:/{ds} differs between the requeued and the uninterrupted run"
print("requeued outputs identical to an uninterrupted run")
PY
echo "PASS: requeue job $j resumed and finished"

# 4. A requeue the site refuses (here --no-requeue): the signalled job runs
# on to its end (the script's wait, cut short by USR1, once ended it, and
# the batch script's exit stopped a healthy run 5 minutes early).
j=$(sbatch --parsable "${small[@]}" --no-requeue --output="$T/nrq-%j.out" --export="$export_env" \
      "$DC_SOURCE/slurm/distclust-requeue.sbatch" "$cfg" "${args[@]}" --set run.workdir="$T/nrq")
for _ in $(seq 240); do [[ -e "$T/nrq/features.h5" ]] && break; sleep 0.5; done
[[ -e "$T/nrq/features.h5" ]] || { cat "$T/nrq-$j.out"; fail "job $j made no features"; }
scancel --signal=USR1 --batch "$j"
code=$(wait_job "$j" 300)
out="$T/nrq-$j.out"
grep -q "requeue of job $j refused: the run goes on until the time limit" "$out" || { cat "$out"; fail "refused requeue not said"; }
[[ "$code" == "ExitCode=0:0" && -e "$T/nrq/scan.h5" ]] || { cat "$out"; fail "a refused requeue ended the run: $code"; }
echo "PASS: requeue refused (job $j): the run went on and finished"
