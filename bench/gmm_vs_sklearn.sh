#!/usr/bin/env bash
# distclust gmm vs scikit-learn GaussianMixture: time per EM iteration on
# N x D with K components (default 100,000 x 10, K=10), full and diag, from
# the same start (a kmeans.h5's assignment M-stepped; distclust
# --init-iters 0), tol=0, ITERS iterations each; distclust on 1 rank x 2
# threads and 2 ranks x 1 thread, sklearn with 2 BLAS threads. Also prints
# both final mean log-likelihoods (they agree to rounding).
# Usage: bench/gmm_vs_sklearn.sh [N] [D] [K] [ITERS]   (build first; results: bench/RESULTS.md)
# ITERS >= 1 (at 1 sklearn's marginal s/iter is n/a). Env: DC (binary),
# PYTHON (scikit-learn, h5py; default bench/.venv-peers/bin/python from
# bench/peers-venv.sh, else Debian's /usr/bin/python3).
# A command that fails stops the script with its output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
dc=${DC:-$root/build/src/cli/distclust}
n=${1:-100000} d=${2:-10} k=${3:-10} iters=${4:-20}
[[ $iters =~ ^[0-9]+$ ]] && (( iters >= 1 )) || { echo "gmm_vs_sklearn: ITERS must be an integer >= 1, not '$iters'" >&2; exit 2; }
py=${PYTHON:-/usr/bin/python3}
[[ -z ${PYTHON:-} && -x $root/bench/.venv-peers/bin/python ]] && py=$root/bench/.venv-peers/bin/python
work=$(mktemp -d /tmp/gmm-bench.XXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mpi=(mpirun --oversubscribe --bind-to none)
[[ $(id -u) == 0 ]] && mpi+=(--allow-run-as-root)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "$(grep -o -m1 'avx512f' /proc/cpuinfo || echo 'no avx512'), $(date -u +%F)"
logged synth.log "$dc" synth features --n "$n" --d "$d" --k "$k" --noise 0.6 --seed 3 --out f.h5
logged kmeans.log "$dc" kmeans --features f.h5 --k "$k" --seed 1 --out km.h5
wait_quiet 60 1.0
for cov in full diag; do
  args=(gmm --features f.h5 --k "$k" --covariance $cov --init-centroids km.h5 --init-iters 0 --tol 0
        --iters "$iters" --no-checkpoint)
  for layout in "1 2" "2 1"; do
    read -r np th <<<"$layout"
    logged gmm.log "${mpi[@]}" -n "$np" "$dc" "${args[@]}" --threads "$th" --out g-$cov.h5
    line=$(grep "gmm: wrote" gmm.log) || { cat gmm.log >&2; echo "gmm_vs_sklearn: no 'gmm: wrote' line in the log (above)" >&2; exit 1; }
    echo "distclust $cov, $np rank(s) x $th thread(s): $(sed 's/.*after/after/' <<<"$line")"
  done
  logged sklearn.log env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$py" "$root/bench/gmm_sklearn.py" \
    f.h5 km.h5 g-$cov.h5 "$iters"
  cat sklearn.log
done
