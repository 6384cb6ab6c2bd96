#!/usr/bin/env bash
# The one prepared command for a machine with an NVIDIA GPU and a CUDA
# PyTorch but no internet and no package access (e.g. an H200 node: Python
# 3.12, torch 2.11.0+cu130, the nvidia-nccl-cu13 wheel, nvcc 13, g++, cmake):
#
#   tools/gpu-check.sh              writes ${OUT:-./gpu-check-out}/results.md + gpu-check.log
#   tools/gpu-check.sh --no-gpu     every step on the CPU at tiny sizes (checks the plumbing here)
#   tools/gpu-check.sh --dry-run    prints the steps and their time limits, runs nothing
# Env: OUT, PYTHON (default python3: the one with the CUDA torch), DCB (where
# the bundle is unpacked, default /tmp/dcb), BUDGET (s, default 480),
# LIMIT_SCALE (step limits x this, default 1), WORK (scratch, default
# /tmp/gpu-check-work), DISTCLUST_BUILD_DIR (default build-gpu).
#
# Needs .gpu-bundle/deps.tar.xz (tools/gpu-bundle.sh, made on Debian 12 with
# package access): Open MPI, parallel HDF5, yaml-cpp, CLI11, OpenCV, Eigen,
# GoogleTest, OpenBLAS, unpacked to $DCB (default /tmp/dcb). distclust is
# built against the machine's own torch (torch.utils.cmake_prefix_path) and
# its nvidia-nccl wheel, into build-gpu/.
#
# Time: the whole script stays inside BUDGET seconds (default 480 = 8 min);
# each step runs under `timeout` with the smaller of its own limit and what
# is left, so a hung or slow step costs its limit only, and results.md is
# rewritten after every step (a step that fails or times out is recorded
# as such; the steps after it still run where they can). The set-up steps
# have room for a cold node (a first `import torch` reads GBs of libraries;
# no ccache): a check, configure or build cut short would leave no figures,
# while a late step squeezed loses one. Their expected times are far below
# the limits (build: ~470 CPU-s of 220 files, measured on this project's
# 2-core machine: ~60 s on 16 cores). Order and limits:
#   check       45 s  nvidia-smi (if any), torch.cuda, g++/cmake/glibc, the bundle
#   limits      30 s  bench/gpu_limits.py: GEMM fp32/tf32/bf16 8192^3, copy 4 GiB
#   unpack      20 s  .gpu-bundle -> $DCB (tar, or Python's tarfile without xz)
#   configure   45 s  cmake (Release, -march=native: built where it runs)
#   build      150 s  distclust and the torch plugin, -j nproc (the tests: in `tests`)
#   libs        10 s  ldd: nothing "not found", libraries by folder
#   kmeans      35 s  bench kmeans N=1,000,000 D=256 K=20,000, 25 iterations, fp32 products
#   kmeans-bf16 25 s  the same, bf16 products (each row's best 9 re-scored in fp32)
#   knn-bf16    35 s  bench knn N=1,281,167 D=512 k=20 (exact: bf16 products pick candidates, re-scored in fp32)
#   scan        55 s  synth N=1,281,167 x 512 + random knn, 1 SCAN epoch C=1000, 10 MLP heads
#   extract     45 s  bench extract, ResNet-50 224x224 random weights, 1024 generated JPEGs
#   tests       90 s  build the test binaries, ctest -L gpu (one at a time where the
#                     GPU's compute mode is exclusive-process)
#   knn         50 s  bench knn N=640,000 D=512 k=20, fp32 products (a quarter of knn-bf16's work)
#   unit        rest  ctest -L unit less the GPU tests (what is left of BUDGET - 10 s,
#                     at most 60 s; none when every step before ran to its limit)
# In the worst case (every step to its limit) the steps from extract on get
# what is left, or nothing (--dry-run shows that case).
# When `distclust env --set runtime.device=cuda` fails, results.md gets its
# error and the figure steps are skipped (tests and unit still run).
# The GPU figures pass --set runtime.device=cuda (runtime.kernels=auto).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=gpu
sub=""   # --step MODE FUNCTION ARGS...: one step's shell function, run by step() under timeout
case "${1:-}" in
  --no-gpu) mode=cpu ;;
  --dry-run) mode=dry ;;
  --step) mode=$2; sub=$3; shift 3 ;;
  "") ;;
  *) echo "usage: tools/gpu-check.sh [--no-gpu|--dry-run]" >&2; exit 2 ;;
