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
