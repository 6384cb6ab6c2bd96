#!/usr/bin/env bash
# SCAN bad input: mismatched features/knn files (row count, config hash),
# C < 2, C above the valid rows, all rows invalid, a knn file that is not one:
# each exits non-zero, names the values and leaves no scan.h5. And the
# collapse guard: entropy weight 0 collapses, which is flagged loudly.
source "$(dirname "$0")/lib.sh"
# --help lists the flags issue 5 names, with defaults.
help=$("$DC" scan --help)
for f in --features --knn --clusters --out --heads --epochs --batch --lr --weight-decay --entropy-weight --head \
         --hidden --self-label --threshold --self-label-epochs --seed --memory-budget --neighbour-features; do
  grep -q -- "$f" <<<"$help" || fail "'scan --help' lacks $f"
done
grep -q "linear|mlp" <<<"$help" || fail "head choices not in scan --help"
dcrun 1 synth features --n 300 --d 8 --k 3 --seed 1 --out a.h5
dcrun 1 synth features --n 300 --d 8 --k 3 --seed 2 --out b.h5
dcrun 1 synth features --n 400 --d 8 --k 3 --seed 1 --out c.h5
for f in a b c; do dcrun 1 knn --features $f.h5 --k 10 --out knn-$f.h5 >/dev/null; done
$PY - <<'PY'
import h5py, shutil
shutil.copy("a.h5", "inv.h5")
with h5py.File("inv.h5", "a") as f: f["valid"][:] = 0
shutil.copy("a.h5", "few.h5")
with h5py.File("few.h5", "a") as f:
    v = f["valid"][:]; v[4:] = 0; f["valid"][:] = v
PY
n=0
check() {  # check NP "expected message" args...
  local np=$1 msg=$2; shift 2
  n=$((n + 1))
  rm -f out.h5 out.h5.tmp
  if timeout 60 $DC_MPIEXEC -n "$np" "$DC" scan "$@" --out out.h5 >out.txt 2>&1; then
    cat out.txt; fail "case $n ($*) succeeded"
  fi
  local rc=$?
  [[ $rc -ne 124 ]] || fail "case $n ($*) hung"
  grep -qF -- "$msg" out.txt || { cat out.txt; fail "case $n ($*): message lacks '$msg'"; }
  [[ ! -e out.h5 ]] || fail "case $n ($*) left out.h5"
  echo "ok $n: $* -> $(grep -F -- "$msg" out.txt | head -1 | sed 's/^.*ERROR: //')"
}
check 2 "a.h5 has 300 rows but knn-c.h5 has 400 rows" --features a.h5 --knn knn-c.h5 --clusters 3
hb=$($PY -c "import h5py; print(h5py.File('b.h5').attrs['config_hash'].decode())")
check 2 "knn-b.h5 was built from features $hb but a.h5 is now " --features a.h5 --knn knn-b.h5 --clusters 3
check 1 "scan.clusters: 1 must be >= 2" --features a.h5 --knn knn-a.h5 --clusters 1
check 2 "clusters=301 exceeds the number of valid rows (300 of 300" --features a.h5 --knn knn-a.h5 --clusters 301
check 2 "clusters=5 exceeds the number of valid rows (4 of 300" --features few.h5 --knn knn-a.h5 --clusters 5
check 3 "all 300 rows are invalid" --features inv.h5 --knn knn-a.h5 --clusters 3
check 1 "has no /indices dataset" --features a.h5 --knn a.h5 --clusters 3
# Float neighbour ids were truncated to rows (3.7 -> 3); embed refused them, scan did not.
$PY -c "
import h5py, shutil
shutil.copy('knn-a.h5', 'fknn.h5')
with h5py.File('fknn.h5', 'a') as f:
    i = f['indices'][:]; del f['indices']; f['indices'] = i.astype('float32') + 0.7"
check 2 "fknn.h5: /indices is 300 x 10 float32, expected [N x k] integers" --features a.h5 --knn fknn.h5 --clusters 3
check 1 "no neighbour graph given" --features a.h5 --clusters 3
check 1 "scan.head: 'conv' is not one of linear|mlp" --features a.h5 --knn knn-a.h5 --clusters 3 --head conv
check 1 "knn file missing.h5 does not exist" --features a.h5 --knn missing.h5 --clusters 3
# Collapse guard: without the entropy term every head collapses; the job ends
# but says so loudly and records it.
dcrun 2 scan --features c.h5 --knn knn-c.h5 --clusters 3 --entropy-weight 0 --epochs 20 --out col.h5 >col.txt 2>&1
grep -q "COLLAPSE" col.txt || { cat col.txt; fail "collapse not reported"; }
$PY - <<'PY'
import h5py
s = h5py.File("col.h5", "r")
assert int(s.attrs["collapse"]) == 1, "collapse not recorded in scan.h5"
print("collapse recorded:", s.attrs["collapse_note"].decode(), "; sizes", s["cluster_sizes"][:].tolist())
PY
dcrun 2 scan --features c.h5 --knn knn-c.h5 --clusters 3 --out ok.h5 >ok.txt 2>&1
! grep -q "COLLAPSE" ok.txt || fail "collapse reported on a healthy run"
# More neighbours than the graph holds: lowered, and said (it was silent).
grep -q "scan.neighbours=50 lowered to" ok.txt && fail "the lowering said without being asked"
dcrun 2 scan --features c.h5 --knn knn-c.h5 --clusters 3 --neighbours 50 --epochs 2 --out nb.h5 >nb.txt 2>&1 ||
  { cat nb.txt; fail "scan --neighbours 50"; }
[[ $(grep -c "scan.neighbours=50 lowered to [0-9]*: knn-c.h5 holds" nb.txt) -eq 1 ]] || { cat nb.txt; fail "not said once"; }
pass "scan bad input and collapse guard"
