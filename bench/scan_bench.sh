#!/usr/bin/env bash
# SCAN training speed: epoch time and rows/s at N rows x D dims for C = 10 and
# C = 1000 clusters, on 1 and 2 ranks (bench/RESULTS-scan.md holds the figures).
#
#   bench/scan_bench.sh [N D EPOCHS]      defaults 1000000 256 1
#   CLUSTERS="1000" BATCHES="256 1024" bench/scan_bench.sh   (subsets; defaults "10 1000", "256")
#
# Data: `distclust synth features` (N x D, 100 classes) and a synthetic
# knn.h5 of k=20 random neighbours per row (never the row itself): timing
# only, the neighbours carry no meaning, so the heads learn nothing; the
# work per step is the same as on real data. Every run: 10 linear heads
# (--head linear, given: the default head became mlp after these figures were
# taken, and this script then measured MLP heads without saying so), batch 256 (or BATCHES), replicated neighbour features (N*D*4 fits the
# 2 GiB default budget), checkpoints off, --min-steps 0 (EPOCHS epochs run
# exactly: scan's default min_steps would add epochs on a small N); plus one
# exchange-mode run at P=2. The per-phase times come from the epoch log line
# of rank 0; a run whose log lacks them stops the script with the log.
#
# Env: DISTCLUST (binary), HEAD (default linear: scan.head of every run),
# PYTHON (default /usr/bin/python3: numpy, h5py),
# MPIEXEC (default "mpiexec --oversubscribe --bind-to none", plus
# --allow-run-as-root as root), KEEP_TMP=1 keeps the data folder,
# WAIT_QUIET (default 300): seconds to wait at most for the 1-minute load
# average to drop below 0.5 before each timed run (other jobs on the
# machine distort the figures; the load is printed with each row).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=${PYTHON:-/usr/bin/python3}
N=${1:-1000000}
D=${2:-256}
EPOCHS=${3:-1}
WAIT_QUIET=${WAIT_QUIET:-300}
MPI=${MPIEXEC:-mpiexec --oversubscribe --bind-to none}
[[ $(id -u) == 0 && -z ${MPIEXEC:-} ]] && MPI="$MPI --allow-run-as-root"
export OMP_WAIT_POLICY=PASSIVE
TMP=$(mktemp -d /tmp/scan-bench.XXXXXX)
[[ ${KEEP_TMP:-0} == 1 ]] || trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

echo "data: $N x $D synthetic features + random k=20 knn.h5 in $TMP" >&2
"$BIN" synth features --n "$N" --d "$D" --k 100 --noise 1.0 --seed 1 --out f.h5 >/dev/null
"$PY" - "$N" <<'PY'
import sys, os, h5py, numpy as np
N, k = int(sys.argv[1]), 20
rng = np.random.default_rng(0)
idx = rng.integers(0, N - 1, size=(N, k), dtype=np.int64)
idx += idx >= np.arange(N)[:, None]  # skip the row itself
with h5py.File("knn.h5.tmp", "w") as f:
    f.create_dataset("indices", data=idx, chunks=(min(N, 16384), k))
    f.create_dataset("similarities", data=np.zeros((N, k), np.float32), chunks=(min(N, 16384), k))
    f.attrs["stage"] = "knn"
os.replace("knn.h5.tmp", "knn.h5")
PY


echo "| C | batch | ranks x threads | neighbour rows | epoch s | rows/s | gather s | forward s | backward s | allreduce s | adam s | load before |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
find_line() {  # the line of log.txt holding $1, or the log and a message, then stop
  grep -F -- "$1" log.txt && return
  { cat log.txt; echo "scan_bench: no line '$1' in the log of this run (above); stopping"; } >&2
  exit 1
}
run() {  # run C BATCH NP [extra args...]
  local c=$1 batch=$2 np=$3; shift 3
  wait_quiet "$WAIT_QUIET" 0.5
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  $MPI -n "$np" "$BIN" scan -v --features f.h5 --knn knn.h5 --clusters "$c" --batch "$batch" --epochs "$EPOCHS" --no-checkpoint \
    --head "${HEAD:-linear}" --min-steps 0 --out s.h5 "$@" >log.txt 2>&1 || { cat log.txt >&2; exit 1; }
  local mode threads line phases
  mode=$(grep -q "exchanged each epoch" log.txt && echo exchange || echo replicate)
  threads=$(grep -o "ranks x [0-9]* threads" log.txt | head -1 | awk '{print $3}')
  line=$(find_line "scan: epoch $EPOCHS/$EPOCHS:")
  phases=$(find_line "scan: epoch $EPOCHS time on this rank")
  local secs rps g f b a m
  secs=$(sed -E 's/.* steps, ([0-9.e+-]+) s, .*/\1/' <<<"$line")
  rps=$(sed -E 's/.* s, ([0-9.e+-]+) rows\/s.*/\1/' <<<"$line")
  read -r g f b a m < <(sed -E 's/.*gather ([0-9.e+-]+) s, forward ([0-9.e+-]+) s, backward ([0-9.e+-]+) s, allreduce ([0-9.e+-]+) s, adam ([0-9.e+-]+) s.*/\1 \2 \3 \4 \5/' <<<"$phases")
  printf "| %s | %s | %s x %s | %s | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n" \
    "$c" "$batch" "$np" "$threads" "$mode" "$secs" "$rps" "$g" "$f" "$b" "$a" "$m" "$load"
}
for c in ${CLUSTERS:-10 1000}; do
  for b in ${BATCHES:-256}; do
    run "$c" "$b" 1
    run "$c" "$b" 2
  done
done
b0=${BATCHES:-256}
if [[ " ${CLUSTERS:-10 1000} " == *" 10 "* ]]; then run 10 "${b0%% *}" 2 --neighbour-features exchange; fi