esac
self="$root/tools/gpu-check.sh"
OUT=${OUT:-$root/gpu-check-out}
DCB=${DCB:-/tmp/dcb}
BUDGET=${BUDGET:-480}
LIMIT_SCALE=${LIMIT_SCALE:-1}   # step limits x this (a slow machine checking the plumbing)
PY=${PYTHON:-python3}
build=${DISTCLUST_BUILD_DIR:-$root/build-gpu}
work=${WORK:-/tmp/gpu-check-work}
jobs=$(nproc)
start=$(date +%s)
mkdir -p "$OUT" "$work"
log="$OUT/gpu-check.log"
results="$OUT/results.md"
[[ -n $sub ]] || : > "$log"
rows=()     # "| step | status | seconds | figure |"

if [[ $mode == cpu ]]; then
  # Same steps, sizes a 2-core machine runs in seconds.
  DEV=cpu; KM=(--n 20000 --d 32 --k 200 --iters 3); KNN=(--n 20000 --d 32 --k 20); KNN_FP32=(--n 10000 --d 32 --k 20); SN=20000; SD=32
  LIM=(--device cpu --size 256 --copy-mib 16); IMGS=32; EXB=(--batch 8 --iters 2)
else
  DEV=cuda; KM=(--n 1000000 --d 256 --k 20000 --iters 25); KNN=(--n 1281167 --d 512 --k 20); KNN_FP32=(--n 640000 --d 512 --k 20); SN=1281167; SD=512
  LIM=(--device cuda --size 8192 --copy-mib 4096); IMGS=1024; EXB=(--batch 128 --iters 10)
fi
DEVSET=(--set runtime.device=$DEV)

# --dry-run: a clock that advances by each step's limit (the worst case).
virtual=0
elapsed() { if [[ $mode == dry ]]; then echo $virtual; else echo $(($(date +%s) - start)); fi; }

write_results() {
  {
    echo "# distclust gpu-check ($mode), $(date -u +%FT%TZ)"
    echo
    echo "host: $(hostname), $(nproc) cores; $(cat "$work/gpu.txt" 2>/dev/null)"
    echo "torch: $(cat "$work/torch.txt" 2>/dev/null)"
    echo
    echo "| step | status | seconds | figures |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "total $(elapsed) s of the $BUDGET s budget; step logs in gpu-check.log"
  } > "$results.tmp" && mv "$results.tmp" "$results"
}

# step NAME LIMIT FIGURE-FUNCTION COMMAND...: runs COMMAND under timeout,
# its output appended to the log; FIGURE-FUNCTION (or -) prints the figure.
step() {
  local name=$1 limit=$(($2 * LIMIT_SCALE)) figure=$3; shift 3
  local left=$((BUDGET - 10 - $(elapsed)))
  ((left < 0)) && left=0
  ((limit > left)) && limit=$left
  if [[ $mode == dry ]]; then
    echo "step $name: limit ${limit} s: $*"
    virtual=$((virtual + limit))
    return 0
  fi
  if ((limit < 5)); then
    rows+=("| $name | skipped: no time left | 0 | |"); write_results; return 1
  fi
  echo "=== $name (limit $limit s): $*" >> "$log"
  local t0=$(date +%s) rc status fig=""
  local cmd=("$@")
  declare -F "$1" > /dev/null && cmd=("$self" --step "$mode" "$@")
  timeout --kill-after=5 "$limit" "${cmd[@]}" > "$work/$name.log" 2>&1
  rc=$?
  cat "$work/$name.log" >> "$log"
  case $rc in
    0) status=ok ;;
    124|137) status="timed out" ;;
    *) status="failed (exit $rc)" ;;
  esac
  [[ $figure != - ]] && fig=$($figure "$work/$name.log" 2>/dev/null | tr '\n' ' ')
  rows+=("| $name | $status | $(($(date +%s) - t0)) | $fig |")
  echo "=== $name: $status" >> "$log"
  echo "gpu-check: $name: $status ($(($(date +%s) - t0)) s) $fig"
  write_results
  return $rc
}

