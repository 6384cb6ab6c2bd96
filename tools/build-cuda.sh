#!/usr/bin/env bash
# The CUDA build (README "GPU build"): distclust against PyTorch's CUDA
# LibTorch and NCCL, both from PyPI wheels, into build-cuda/.
#
#   tools/build-cuda.sh [extra cmake args]
#
# 1. A virtual environment .venv-cuda (ignored) with torch==$TORCH_VERSION
#    (PyPI's 2.11.0 is the CUDA 13.0 build; it pulls the nvidia-* runtime
#    wheels: cuBLAS, cuDNN, NCCL, ...). Skipped when it already holds it.
#    PYTHON=/path/to/python3 with a CUDA torch already installed (a GPU
#    node's image) skips the venv: its torch and nvidia-nccl are used.
# 2. cmake with CMAKE_PREFIX_PATH = torch.utils.cmake_prefix_path and
#    NCCL_ROOT = the wheel's nvidia/nccl (include/, lib/libnccl.so.2): the
#    distclust binary links the same libnccl.so.2 as libtorch_cuda.so, so a
#    process holds one NCCL (not the wheel's and /usr/local's side by side).
# 3. cmake --build. The binary and plugin carry RPATHs to torch/lib and the
#    wheel's NCCL: they run without LD_LIBRARY_PATH (libtorch_cuda.so finds
#    the other nvidia-* wheels through its own RPATH).
#
# Needs: the CUDA toolkit (nvcc; LibTorch's CMake files look for it, and its
# major version must match torch's, 13 for 2.11), the Debian packages of
# tools/setup-debian.sh, network access to PyPI for step 1 (~3 GB download,
# 4.6 GB installed). Compiles and links on a machine without a GPU.
# Env: DISTCLUST_BUILD_DIR (default build-cuda), VENV (default .venv-cuda),
# TORCH_VERSION (default 2.11.0), PYTHON (see 1.), JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${DISTCLUST_BUILD_DIR:-$root/build-cuda}"
venv="${VENV:-$root/.venv-cuda}"
torch_version="${TORCH_VERSION:-2.11.0}"
export CCACHE_BASEDIR="$root"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
t0=$(date +%s)

if [[ -n "${PYTHON:-}" ]]; then
  py="$PYTHON"
else
  py="$venv/bin/python3"
  if ! "$py" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
    echo "build-cuda: installing torch==$torch_version (CUDA) and nvidia-nccl into $venv"
    [[ -x "$py" ]] || /usr/bin/python3 -m venv "$venv"
    "$py" -m pip install --no-cache-dir -q "torch==$torch_version" nvidia-nccl-cu13
  fi
fi
t1=$(date +%s)

# What the wheel gives: its CMake prefix, whether it is a CUDA build, NCCL.
read -r torch_prefix torch_cuda nccl_root < <(PYTHONWARNINGS=ignore "$py" - 2>/dev/null <<'PY'
import os, torch
try:
    import nvidia.nccl as n
    nccl = os.path.dirname(n.__file__) if getattr(n, "__file__", None) else list(n.__path__)[0]
except ImportError:
    nccl = "-"
print(torch.utils.cmake_prefix_path, torch.version.cuda or "-", nccl)
PY
)
if [[ "$torch_cuda" == "-" ]]; then
  echo "build-cuda: $py has torch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null), a CPU-only build" >&2
  exit 1
fi
nccl_args=()
if [[ "$nccl_root" != "-" && -e "$nccl_root/include/nccl.h" ]]; then
  nccl_args=(-DNCCL_ROOT="$nccl_root")
else
  echo "build-cuda: no nvidia-nccl wheel beside torch: the NCCL communicator uses the CUDA toolkit's NCCL, if any" >&2
fi
echo "build-cuda: torch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null) (CUDA $torch_cuda), prefix $torch_prefix"
echo "build-cuda: NCCL ${nccl_root}"

mkdir -p "$build"
# TorchConfig.cmake's find_library() calls for libtorch.so and libc10.so
# search the system's folders first (Debian's libtorch-dev has both): name
# the wheel's.
torch_lib=$(cd "$torch_prefix/../../lib" && pwd)
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DTORCH_LIBRARY="$torch_lib/libtorch.so" -Dc10_LIBRARY="$torch_lib/libc10.so" \
  "${nccl_args[@]}" "$@" > "$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
grep -E '^-- distclust:|^-- Found CUDA|^CMake Warning' "$build/configure.log" || true
cmake --build "$build" -j "${JOBS:-$(nproc)}"
t2=$(date +%s)
echo "build-cuda: $build/src/cli/distclust (venv $((t1 - t0)) s, configure+build $((t2 - t1)) s)"
