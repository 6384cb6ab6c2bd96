#!/usr/bin/env bash
# distclust embed against umap-learn on the same rows and kNN graph.
# Usage: bench/embed_vs_umap.sh [N] [WORKDIR]   (default N = 1000000)
# Synthetic features (synth features: N x 32, 20 classes on the sphere),
# an IVF k=15 cosine graph, then for D = 2 and 10: distclust embed under
# mpirun -np 1 and -np 2, and umap-learn (venv made here, outside the repo)
# on the same graph; trustworthiness@15 on 10,000 sampled rows and k-means
# ACC of each embedding. SKIP_UMAP=1 skips umap-learn; DIMS="2 10" and
# NPS="1 2" choose the runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
N=${1:-1000000}
W=${2:-/tmp/embed-bench-$N}
DC=${DC:-$here/../build/src/cli/distclust}
VENV=${UMAP_VENV:-/tmp/umap-venv}
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none"
mkdir -p "$W" && cd "$W"
if [[ ! -x $VENV/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q umap-learn
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB"
[[ -s f.h5 ]] || $DC synth features --n "$N" --d 32 --k 20 --noise 0.9 --seed 3 --out f.h5 2>&1 | tail -1
[[ -s knn.h5 ]] || $DC knn --features f.h5 --k 15 --mode ivf --out knn.h5 2>&1 | grep -E "search|wrote"
for D in ${DIMS:-2 10}; do
  for np in ${NPS:-1 2}; do
    wait_quiet 120 1.0
    /usr/bin/time -f "distclust np=$np D=$D: %e s wall, %M KB max RSS per rank" \
      $MPI -np $np "$DC" embed --features f.h5 --knn knn.h5 --dim $D --out e$D-np$np.h5 --checkpoint-every 0 \
      2>&1 | grep -E "embed: (wrote|.*symmetric)|wall"
    "$VENV/bin/python" "$here/embed_umap_peer.py" score f.h5 e$D-np$np.h5
  done
  if [[ -z ${SKIP_UMAP:-} ]]; then
    wait_quiet 120 1.0
    /usr/bin/time -f "umap-learn D=$D: %e s wall, %M KB max RSS" \
      "$VENV/bin/python" "$here/embed_umap_peer.py" umap f.h5 knn.h5 $D u$D.npy 2>&1 | tr "\r" "\n" | grep -E "^umap-learn|wall" || true
    "$VENV/bin/python" "$here/embed_umap_peer.py" score f.h5 u$D.npy
  fi
done