# --- figures: read off each step's log.
result_json() { sed -n 's/^RESULT //p' "$1" | tail -1; }
fig_limits() {
  result_json "$1" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("GEMM fp32 %.4g, tf32 %.4g, bf16 %.4g TFLOP/s; copy %.4g GB/s" % (r["fp32_tflops"], r["tf32_tflops"], r["bf16_tflops"], r["copy_gbps"]))'
}
# fig_kmeans LOG PRECISION: the ratio is to the GEMM rate of the products' type.
fig_kmeans() {
  if [[ -z $(result_json "$1") ]]; then  # cut short: the iterations it finished (-v lines)
    echo "$2: no result; $(grep -c ' iter [0-9]* inertia' "$1") iterations done, last: $(grep -o 'iter [0-9]* inertia .*' "$1" | tail -1)"
    grep -o 'kernel time after .*' "$1" | tail -1 | sed 's/^/; /'
    return
  fi
  result_json "$1" | "$PY" -c '
import json, sys
r, lim, iters, prec = json.load(sys.stdin), json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
tf = 2.0 * r["n"] * r["k"] * r["d"] / r["sec_per_iter_median"] / 1e12
rate = lim.get(prec + "_tflops") or lim["fp32_tflops"]
print("%s: %.4f s/iter, %d iterations %.2f s (target <= 2 s on an H200), %.1f TFLOP/s = %.2f of the %s GEMM rate (%.4g)" % (
    prec, r["sec_per_iter_median"], iters, r["sec_per_iter_median"] * iters, tf, tf / rate, prec, rate))
' "$work/limits.json" "${KM[7]}" "${2:-fp32}"
  # The last inertia: fp32's and bf16's (same seed) side by side in results.md.
  grep -o 'iter [0-9]* inertia [^,]*' "$1" | tail -1 | sed 's/^/; last /'
  fig_phases "$1"
}
fig_kmeans_fp32() { fig_kmeans "$1" fp32; }
fig_kmeans_bf16() { fig_kmeans "$1" bf16; }
# Where the device kernel's time went (its phase report), after a figure.
fig_phases() { grep -o 'kernel time (.*' "$1" | tail -1 | sed 's/^/; /'; }
fig_knn() {
  if [[ -z $(result_json "$1") ]]; then  # cut short: its last progress line
    echo "${2:-fp32}: no result; $(grep -o 'knn exact (rank 0): [0-9].*' "$1" | tail -1)"
    return
  fi
  # The target is for N = 1,281,167; the fp32 step runs fewer rows (its N is in the figure).
  result_json "$1" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%s: N=%d %.2f s (target <= 15 s at N=1281167), %.1f TFLOP/s (2N^2D)" % (sys.argv[1], r["n"], r["seconds"], r["gflops"] / 1e3))' "${2:-fp32}"
  fig_phases "$1"
}
fig_knn_bf16() { fig_knn "$1" bf16; }
fig_scan() {
  grep -o 'scan: epoch 1/[0-9]*: .*' "$1" | tail -1
}
fig_extract() {
  result_json "$1" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("extract %.0f img/s, forward %.0f, decode %.0f, ratio %.3f (target 0.9)" % (r["extract_ips"], r["forward_ips"], r["decode_all_cores_ips"], r["ratio"]))'
}
fig_configure() { grep -E '^-- distclust:' "$1"; }
fig_ctest() { grep -E 'tests passed|tests failed|No tests were found' "$1" | tail -1; }

