#!/usr/bin/env bash
# Exact kNN graph side by side on the same data: distclust (exact, ring + GEMM
# + top-k) against FAISS IndexFlatIP with 2 threads in its best configuration
# (OMP_WAIT_POLICY=PASSIVE; OPENBLAS_CORETYPE unset and =SkylakeX both
# tried), and the machine's sgemm rate measured in the same run at the
# kernel's shape. Then IVF mode at N=1,000,000, D=128: time and recall@k,
# against FAISS IndexIVFFlat on the same data and recipe (bench/ivf_peers.py).
# Usage: bench/run_knn_bench.sh [--no-ivf] [N D K]   (defaults 100000 256 20;
# --no-ivf, anywhere among the arguments, skips the IVF part). Env: DC (binary),
# FAISS_PYTHON (python3 with faiss, h5py, numpy for the peers; default
# bench/.venv-peers/bin/python, made by bench/peers-venv.sh: PyPI's faiss-cpu,
# FAISS's best configuration; without it /usr/bin/python3, whose Debian FAISS
# is a GENERIC build without SIMD, and the report says so), WAIT_QUIET (default
# 120: seconds to wait at most for the load average to drop below 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DC=${DC:-$root/build/src/cli/distclust}
ivf=1; pos=()
for a in "$@"; do
  case $a in
    --no-ivf) ivf=0 ;;
    -*) echo "usage: $0 [--no-ivf] [N D K]   (unknown option '$a')" >&2; exit 2 ;;
    *) pos+=("$a") ;;
  esac
done
(( ${#pos[@]} <= 3 )) || { echo "usage: $0 [--no-ivf] [N D K]   (more than 3 numbers: ${pos[*]})" >&2; exit 2; }
N=${pos[0]:-100000}; D=${pos[1]:-256}; K=${pos[2]:-20}
FPY=${FAISS_PYTHON:-}
if [[ -z $FPY ]]; then
  FPY=/usr/bin/python3
  [[ -x $root/bench/.venv-peers/bin/python ]] && FPY=$root/bench/.venv-peers/bin/python
fi
faiss_version=$("$FPY" -c "import faiss; print(faiss.__version__)")
[[ $FPY == /usr/bin/python3 ]] && echo "NOTE: FAISS $faiss_version from Debian (GENERIC, no SIMD): not FAISS's best configuration; run bench/peers-venv.sh" >&2
source "$root/bench/lib.sh"
T=$(mktemp -d /tmp/dc-knn-bench.XXXX)
trap 'rm -rf "$T"' EXIT
"$DC" synth features --n "$N" --d "$D" --k 100 --noise 1.0 --seed 1 --out "$T/f.h5" >/dev/null
echo "## exact kNN graph, N=$N D=$D k=$K, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
# Other work on a small machine distorts every figure, the sgemm probe most
# (a short probe: 263 -> 135 GFLOP/s seen under load): wait for quiet, and say the load.
wait_quiet "${WAIT_QUIET:-120}" 1.0
echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
"$DC" bench knn --features "$T/f.h5" --k "$K" --json "$T/dc.json" | tee "$T/dc.txt"
"$DC" knn --features "$T/f.h5" --k "$K" --no-checkpoint --out "$T/knn.h5" >/dev/null
best=""; bests=1e9
cfgs=("PASSIVE:" "PASSIVE:SkylakeX" "given:")
# SkylakeX kernels need AVX-512 (without it they die on an illegal instruction).
grep -q avx512f /proc/cpuinfo || cfgs=("PASSIVE:" "given:")
for cfg in "${cfgs[@]}"; do
  wait=${cfg%%:*}; core=${cfg#*:}
  envs=(env -u OPENBLAS_CORETYPE)
  [[ -n "$core" ]] && envs=(env OPENBLAS_CORETYPE="$core")
  [[ "$wait" == PASSIVE ]] && envs+=(OMP_WAIT_POLICY=PASSIVE)
  line=$("${envs[@]}" "$FPY" "$root/bench/knn_peers.py" "$T/f.h5" "$K" --threads 2 --check "$T/knn.h5" | grep '^PEER')
  echo "faiss [$cfg] ${line#PEER }"
  s=$(/usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1][5:])['seconds'])" "$line")
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $s < $bests else 1)"; then bests=$s; best="$cfg"; fi
done
/usr/bin/python3 - "$T/dc.json" "$bests" "$best" "$faiss_version" <<'PY'
import json, sys
dc = json.load(open(sys.argv[1])); fs = float(sys.argv[2])
print(f"| implementation | s | GFLOP/s | ratio to sgemm limit |\n|---|---:|---:|---:|")
print(f"| distclust knn exact | {dc['seconds']:.1f} | {dc['gflops']:.0f} | {dc['ratio_to_sgemm']:.2f} |")
print(f"| distclust, products executed (self-join: pairs once) | {dc['seconds']:.1f} | {dc['executed_gflops']:.0f} | {dc['executed_ratio_to_sgemm']:.2f} |")
flops = 2.0 * dc['n'] * dc['n'] * dc['d']
print(f"| FAISS {sys.argv[4]} IndexFlatIP, 2 threads, best config ({sys.argv[3]}) | {fs:.1f} | {flops/fs/1e9:.0f} | {flops/fs/1e9/dc['sgemm_gflops']:.2f} |")
print(f"| sgemm limit (measured, same run) | {dc['sgemm_limit_seconds']:.1f} | {dc['sgemm_gflops']:.0f} | 1.00 |")
print(f"distclust / FAISS time: {dc['seconds']/fs:.2f}")
PY
if (( ivf )); then
  echo "## IVF, N=1000000 D=128 k=$K"
  "$DC" synth features --n 1000000 --d 128 --k 1000 --noise 1.0 --seed 2 --out "$T/big.h5" >/dev/null
  /usr/bin/time -f "wall %e s, max RSS %M KiB" "$DC" knn --features "$T/big.h5" --k "$K" --mode ivf --recall-sample 2000 \
    --out "$T/ivf.h5" 2>&1 | grep -E "lists|search|purity|wall"
  # The peer: the same recipe (nlist, 64 training rows a list, 10 iterations,
  # nprobe tuned to 0.97 on 1,000 rows), OpenBLAS on this CPU's kernels.
  core=""; grep -q avx512f /proc/cpuinfo && core=SkylakeX
  env OMP_WAIT_POLICY=PASSIVE ${core:+OPENBLAS_CORETYPE=$core} "$FPY" \
    "$root/bench/ivf_peers.py" "$T/big.h5" "$K" --check "$T/ivf.h5" | sed 's/^PEER /faiss ivf: /'
fi
