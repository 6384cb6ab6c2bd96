#!/usr/bin/env bash
# Extract throughput against its limits (issue 3): images/s of `distclust
# extract` vs (a) the forward-only rate of the same model on a batch in
# memory and (b) the decode+preprocess-only rate of the same images, each
# measured alone by `distclust bench extract` in the same run.
#
#   bench/extract_bench.sh            writes bench/RESULTS-extract.md
#
# Cases:
#   cifar    $SHARED/models/cifar10-resnet20.pt on the 1,000 CIFAR-10 test
#            PNGs of $SHARED/data/cifar10-test1k listed 8 times (8,000 rows:
#            enough batches to time)
#   resnet18 a 224x224 ResNet-18 TorchScript with random weights exported by
#            tools/export_backbone.py from Debian's python3-torchvision, on
#            512 generated 500x375 JPEGs (resize 256, crop 224)
# each with the default thread split and the alternatives, plus the cifar
# case as 2 ranks x 1 thread under mpirun.
#
# Env: DISTCLUST (binary, default build/src/cli/distclust), PYTHON
# (/usr/bin/python3 with torch, torchvision, PIL), ROUNDS (default 3: each
# measurement repeated, the best kept per figure: other processes on a shared
# 2-core machine only ever slow a run down), WAIT_QUIET (default 120: seconds
# to wait at most for the load average to drop below 1), WORK (scratch folder,
# default out/bench-extract in the repo; its data and models are reused),
# SHARED (default ../shared next to the repo: data/cifar10-test1k and
# models/cifar10-resnet20.pt). A missing input or a failed command stops the
# script with its output; the report is written only when every run worked.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
WAIT_QUIET=${WAIT_QUIET:-120}
WORK=${WORK:-$ROOT/out/bench-extract}
SHARED=${SHARED:-$ROOT/../shared}
OUT=$ROOT/bench/RESULTS-extract.md
for f in "$SHARED/data/cifar10-test1k" "$SHARED/models/cifar10-resnet20.pt"; do
  [[ -e $f ]] || { echo "extract_bench: $f is missing (set SHARED to the folder holding data/ and models/)" >&2; exit 1; }
done
mkdir -p "$WORK"
cd "$WORK"
# fail LOG MESSAGE: the log and the message, then stop.
fail() { { cat "$1"; echo "extract_bench: $2 (log above: $WORK/$1)"; } >&2; exit 1; }

