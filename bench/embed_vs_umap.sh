#!/usr/bin/env bash
# distclust embed against umap-learn on the same rows and kNN graph.
# Usage: bench/embed_vs_umap.sh [N] [WORKDIR]   (default N = 1000000)
# Synthetic features (synth features: N x 32, 20 classes on the sphere),
# an IVF k=15 cosine graph, then for D = 2 and 10: distclust embed under
# mpirun -np 1 and -np 2, and umap-learn (venv made here, outside the repo)
# on the same graph; trustworthiness@15 on 10,000 sampled rows and k-means
# ACC of each embedding. SKIP_UMAP=1 skips umap-learn (then no venv is made
# and nothing is installed: the scores use PYTHON, default /usr/bin/python3
# with numpy, h5py, scipy, scikit-learn); DIMS="2 10" and NPS="1 2" choose
# the runs. Env: DC (binary), UMAP_VENV (default /tmp/umap-venv: made with
# `pip install umap-learn` when it has no python; one that cannot import
# umap stops the script). f.h5 and knn.h5 in WORKDIR are reused when f.h5
# has N rows; each run's embedding (e<D>-np<P>.h5, u<D>.npy) is deleted
# before the run. Any failed step (distclust or umap-learn) stops the script
# with its command and log; no time or score is printed for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
N=${1:-1000000}
W=${2:-/tmp/embed-bench-$N}
DC=${DC:-$here/../build/src/cli/distclust}
VENV=${UMAP_VENV:-/tmp/umap-venv}
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none"
mkdir -p "$W" && cd "$W"
if [[ -z ${SKIP_UMAP:-} ]]; then
  if [[ ! -x $VENV/bin/python ]]; then
    logged venv.log /usr/bin/python3 -m venv --system-site-packages "$VENV"
    logged pip.log "$VENV/bin/pip" install -q umap-learn
  fi
  "$VENV/bin/python" -c "import umap" 2>/dev/null || {
    echo "embed_vs_umap: $VENV/bin/python cannot import umap (pip install umap-learn there, set UMAP_VENV," \
      "or SKIP_UMAP=1 to leave umap-learn out)" >&2
    exit 1
  }
  PY=$VENV/bin/python
else
  PY=${PYTHON:-/usr/bin/python3}
  echo "umap-learn skipped (SKIP_UMAP=1)"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB"
rows=$([[ -s f.h5 ]] && "$PY" -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r')['/features'].shape[0])" f.h5 2>/dev/null || echo 0)
if [[ $rows != "$N" ]]; then  # missing, unreadable or another N: both made afresh
  rm -f f.h5 knn.h5
  logged synth.log "$DC" synth features --n "$N" --d 32 --k 20 --noise 0.9 --seed 3 --out f.h5
  tail -1 synth.log
fi
if [[ ! -s knn.h5 ]]; then
  logged knn.log "$DC" knn --features f.h5 --k 15 --mode ivf --out knn.h5
  grep -E "search|wrote" knn.log
fi
for D in ${DIMS:-2 10}; do
  for np in ${NPS:-1 2}; do
    wait_quiet 120 1.0
    rm -f "e$D-np$np.h5"
    logged "embed-$D-np$np.log" /usr/bin/time -f "distclust np=$np D=$D: %e s wall, %M KB max RSS per rank" \
      $MPI -np $np "$DC" embed --features f.h5 --knn knn.h5 --dim $D --out e$D-np$np.h5 --checkpoint-every 0
    grep -E "embed: (wrote|.*symmetric)|wall" "embed-$D-np$np.log"
    logged "score-e$D-np$np.log" "$PY" "$here/embed_umap_peer.py" score f.h5 e$D-np$np.h5
    cat "score-e$D-np$np.log"
  done
  if [[ -z ${SKIP_UMAP:-} ]]; then
    wait_quiet 120 1.0
    rm -f "u$D.npy"
    logged "umap-$D.log" /usr/bin/time -f "umap-learn D=$D: %e s wall, %M KB max RSS" \
      "$VENV/bin/python" "$here/embed_umap_peer.py" umap f.h5 knn.h5 $D u$D.npy
    tr "\r" "\n" <"umap-$D.log" | grep -E "^umap-learn|wall"
    logged "score-u$D.log" "$PY" "$here/embed_umap_peer.py" score f.h5 u$D.npy
    cat "score-u$D.log"
  fi
done
