#!/usr/bin/env bash
# tools/gpu-check.sh without a GPU (issue 15): its --dry-run lists every step
# in the documented order with limits inside the 8-minute budget and the
# issue's sizes; bench/gpu_limits.py runs on the CPU at a tiny size and
# writes the four figures. No network, no build: a few seconds.
source "$(dirname "$0")/lib.sh"
S=$DC_SOURCE
OUT=$DC_TMP/out WORK=$DC_TMP/work bash "$S/tools/gpu-check.sh" --dry-run > dry.txt || fail "dry run failed"
steps=$(sed -n 's/^step \([a-z0-9-]*\): limit \([0-9]*\) s:.*/\1/p' dry.txt | tr '\n' ' ')
[[ $steps == "check limits unpack configure build libs kmeans kmeans-bf16 knn-bf16 scan extract tests knn unit " ]] ||
  fail "steps: $steps"
total=$(sed -n 's/^step [a-z0-9-]*: limit \([0-9]*\) s:.*/\1/p' dry.txt | paste -sd+ | bc)
((total <= 480)) || fail "step limits add up to $total s > 480"
# The dry run's clock advances by each whole limit (every step slow): the
# set-up steps' room (a cold node, no ccache) must still leave the first
# four figure steps their whole limits; later steps may get what is left.
for want in "kmeans: limit 35" "kmeans-bf16: limit 25" "knn-bf16: limit 35" "scan: limit 55" "build: limit 150" \
  "check: limit 45" "configure: limit 45"; do
  grep -q "^step $want s:" dry.txt || fail "worst case: no '$want s' in the dry run: $(tr '\n' '|' < dry.txt)"
done
grep -q '^step build: .*--target distclust ' dry.txt || fail "the build step builds more than the binary and plugin"
grep -q 'step kmeans: .*bench kmeans -v --n 1000000 --d 256 --k 20000 --iters 25 .*--set runtime.device=cuda' dry.txt || fail "kmeans sizes"
grep -q 'bench knn --n 1281167 --d 512 --k 20 --set runtime.device=cuda' dry.txt || fail "knn sizes"
grep -q 'step kmeans-bf16: .*--iters 25 .*--set runtime.precision=bf16' dry.txt || fail "kmeans bf16"
grep -q 'step knn-bf16: .*--k 20 .*--set runtime.precision=bf16' dry.txt || fail "knn bf16"
grep -q 'step knn: .*bench knn --n 640000 --d 512 --k 20 --set runtime.device=cuda$' dry.txt || fail "knn fp32 sizes"
grep -q 'gpu_limits.py --device cuda --size 8192' dry.txt || fail "limits sizes"
if bash "$S/tools/gpu-check.sh" --bogus > /dev/null 2>&1; then fail "a bad option was accepted"; fi
pass "dry run: $steps($total s)"

$PY "$S/bench/gpu_limits.py" --device cpu --size 128 --copy-mib 8 --reps 2 --warmup 1 --json limits.json > limits.txt ||
  fail "gpu_limits.py on the CPU"
for k in fp32_tflops tf32_tflops bf16_tflops copy_gbps; do
  ge "$(json_get limits.json $k)" 1e-6 || fail "$k = $(json_get limits.json $k)"
done
grep -q '^RESULT {' limits.txt || fail "no RESULT line"
if $PY "$S/bench/gpu_limits.py" --device cuda --size 64 > /dev/null 2>&1 && ! $PY -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then
  fail "--device cuda without a GPU did not fail"
fi
pass "gpu_limits.py: $(tail -1 limits.txt | cut -c1-120)"

# The figures read off a step's log: a k-means run's result with the
# kernel's phases, and a run cut short by its time limit (no RESULT line):
# the iterations it finished and the kernel's early phases.
mkdir -p work && cp limits.json work/limits.json
cat > km.log <<'LOG'
[    1.00s r0 h] kmeans: restart 0 iter 0 inertia 10, 0.5 s
[    1.10s r0 h] kmeans: kernel time after iteration 0: gemm 0.3 s (60%), select 0.2 s (40%); device events
[    1.60s r0 h] kmeans: restart 0 iter 1 inertia 9, 0.25 s
[    9.00s r0 h] kmeans: kernel time (torch:cuda:0 bf16): gemm 3 s (75%), select 1 s (25%); device events
RESULT {"n": 20000, "d": 32, "k": 200, "sec_per_iter_median": 0.25}
LOG
fig() { WORK=$PWD/work OUT=$PWD/out PYTHON=$PY bash "$S/tools/gpu-check.sh" --step cpu "$@" | tr '\n' ' '; }
got=$(fig fig_kmeans_bf16 km.log)
[[ $got == *"bf16: 0.2500 s/iter, 3 iterations 0.75 s"* && $got == *"; kernel time (torch:cuda:0 bf16): gemm 3 s"* ]] ||
  fail "k-means figure: $got"
grep -v '^RESULT' km.log > km-cut.log
got=$(fig fig_kmeans_bf16 km-cut.log)
[[ $got == *"no result; 2 iterations done, last: iter 1 inertia 9, 0.25 s"* && $got == *"; kernel time after iteration 0: gemm 0.3 s"* ]] ||
  fail "cut-short k-means figure: $got"
printf '%s\n' "[   20.00s r0 h] knn exact (rank 0): 640000/1281167 query rows (50%), 32000 query rows/s, ETA 0:20" > knn-cut.log
got=$(fig fig_knn_bf16 knn-cut.log)
[[ $got == "bf16: no result; knn exact (rank 0): 640000/1281167 query rows (50%), 32000 query rows/s, ETA 0:20 " ]] ||
  fail "cut-short kNN figure: $got"
pass "figures: $got"

# The same figures off a real run's log (the LibTorch kernel on CPU
# tensors, -v as gpu-check runs it): its per-iteration lines and kernel
# phases are what the figures read, whole and cut short.
$DC bench kmeans -v --n 4000 --d 16 --k 40 --iters 3 --no-sgemm --no-init-seconds --set runtime.kernels=torch \
  > real.log 2>&1 || fail "bench kmeans with the torch kernel: $(tail -5 real.log)"
got=$(fig fig_kmeans_fp32 real.log)
[[ $got == *"fp32: "*" s/iter, 3 iterations "* && $got == *"; kernel time (torch:cpu fp32): "*"host clock"* ]] ||
  fail "k-means figure off a real log: $got"
grep -v '^RESULT' real.log > real-cut.log
got=$(fig fig_kmeans_fp32 real-cut.log)
[[ $got == *"no result; 3 iterations done, last: iter 2 inertia "* && $got == *"; kernel time after iteration 1: "*"gemm "*"host clock"* ]] ||
  fail "cut-short k-means figure off a real log: $got"
pass "figures off a real run: $got"