# ---------------------------------------------------------------- data
cifar_src=$SHARED/data/cifar10-test1k
if [[ ! -s cifar8k.txt || $(head -c ${#cifar_src} cifar8k.txt) != "$cifar_src" ]]; then  # missing, or another SHARED's
  $PY - "$cifar_src" <<'PY'
import os, sys
src = sys.argv[1]
classes = sorted(os.listdir(src))
rows = [f"{os.path.join(src, c, f)},{k}" for k, c in enumerate(classes) for f in sorted(os.listdir(os.path.join(src, c)))]
open("cifar8k.txt", "w").write("".join(r + "\n" for _ in range(8) for r in rows))
PY
fi
[[ -s models/resnet18.pt ]] || $PY "$ROOT/tools/export_backbone.py" resnet18 --weights none --out models/resnet18.pt
if [[ ! -d jpegs ]]; then
  $PY - <<'PY'
import os
import numpy as np
from PIL import Image
os.makedirs("jpegs.tmp")
rng = np.random.RandomState(0)
y, x = np.mgrid[0:375, 0:500]
for i in range(512):
    a = np.stack([128 + 90 * np.sin(x / (5 + i % 13) + c + i) * np.cos(y / (7 + c + i % 5)) for c in range(3)], -1)
    a = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(f"jpegs.tmp/{i:04d}.jpg", quality=90)
os.rename("jpegs.tmp", "jpegs")
PY
fi


# best_of NAME ARGS...: runs `distclust bench extract ARGS` ROUNDS times and
# keeps, per figure, the best round (other processes on a shared machine only
# ever slow a measurement down) in results/NAME.json; the ratio is then
# best extract / min(best forward, best decode).
mkdir -p results
best_of() {
  local name=$1; shift
  : > "results/$name.jsonl"
  for ((i = 0; i < ROUNDS; i++)); do
    wait_quiet "$WAIT_QUIET" 1.0
    "$BIN" bench extract "$@" --out "$WORK/f.h5" --progress-seconds 0 >"results/$name.log" 2>&1 \
      || fail "results/$name.log" "FAILED (rc $?): distclust bench extract $*"
    grep -q '^RESULT ' "results/$name.log" || fail "results/$name.log" "no RESULT line from distclust bench extract $*"
    sed -n 's/^RESULT //p' "results/$name.log" >> "results/$name.jsonl"
  done
  $PY - "results/$name.jsonl" > "results/$name.json" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert runs, "no successful run"
best = dict(runs[0])
for k in ["forward_ips", "decode_all_cores_ips", "decode_pipeline_threads_ips", "extract_ips", "extract_wall_ips"]:
    best[k] = max(r[k] for r in runs)
best["ratio"] = best["extract_ips"] / min(best["forward_ips"], best["decode_all_cores_ips"])
best["rounds"] = len(runs)
print(json.dumps(best))
PY
  echo "$name: $(cat "results/$name.json")"
}

CIFAR=(--source cifar8k.txt --backbone "$SHARED/models/cifar10-resnet20.pt" --iters 40)
R18=(--source jpegs --backbone models/resnet18.pt --batch 32 --iters 8)
best_of cifar_default "${CIFAR[@]}"
best_of cifar_torch1 "${CIFAR[@]}" --torch-threads 1
best_of cifar_decode2 "${CIFAR[@]}" --decode-threads 2
best_of cifar_b256 "${CIFAR[@]}" --batch 256
best_of r18_default "${R18[@]}"
best_of r18_decode2 "${R18[@]}" --decode-threads 2

# Two ranks x 1 torch thread: the rate from extract's own summary (best of ROUNDS).
mpi_best=0
for ((i = 0; i < ROUNDS; i++)); do
  wait_quiet "$WAIT_QUIET" 1.0
  mpirun --bind-to none --oversubscribe --allow-run-as-root -np 2 "$BIN" extract "${CIFAR[@]:0:4}" --threads 1 \
    --out "$WORK/f.h5" --progress-seconds 0 >results/cifar_np2.log 2>&1 \
    || fail results/cifar_np2.log "FAILED (rc $?): mpirun -np 2 distclust extract ${CIFAR[*]:0:4} --threads 1"
  rate=$(sed -n 's/.* = \([0-9.]*\) images\/s.*/\1/p' results/cifar_np2.log)
  [[ -n $rate ]] || fail results/cifar_np2.log "no 'N images/s' line from mpirun -np 2 distclust extract"
  mpi_best=$($PY -c "print(max(float('$mpi_best'), float('${rate:-0}')))")
done
echo "cifar_np2: $mpi_best images/s"

# ---------------------------------------------------------------- report
$PY - "$OUT" "$mpi_best" "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p')" <<'PY'
import json, sys
out, mpi, cores, cpu = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
R = {n: json.load(open(f"results/{n}.json")) for n in
     ["cifar_default", "cifar_torch1", "cifar_decode2", "cifar_b256", "r18_default", "r18_decode2"]}
rows = [
    ("cifar_default", "ResNet-20, CIFAR PNG 32x32", "batch 64, **default**"),
    ("cifar_torch1", "ResNet-20, CIFAR PNG 32x32", "batch 64, --torch-threads 1"),
    ("cifar_decode2", "ResNet-20, CIFAR PNG 32x32", "batch 64, --decode-threads 2"),
    ("cifar_b256", "ResNet-20, CIFAR PNG 32x32", "batch 256"),
    ("r18_default", "ResNet-18 224, JPEG 500x375", "batch 32, **default**"),
    ("r18_decode2", "ResNet-18 224, JPEG 500x375", "batch 32, --decode-threads 2"),
]
L = ["# Extract throughput (bench/extract_bench.sh)", "",
     f"Machine: {cores} cores ({cpu}), LibTorch 1.13.1 CPU (Debian), OpenCV 4.6. Each figure is the best of "
     f"{R['cifar_default']['rounds']} rounds (the machine is shared; other processes only slow a run down).", "",
     "| model, images | settings | threads decode + model | (a) forward only | (b) decode+preprocess, all cores "
     "| extract | extract / min(a, b) |", "|---|---|---|---:|---:|---:|---:|"]
for key, model, setting in rows:
    r = R[key]
    L.append(f"| {model} | {setting} | {r['decode_threads']} + {r['model_threads']} | {r['forward_ips']:.0f} "
             f"| {r['decode_all_cores_ips']:.0f} | {r['extract_ips']:.0f} | {r['ratio']:.3f} |")
L += ["", f"ResNet-20 on 2 ranks x 1 thread (mpirun -np 2 ... --threads 1): {mpi:.0f} images/s "
      f"(1 rank, default: {R['cifar_default']['extract_ips']:.0f}).", "",
      "images/s; (a) = the backbone alone on a batch in memory (after 3 warm-up batches); (b) = the decode pool "
      "alone with one thread per core; extract = the batch loop of `distclust extract` (decode, forward, "
      "HDF5 writes), model load excluded (`extract_wall_ips` in results/*.json includes it).", "",
      "Commands:", "```", "bench/extract_bench.sh",
      "# which runs, per row (ROUNDS times, best kept):",
      "distclust bench extract --source cifar8k.txt --backbone ../shared/models/cifar10-resnet20.pt --iters 40 [settings]",
      "distclust bench extract --source jpegs --backbone models/resnet18.pt --batch 32 --iters 8 [settings]",
      "mpirun --bind-to none -np 2 distclust extract --source cifar8k.txt "
      "--backbone ../shared/models/cifar10-resnet20.pt --threads 1 --out f.h5", "```"]
import os
open(out + ".tmp", "w").write("\n".join(L) + "\n")
os.replace(out + ".tmp", out)
print("\n".join(L))
PY
echo "bench: wrote $OUT"
