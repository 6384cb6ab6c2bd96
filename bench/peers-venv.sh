#!/usr/bin/env bash
# The peers in their best configuration, from PyPI (pinned): FAISS's
# faiss-cpu (its AVX2/AVX-512 build; Debian's python3-faiss 1.7.3 is a
# GENERIC build without SIMD, 1.6x slower in k-means here), scikit-learn,
# umap-learn (numba), with numpy, h5py, threadpoolctl. The bench scripts use
# this venv when it exists (bench/.venv-peers), else Debian's /usr/bin/python3,
# and say which FAISS they timed.
# Usage: bench/peers-venv.sh [VENV]   (default bench/.venv-peers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/bench/.venv-peers}
py=${PYTHON:-python3}
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q faiss-cpu==1.15.1 scikit-learn==1.9.1 umap-learn==0.5.12 h5py numpy threadpoolctl
"$venv/bin/python" -c "import faiss, sklearn, umap, h5py; print('peers venv', '$venv:', 'faiss', faiss.__version__, \
'sklearn', sklearn.__version__, 'umap-learn', umap.__version__)"
