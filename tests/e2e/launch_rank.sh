#!/usr/bin/env bash
# launch/distclust-rank: the per-rank environment from Open MPI / Slurm
# variables, on nodes with and without GPUs. Each case runs the launcher in
# a clean environment and prints what it set.
source "$(dirname "$0")/lib.sh"
R="$DC_SOURCE/launch/distclust-rank"
cores=$(nproc)
mkdir -p none two
# nvidia-smi on a node without a GPU or driver exits 6 (or 9): once this
# ended every rank silently (set -e -o pipefail); now: no GPU, the rank runs.
printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' > none/nvidia-smi
printf '#!/bin/sh\necho "GPU 0: X (UUID: a)"\necho "GPU 1: X (UUID: b)"\n' > two/nvidia-smi
chmod +x none/nvidia-smi two/nvidia-smi
show='echo "threads=$DISTCLUST_THREADS gpu=${CUDA_VISIBLE_DEVICES-none}"'
run() { env -i HOME="$HOME" PATH="$1:/usr/bin:/bin" "${@:2}" bash "$R" bash -c "$show"; }
expect() {  # expect WANT OUTPUT
  [[ "$2" == "$1" ]] || fail "wanted '$1', got '$2'"
  echo "ok: $1"
}
expect "threads=$cores gpu=none" "$(run "$PWD/none")"
expect "threads=$cores gpu=1" "$(run "$PWD/two" OMPI_COMM_WORLD_LOCAL_RANK=3)"
expect "threads=$cores gpu=7" "$(run "$PWD/two" OMPI_COMM_WORLD_LOCAL_RANK=3 CUDA_VISIBLE_DEVICES=7)"  # kept
# Ranks per node from Slurm's list when --ntasks-per-node was not given
# (srun always sets it): 2 on each of nodes 0-2, 1 on node 3. Only an
# unbound rank (it sees all cores) divides them.
half=$(( cores / 2 > 0 ? cores / 2 : 1 ))
(( cores >= $(nproc --all) )) || half=$cores  # this process is bound: no division
expect "threads=$half gpu=none" "$(run /nonexistent SLURM_LOCALID=0 SLURM_TASKS_PER_NODE='2(x3),1' SLURM_NODEID=1)"
expect "threads=$cores gpu=none" "$(run /nonexistent SLURM_LOCALID=0 SLURM_TASKS_PER_NODE='2(x3),1' SLURM_NODEID=3)"
expect "threads=$half gpu=none" "$(run /nonexistent SLURM_LOCALID=1 SLURM_STEP_TASKS_PER_NODE=2 SLURM_TASKS_PER_NODE=5)"
expect "threads=3 gpu=none" "$(run /nonexistent SLURM_LOCALID=0 SLURM_TASKS_PER_NODE=2 SLURM_CPUS_PER_TASK=3)"
expect "threads=5 gpu=none" "$(run /nonexistent SLURM_CPUS_PER_TASK=3 OMP_NUM_THREADS=5,2)"
# A garbled variable is said and does not stop the rank.
out=$(run /nonexistent OMPI_COMM_WORLD_LOCAL_SIZE=abc 2>&1)
[[ $out == *"OMPI_COMM_WORLD_LOCAL_SIZE='abc' is not a count; using 1"* && $out == *"threads=$cores"* ]] ||
  fail "garbled local size: $out"
out=$(run /nonexistent SLURM_CPUS_PER_TASK=4x 2>&1)
[[ $out == *"SLURM_CPUS_PER_TASK='4x' is not a count; using $cores"* && $out == *"threads=$cores"* ]] ||
  fail "garbled SLURM_CPUS_PER_TASK: $out"
expect "threads=3 gpu=none" "$(run /nonexistent SLURM_CPUS_PER_TASK=3)"
# Under mpirun on a GPU-less node with nvidia-smi installed, a stage runs.
PATH="$PWD/none:$PATH" $DC_MPIEXEC -n 2 -x PATH "$R" "$DC" synth features --n 200 --d 4 --k 2 --out f.h5 >synth.txt 2>&1 ||
  { cat synth.txt; fail "mpirun through distclust-rank with a failing nvidia-smi"; }
[[ -f f.h5 ]] || fail "no output"
pass "distclust-rank: GPUs, ranks per node, threads"
