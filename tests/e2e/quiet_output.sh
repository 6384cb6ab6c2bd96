#!/usr/bin/env bash
# Quiet by default: a stage prints a few lines and its result; per-epoch and
# per-iteration lines go to the rank logs (--log-dir, or WORKDIR/logs in a
# run) and to the terminal only with -v; -q prints nothing on success.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 3000 --d 16 --k 5 --noise 0.5 --out f.h5 >/dev/null
dcrun 2 knn --features f.h5 --k 10 --out knn.h5 >/dev/null
args=(scan --features f.h5 --knn knn.h5 --clusters 5 --epochs 7 --min-steps 0 --no-checkpoint)
dcrun 2 "${args[@]}" --out s1.h5 --log-dir logs >default.txt 2>&1
n=$(grep -c "scan: epoch" default.txt || true)
[[ $n == 0 ]] || fail "$n per-epoch lines on the terminal by default"
# Warnings may print (SCAN's health checks: 7 short epochs may end unfinished).
(( $(grep -vc "WARN" default.txt) <= 8 )) || { cat default.txt; fail "$(grep -vc WARN default.txt) lines for one small stage"; }
grep -q "scan: wrote s1.h5" default.txt || fail "no result line"
[[ $(grep -c "scan: epoch [0-9]*/7:" logs/rank-0.log) == 7 ]] || fail "the rank log lacks the per-epoch lines"
dcrun 2 "${args[@]}" --out s2.h5 -v >verbose.txt 2>&1
[[ $(grep -c "scan: epoch [0-9]*/7:" verbose.txt) == 7 ]] || fail "-v does not show the per-epoch lines"
dcrun 2 -q "${args[@]}" --out s3.h5 >quiet.txt 2>&1 || fail "-q run failed"
[[ ! -s quiet.txt ]] || { cat quiet.txt; fail "-q printed something on success"; }
dcrun 1 kmeans --features f.h5 --k 5 --restarts 3 --no-checkpoint --out km.h5 >km.txt 2>&1
! grep -q " iter " km.txt || fail "k-means prints every iteration by default"
# -q leaves a command's result alone: eval's scores, and with --json nothing
# but the JSON (so it can be piped).
dcrun 1 -q eval --labels f.h5 --pred km.h5 --json >eval.txt 2>&1 || fail "-q eval failed"
$PY -c "import json,sys; d=json.load(open('eval.txt')); assert d['ari'] > 0.5, d" || { cat eval.txt; fail "-q eval --json is not just the JSON"; }
dcrun 1 --help | grep -q "own result (eval's scores" || fail "--help does not say what -q keeps"
DISTCLUST_LOG=verbose "$DC" config >log.txt 2>&1 || fail "config with a bad DISTCLUST_LOG"
grep -q "DISTCLUST_LOG='verbose' is not one of debug|detail|info|warn|error: using info" log.txt ||
  { head -3 log.txt; fail "a bad DISTCLUST_LOG is not said"; }
pass "quiet by default ($(wc -l < default.txt) lines), -v shows epochs, -q nothing"