# --- steps.
# An executable file on PATH (bash's `command -v` also names a file it
# could not run, when it finds no other).
have() { local p; p=$(command -v "$1") && [[ -f $p && -x $p ]]; }
check() {
  local ok=0
  if [[ $mode != gpu ]]; then
    echo "no GPU (--no-gpu)" > "$work/gpu.txt"
  elif have nvidia-smi; then
    # Not fatal: torch's view of the device below decides.
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_mode --format=csv,noheader | tee "$work/gpu.txt"
  else
    echo "nvidia-smi not found (torch's view below)" | tee "$work/gpu.txt"
  fi
  # One interpreter (a cold `import torch` can take many seconds): torch and
  # its device, then what the scan and extract steps import (not fatal:
  # those steps fail alone).
  "$PY" - > "$work/torch.all" 2> "$work/torch.err" <<'PY'
import importlib
import torch
ok = torch.cuda.is_available()
print(torch.__version__, "CUDA", torch.version.cuda, "available", ok, torch.cuda.get_device_name(0) if ok else "")
for mod in ("numpy", "h5py", "PIL", "torchvision"):
    try:
        importlib.import_module(mod)
    except Exception as e:
        print("lacks", mod, e)
PY
  (($? == 0)) || { echo "gpu-check: $PY has no torch: $(tail -1 "$work/torch.err")"; ok=1; }
  grep -v '^lacks ' "$work/torch.all" | tee "$work/torch.txt"
  local mod
  for mod in $(sed -n 's/^lacks \([A-Za-z]*\) .*/\1/p' "$work/torch.all"); do
    echo "gpu-check: $PY lacks the module $mod: the scan/extract steps will fail"
  done
  if [[ $mode == gpu ]] && ! grep -q "available True" "$work/torch.txt"; then
    echo "gpu-check: torch sees no CUDA device"; ok=1
  fi
  for t in g++ cmake tar; do have $t || { echo "gpu-check: $t not found"; ok=1; }; done
  # The bundle's libraries are Debian 12's: glibc >= 2.36.
  local glibc; glibc=$(ldd --version | head -1 | grep -o '[0-9]*\.[0-9]*$')
  echo "glibc $glibc, $(g++ --version | head -1), $(cmake --version | head -1)"
  "$PY" -c "import sys; sys.exit(tuple(map(int, '$glibc'.split('.'))) < (2, 36))" ||
    { echo "gpu-check: glibc $glibc is older than 2.36 (the bundle's Debian 12 libraries need >= 2.36)"; ok=1; }
  [[ -s $root/.gpu-bundle/deps.tar.xz ]] || { echo "gpu-check: no .gpu-bundle/deps.tar.xz (run tools/gpu-bundle.sh on Debian 12 and carry it)"; ok=1; }
  return $ok
}

