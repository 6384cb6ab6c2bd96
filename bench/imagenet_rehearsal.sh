#!/usr/bin/env bash
# An ImageNet-size rehearsal on one machine: 1,281,167 rows x 512 float16
# synthetic features (K=1000 planted centres), through the job's stages under
# mpirun -np 2, each stage under /usr/bin/time -v per rank (wall time, peak
# RSS of each rank), then recall@20 of the IVF graph and ACC/NMI against the
# planted labels.
#   bench/imagenet_rehearsal.sh [SCAN_EPOCHS]      default 1 (seconds/epoch)
# SCAN_EPOCHS is what scan is asked for; scan extends the epochs until its
# --min-steps (500 optimiser steps) have run, which matters only at a small N
# (at 1,281,167 rows one epoch is ~5,000 steps): the epochs it ran are read
# from scan.log and printed beside the scan scores.
# Env: N (1281167), D (512), NOISE (1.0), WORK (folder, default a temp dir),
# DISTCLUST (binary), FROM=STAGE (in an existing WORK: skip the stages
# before STAGE, whose outputs are there). Needs ~3 GB of disk and ~2 x 3 GiB of memory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
N=${N:-1281167}; D=${D:-512}; NOISE=${NOISE:-1.0}; EPOCHS=${1:-1}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/rehearsal.XXXXXX")}
cd "$WORK"
MPI=("$ROOT/launch/distclust-mpirun" -np 2)
FROM=${FROM:-synth}; started=0
stage() {  # stage NAME args...: time and peak RSS per rank
  local name=$1; shift
  [[ $name == "$FROM" ]] && started=1
  (( started )) || return 0
  local t0; t0=$(date +%s.%N)
  "${MPI[@]}" bash -c 'exec /usr/bin/time -v -o "time-$0-$OMPI_COMM_WORLD_RANK.txt" "$@"' "$name" "$BIN" "$@" \
    >"$name.log" 2>&1 || {
    tail -20 "$name.log"; echo "FAILED: $name"; exit 1; }
  local t1; t1=$(date +%s.%N)
  local rss; rss=$(grep -h "Maximum resident" time-"$name"-*.txt 2>/dev/null | awk '{printf "%s%.2f", sep, $NF/1048576; sep=" / "}')
  printf "| %s | %.1f | %s |\n" "$name" "$(echo "$t1 - $t0" | bc)" "${rss:-?}" | tee -a table.md
}
if [[ $FROM == synth ]]; then
  echo "| stage | wall s | peak RSS per rank (GiB) |" | tee table.md
  echo "|---|---:|---|" | tee -a table.md
fi
stage synth synth features --n "$N" --d "$D" --k 1000 --noise "$NOISE" --seed 7 --half --out f.h5
stage kmeans kmeans --features f.h5 --k 1000 --spherical --init kmeans-parallel --seed 1 --out kmeans.h5
stage knn knn --features f.h5 --k 20 --mode ivf --recall-sample 2000 --out knn.h5
stage scan scan -v --features f.h5 --knn knn.h5 --clusters 1000 --head mlp --epochs "$EPOCHS" --out scan.h5
stage eval-kmeans eval --labels f.h5 --pred kmeans.h5 --out scores-kmeans.json
stage eval-scan eval --labels f.h5 --pred scan.h5 --out scores-scan.json
stage report report --features f.h5 --pred scan.h5 --out report
stage export export --features f.h5 --pred scan.h5 --out export
echo
grep -h -o "recall@20[^,]*" knn.log | tail -1 || true
echo "k-means: $(cat scores-kmeans.json)"
ran=$(grep -o "scan: epoch [0-9]*/[0-9]*:" scan.log | tail -1 | sed 's|.*/\([0-9]*\):|\1|' || true)
echo "scan (${ran:-?} epochs run, $EPOCHS asked): $(cat scores-scan.json)"
grep -h "epoch" scan.log | tail -2 || true
echo "N=$N D=$D noise=$NOISE; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; work in $WORK"
