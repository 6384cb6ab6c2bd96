#!/usr/bin/env bash
# k-means++ initialisation against Lloyd iterations on 1 and 2 ranks:
#   bench/kmeans_init_scaling.sh [N D K]      defaults 200000 256 1000
# Runs `distclust bench kmeans` (which times the greedy k-means++ seeding of
# kmeans_pp.h alone, beside the Lloyd iterations) as 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread, and prints one table. On a
# machine with C cores, ranks x threads <= C keeps the comparison fair.
# A command that fails stops the script with its output (e.g. K > N).
# Env: DISTCLUST (binary), TMPDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
source "$ROOT/bench/lib.sh"
N=${1:-200000}; D=${2:-256}; K=${3:-1000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmeans-init.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
logged "$TMP/synth.log" "$BIN" synth features --n "$N" --d "$D" --k 100 --noise 0.5 --seed 1 --out "$TMP/f.h5"
run() {  # ranks threads
  logged "$TMP/r$1t$2.log" "$ROOT/launch/distclust-mpirun" -np "$1" "$BIN" bench kmeans --features "$TMP/f.h5" \
    --k "$K" --iters 4 --no-sgemm --threads "$2" --json "$TMP/r$1t$2.json"
}
echo "| ranks x threads | Lloyd s/iter (median) | k-means++ init s | init / iteration |"
echo "|---|---:|---:|---:|"
for rt in "1 1" "1 2" "2 1"; do
  set -- $rt
  run "$1" "$2"
  /usr/bin/python3 -c "
import json; j = json.load(open('$TMP/r$1t$2.json'))
print(f\"| $1 x $2 | {j['sec_per_iter_median']:.3f} | {j['kmeanspp_init_seconds']:.2f} | {j['init_over_iteration']:.2f} |\")"
done
echo
echo "N=$N D=$D K=$K; $(awk -F: '/model name/{gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