unpack() {
  rm -rf "$DCB" && mkdir -p "$DCB" || return 1
  if have xz; then
    tar xJf "$root/.gpu-bundle/deps.tar.xz" -C "$DCB" || return 1
  else  # an image without xz-utils: Python's lzma reads it (slower)
    echo "xz not found: unpacking with Python's tarfile"
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
      "$root/.gpu-bundle/deps.tar.xz" "$DCB" || return 1
  fi
  # base/: libraries the machine may have itself: keep only those it lacks.
  local kept=() dropped=()
  for f in "$DCB"/base/*.so*; do
    local so; so=$(basename "$f")
    if ldconfig -p | grep -q "^[[:space:]]*$so "; then rm "$f"; dropped+=("$so"); else kept+=("$so"); fi
  done
  echo "base: kept ${kept[*]:-none}; the machine's own: ${dropped[*]:-none}"
}

bundle_env() {
  local a=x86_64-linux-gnu
  export OPAL_PREFIX="$DCB/usr" PMIX_INSTALL_PREFIX="$DCB/usr/lib/$a/pmix2"
  export PATH="$DCB/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$DCB/usr/lib/$a:$DCB/usr/lib/$a/openmpi/lib:$DCB/usr/lib/$a/openblas-pthread:$DCB/opt/opencv/lib:$DCB/base${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OMPI_MCA_mca_base_component_show_load_errors=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export PMIX_MCA_pcompress_base_silence_warning=1  # PMIx looks for its help files at the packaged path
  export HDF5_USE_SHLIB=yes  # h5pcc links the static libhdf5.a by default; the bundle has the shared one only
  export NCCL_DEBUG=${NCCL_DEBUG:-WARN}  # an NCCL failure says why in the step's log (one run, no second look)
  # Open MPI 4.1 refuses even `mpiexec -n 1` on one node when neither ssh
  # nor rsh exists (its rsh launcher looks for them first; ompi#7330), as
  # on a bare container image: a local launch never runs the agent.
  if [[ -z ${OMPI_MCA_plm_rsh_agent:-} ]] && ! have ssh && ! have rsh; then
    export OMPI_MCA_plm_rsh_agent=sh
  fi
}

configure() {
  local prefix nccl tlib
  prefix=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) || return 1
  tlib=$(cd "$prefix/../../lib" && pwd)
  nccl=$("$PY" -c 'import nvidia.nccl as n, os; print(list(n.__path__)[0])' 2>/dev/null) || nccl=""
  echo "torch prefix $prefix; NCCL ${nccl:-none}"
  rm -f "$build/CMakeCache.txt"  # a cache from an earlier try keeps its failed find results
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_FIND_ROOT_PATH="$DCB" -DCMAKE_PREFIX_PATH="$prefix;$DCB/opt/opencv;$DCB/usr" \
    -DTORCH_LIBRARY="$tlib/libtorch.so" -Dc10_LIBRARY="$tlib/libc10.so" \
    -DHDF5_C_COMPILER_EXECUTABLE="$DCB/usr/bin/h5pcc" -DMPI_C_COMPILER="$DCB/usr/bin/mpicc" \
    -DCMAKE_CUDA_FLAGS=-allow-unsupported-compiler \
    ${nccl:+-DNCCL_ROOT="$nccl"} || return 1
}

# The built binary and plugin: every library resolved (none "not found"),
# and the folders they come from (the bundle, torch's wheels, the system).
libs() {
  local bad=0 f
  for f in "$build/src/cli/distclust" "$build/src/cli/libdistclust_torch.so"; do
    if ldd "$f" | grep "not found"; then bad=1; fi
    echo "$(basename "$f"): libraries by folder:"
    ldd "$f" | awk '$3 ~ /^\// {print $3}' | xargs -n1 dirname | sort | uniq -c
  done
  return $bad
}

synth_scan_data() {
  "$build/src/cli/distclust" synth features --n "$SN" --d "$SD" --k 100 --noise 1.0 --seed 1 --out "$work/sf.h5" \
    > /dev/null || return 1
  "$PY" - "$SN" "$work/knn.h5" <<'PY'
import os, sys, h5py, numpy as np
N, k, out = int(sys.argv[1]), 20, sys.argv[2]
idx = np.random.default_rng(0).integers(0, N - 1, size=(N, k), dtype=np.int64)
idx += idx >= np.arange(N)[:, None]  # never the row itself
with h5py.File(out + ".tmp", "w") as f:
    f.create_dataset("indices", data=idx, chunks=(min(N, 16384), k))
    f.create_dataset("similarities", data=np.zeros((N, k), np.float32), chunks=(min(N, 16384), k))
    f.attrs["stage"] = "knn"
os.replace(out + ".tmp", out)
PY
}
scan_epoch() {
  synth_scan_data || return 1
  "$build/src/cli/distclust" scan -v --features "$work/sf.h5" --knn "$work/knn.h5" --clusters 1000 --heads 10 \
    --head mlp --epochs 1 --min-steps 0 --no-checkpoint --force --out "$work/s.h5" "${DEVSET[@]}"
}

extract_bench() {
  "$PY" "$root/tools/export_backbone.py" resnet50 --weights none --out "$work/resnet50.pt" || return 1
  "$PY" - "$IMGS" "$work/jpegs" <<'PY' || return 1
import os, sys
from multiprocessing import Pool
import numpy as np
from PIL import Image
n, out = int(sys.argv[1]), sys.argv[2]
def make(i):  # ~30 ms of CPU an image: one process per core (1024 images in ~2 s on 16)
    y, x = np.mgrid[0:375, 0:500]
    rng = np.random.RandomState(i)
    a = np.stack([128 + 90 * np.sin(x / (5 + i % 13) + c + i) * np.cos(y / (7 + c + i % 5)) for c in range(3)], -1)
    a = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(f"{out}.tmp/{i:05d}.jpg", quality=90)
if not os.path.isdir(out):
    os.makedirs(out + ".tmp", exist_ok=True)
    with Pool(os.cpu_count()) as pool:
        pool.map(make, range(n))
    os.rename(out + ".tmp", out)
PY
  "$build/src/cli/distclust" bench extract --source "$work/jpegs" --backbone "$work/resnet50.pt" "${EXB[@]}" \
    --out "$work/f.h5" --progress-seconds 0 "${DEVSET[@]}"
}

# The binaries of the GPU tests, then those tests: one at a time when the
# GPU's compute mode is exclusive-process (a second process gets no context).
gpu_tests() {
  cmake --build "$build" --target unit_tests mpi_tests -j "$jobs" > "$work/build-tests.log" 2>&1 ||
    { tail -30 "$work/build-tests.log"; return 1; }
  local j=$jobs
  grep -qi exclusive "$work/gpu.txt" 2>/dev/null && j=1
  (cd "$build" && ctest -L gpu --output-on-failure -j "$j" --timeout 120)
}
# The rest of the test binaries first (e.g. tests/ubsan's, which needs the
# compiler's libubsan): one that fails to build shows as not run.
ctest_label() {
  cmake --build "$build" -j "$jobs" > "$work/build-rest.log" 2>&1 || grep -m5 -E 'error|Error' "$work/build-rest.log"
  (cd "$build" && ctest -L "$1" -E 'Cuda|Gpu|Nccl' --output-on-failure -j "$jobs" --timeout 120)
}

if [[ -n $sub ]]; then
  "$sub" "$@"
  exit $?
fi

# --- run, most important figures first.
step check 45 - check || { [[ $mode == dry ]] || { echo "gpu-check: the machine lacks what it needs (see $log)"; exit 1; }; }
step limits 30 fig_limits "$PY" "$root/bench/gpu_limits.py" "${LIM[@]}" --json "$work/limits.json"
step unpack 20 - unpack
# Python after this point runs without the bundle's libraries (Debian 12's
# libssl, libffi, ... could shadow those of the node's Python): a wrapper
# that restores the node's own LD_LIBRARY_PATH, inherited by the steps.
if [[ $mode != dry ]]; then
  real_py=$(command -v "$PY")
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%q exec %q "$@"\n' "${LD_LIBRARY_PATH:-}" "$real_py" > "$work/python3"
  chmod +x "$work/python3"
  export PYTHON="$work/python3"
  PY=$PYTHON
fi
bundle_env
step configure 45 fig_configure configure || { [[ $mode == dry ]] || exit 1; }
# The binary and its torch plugin only (a dependency of distclust): the
# figures need no more; the test binaries are built in `tests`.
step build 150 - cmake --build "$build" --target distclust -j "$jobs" || { [[ $mode == dry ]] || exit 1; }
step libs 10 - libs
# Can distclust compute on the device at all (plugin, CUDA, driver)? If not,
# the GPU-size steps would run on the CPU until each times out: say why in
# results.md and go straight to the tests.
gpu_ok=1
if [[ $mode != dry ]] && ! "$build/src/cli/distclust" env "${DEVSET[@]}" > "$work/env.txt" 2>&1; then
  gpu_ok=0
  cat "$work/env.txt" >> "$log"
  why=$(grep -m1 ERROR "$work/env.txt" | sed 's/^.*ERROR: //; s/|/\\|/g')
  rows+=("| device | FAILED: distclust env ${DEVSET[*]}: ${why:-see gpu-check.log}; figure steps skipped | 0 | |")
fi
bench() { ((gpu_ok)) && step "$@"; }
# fp32 products, then bf16 products with each row's best re-scored in fp32
# (the targets are within reach of the latter: fp32 GEMM alone is ~0.15x bf16's).
BF16=(--set runtime.precision=bf16)
bench kmeans 35 fig_kmeans_fp32 "$build/src/cli/distclust" bench kmeans -v "${KM[@]}" --no-sgemm --no-init-seconds "${DEVSET[@]}"
bench kmeans-bf16 25 fig_kmeans_bf16 "$build/src/cli/distclust" bench kmeans -v "${KM[@]}" --no-sgemm --no-init-seconds "${DEVSET[@]}" "${BF16[@]}"
bench knn-bf16 35 fig_knn_bf16 "$build/src/cli/distclust" bench knn "${KNN[@]}" "${DEVSET[@]}" "${BF16[@]}"
bench scan 55 fig_scan scan_epoch
bench extract 45 fig_extract extract_bench
step tests 90 fig_ctest gpu_tests
# fp32 kNN: 2N^2D at N = 1.28M is 1.7 PFLOP, some 30 s at an H200's fp32
# rate: half the rows (a quarter of the work) keep it inside its limit.
bench knn 50 fig_knn "$build/src/cli/distclust" bench knn "${KNN_FP32[@]}" "${DEVSET[@]}"
left=$((BUDGET - 10 - $(elapsed)))
((left > 60)) && left=60
# The GPU tests ran in `tests`: the rest of the unit tests here.
step unit "$left" fig_ctest ctest_label unit
[[ $mode == dry ]] || echo "gpu-check: $results ($(elapsed) s)"
