# Shared helpers for end-to-end tests (sourced).
set -euo pipefail
: "${DC:?path to the distclust binary}"
: "${DC_TMP:=/tmp/dc-e2e}"
PY=/usr/bin/python3  # Debian's python with numpy/h5py/sklearn
rm -rf "$DC_TMP" && mkdir -p "$DC_TMP" && cd "$DC_TMP"
export GTEST_COLOR=no
dcrun() { local np=$1; shift; $DC_MPIEXEC -n "$np" "$DC" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
# json_get FILE KEY -> value
json_get() { $PY -c "import json,sys; print(json.load(open('$1'))['$2'])"; }
# ge A B: A >= B as floats
ge() { $PY -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
# hold_at_output OUT LOG SECONDS CMD...: runs CMD in the background (HOLD_PID)
# under strace, its first open of OUT.tmp (the output's creation, after the
# inputs were read) delayed by SECONDS, and returns once OUT.lock exists (the
# job holds its output): the caller changes an input in that window. Needs
# strace (tools/setup-debian.sh --test installs it).
hold_at_output() {
  local out=$1 log=$2 secs=$3; shift 3
  timeout 120 strace -f -qq -o /dev/null -P "$out.tmp" -e trace=openat,open \
    -e inject=openat,open:delay_enter=$((secs * 1000000)):when=1 "$@" >"$log" 2>&1 &
  HOLD_PID=$!
  for _ in $(seq 600); do [[ -e $out.lock ]] && break; sleep 0.05; done
  [[ -e $out.lock ]] || { cat "$log"; fail "$* did not start"; }
}
# start_long_kmeans NP OUT [FEATURES K WAIT]: kmeans of FEATURES (f.h5) into
# K (50) clusters with far more iterations than a test waits for, in the
# background (JOB); returns once rank 0 has started the stage (the heartbeat
# and the collective watch run from then on), or with WAIT once its verbose
# log has a line matching WAIT.
start_long_kmeans() {
  local np=$1 out=$2 features=${3:-f.h5} k=${4:-50} wait=${5:-} v=""
  [[ -z $wait ]] && wait="kmeans: $features:" || v=-v
  rm -f "$out" "$out".ckpt "$out".tmp
  timeout 120 $DC_MPIEXEC -n "$np" "$DC" kmeans $v --features "$features" --k "$k" --set kmeans.iters=100000 \
    --set kmeans.tol=0 --out "$out" >"$out.log" 2>&1 &
  JOB=$!
  for _ in $(seq 1200); do grep -q "$wait" "$out.log" && break; sleep 0.05; done
  grep -q "$wait" "$out.log" || { cat "$out.log"; fail "$np ranks: the job did not start"; }
}
# rank_pids RANK...: this test's `distclust kmeans` processes with those
# ranks (found by command line, working directory and environment: the
# process is named "exe", distclust re-executes itself).
rank_pids() {
  local p want here
  here=$(pwd -P)
  for p in $(pgrep -f -- "$DC kmeans"); do
    [[ $(readlink "/proc/$p/cwd" 2>/dev/null) == "$here" ]] || continue
    for want in "$@"; do
      if grep -qxz "OMPI_COMM_WORLD_RANK=$want" "/proc/$p/environ" 2>/dev/null; then echo "$p"; fi
    done
  done
}
