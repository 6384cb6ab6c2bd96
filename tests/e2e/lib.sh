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
