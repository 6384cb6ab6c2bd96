#!/usr/bin/env bash
# --help of every subcommand lists the flags the issues name, with defaults.
source "$(dirname "$0")/lib.sh"
# A boolean flag shows as --[no-]name.
expect() {
  local out; out=$("$DC" "$@" --help)
  for f in "${FLAGS[@]}"; do
    grep -q -- "$f" <<<"$out" || grep -qF -- "--[no-]${f#--}" <<<"$out" || fail "'$* --help' lacks $f"
  done
}
FLAGS=(--n --d --k --noise --seed --out --config --set); expect synth features
FLAGS=(--classes --per-class --size --seed --out); expect synth images
FLAGS=(--features --k --out --iters --init --spherical --restarts --seed --tol --comm --threads); expect kmeans
FLAGS=(--pred --labels --json); expect eval
FLAGS=(--n --d --k --iters); expect bench kmeans
FLAGS=(--n --d --k --metric); expect bench knn
FLAGS=(--features --k --out --metric --mode --nlist --nprobe); expect knn
FLAGS=(--features --pred --out --prototypes --members --thumb --force); expect report
FLAGS=(--features --pred --out --copy --force); expect export
FLAGS=(--config --set --workdir --stages --force); expect run
"$DC" kmeans --help | grep -q "kmeans++|random|kmeans-parallel" || fail "init choices not in help"
"$DC" --version | grep -q "distclust" || fail "--version"
if "$DC" frobnicate >out.txt 2>&1; then fail "unknown subcommand accepted"; fi
# Types instead of TEXT everywhere, booleans without CLI11's raw form.
h=$("$DC" scan --help)
grep -q -- "--clusters INT=10" <<<"$h" || fail "no INT type: $(grep clusters <<<"$h")"
grep -q -- "--lr FLOAT=0.01" <<<"$h" || fail "no FLOAT type"
grep -q -- "--features PATH" <<<"$h" || fail "no PATH type"
grep -qF -- "--[no-]self-label BOOL=false" <<<"$h" || fail "boolean not shown as --[no-]self-label BOOL=false"
! grep -q -- "{false}" <<<"$h" || fail "raw CLI11 boolean form in --help"
# A mistyped subcommand or flag gets the nearest name, exit code 2.
typo() {  # expected-hint args...
  local want=$1; shift
  local rc=0; "$DC" "$@" >typo.txt 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "'$*' exited $rc, not 2"
  grep -qF -- "$want" typo.txt || { cat typo.txt; fail "'$*': no hint '$want'"; }
}
typo "unknown subcommand 'kmean'; did you mean 'kmeans'?" kmean --k 3
typo "unknown option '--iter' for 'kmeans'; did you mean '--iters'?" kmeans --features f.h5 --iter 3
typo "did you mean 'features'?" synth featurs
typo "did you mean '--clusters'?" scan --cluster=4
# run takes stage settings as --set: a subcommand's flag names the keys
# (once: "did you mean '--force'?" for --source).
typo "unknown option '--source' for 'run'; run takes stage settings as --set SECTION.KEY=VALUE: '--set extract.source=...' or '--set assign.source=...'" run --source imgs
typo "'--set kmeans.k=...', '--set gmm.k=...' or '--set knn.k=...'" run --k 4
typo "did you mean '--force'?" run --forse
typo "run sets each stage's input and output paths itself, in run.workdir" run --out f.h5
# run --help names the keys set most, with their defaults.
r=$("$DC" run --help)
for key in extract.source extract.backbone "kmeans.k INT=10" "scan.clusters INT=10" "run.workdir PATH=distclust-work"; do
  grep -qF -- "$key" <<<"$r" || fail "run --help lacks $key"
done
# runtime.device/kernels/precision on every command; where a stage has its
# own key of that name (extract.device) the stage keeps --device and the
# runtime's flag is --runtime-device, and each sets its own section.
FLAGS=(--device --kernels --precision --storage); expect kmeans
e=$("$DC" extract --help)
grep -q -- "--device TEXT=auto .*auto follows runtime.device" <<<"$e" || fail "extract --help: --device is not extract's"
grep -q -- "--runtime-device TEXT=auto .*k-means, kNN and SCAN" <<<"$e" || fail "extract --help lacks --runtime-device"
if "$DC" extract --source none --out x.h5 --runtime-device gpu >rd.txt 2>&1; then fail "--runtime-device gpu accepted"; fi
grep -q "runtime.device: 'gpu' is not one of auto|cpu|cuda|cuda:N" rd.txt || { cat rd.txt; fail "--runtime-device not runtime.device"; }
if "$DC" kmeans --features x.h5 --out k.h5 --precision fp8 >pr.txt 2>&1; then fail "--precision fp8 accepted"; fi
grep -q "runtime.precision: 'fp8'" pr.txt || { cat pr.txt; fail "bad precision not named"; }
if "$DC" knn --features x.h5 --out k.h5 --storage int8 >st.txt 2>&1; then fail "--storage int8 accepted"; fi
grep -q "runtime.storage: 'int8' is not one of fp32|fp16|bf16" st.txt || { cat st.txt; fail "bad storage not named"; }
pass "help"
