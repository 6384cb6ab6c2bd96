#!/usr/bin/env bash
# The README's default job on NP ranks: synth images -> extract (pixels
# backbone, PCA) -> kmeans -> eval. The classes are built to be separable:
# ACC >= 0.95 (measured 1.0).
source "$(dirname "$0")/lib.sh"
np=${1:-2}
dcrun "$np" synth images --classes 10 --per-class 200 --size 32 --seed 4 --out imgs >/dev/null
dcrun "$np" extract --source imgs --backbone pixels --pixels-size 32 --pca-dim 32 --out f.h5 >log.txt 2>&1 \
  || { cat log.txt; fail "extract failed"; }
dcrun "$np" kmeans --features f.h5 --k 10 --restarts 5 --seed 1 --out km.h5 >/dev/null
dcrun "$np" eval --pred km.h5 --labels f.h5 --json --out scores.json >/dev/null
acc=$(json_get scores.json acc); nmi=$(json_get scores.json nmi)
ge "$acc" 0.95 || fail "ACC $acc < 0.95 on synthetic images"
[[ ! -e f.h5.tmp ]] || fail "f.h5.tmp left behind"
pass "synth images -> extract -> kmeans -> eval on $np ranks: ACC=$acc NMI=$nmi"
