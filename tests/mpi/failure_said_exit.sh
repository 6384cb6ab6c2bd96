#!/usr/bin/env bash
# Runs failure_said_exit under 3 ranks, 10 times: each run must end non-zero
# with rank 0's line "ERROR: every rank failed on purpose" in its output.
set -u
exe=$1; shift  # then the mpiexec command line
lost=0
for i in $(seq 1 10); do
  rc=0
  out=$(timeout 60 "$@" -n 3 "$exe" 2>&1) || rc=$?
  if [[ $rc -eq 0 || $rc -eq 124 ]]; then echo "$out"; echo "FAIL: run $i: rc $rc (124: hung)"; exit 1; fi
  grep -q "ERROR: every rank failed on purpose" <<<"$out" || { echo "run $i lost the line (rc $rc):"; echo "$out"; lost=$((lost + 1)); }
done
[[ $lost -eq 0 ]] || { echo "FAIL: the error line was lost in $lost of 10 runs"; exit 1; }
echo "PASS: the error line was said in 10 of 10 runs"
