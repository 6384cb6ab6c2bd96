#!/usr/bin/env bash
# --help of every subcommand lists the flags the issues name, with defaults.
source "$(dirname "$0")/lib.sh"
expect() { local out; out=$("$DC" "$@" --help); for f in "${FLAGS[@]}"; do grep -q -- "$f" <<<"$out" || fail "'$* --help' lacks $f"; done; }
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
pass "help"
