#!/usr/bin/env bash
# Paths on node-local storage (audit X): on a multi-node job each node has
# its own /tmp, so ranks see different files of one name. Emulated here with
# a private mount namespace per rank: ranks other than 0 see their own tmpfs
# at local/ (POP: a folder copied into it). Each case once hung until killed,
# committed a corrupt output with rc 0, or clustered mixed data silently.
# Needs root (unshare -m, mount); skipped otherwise.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] && unshare -m true 2>/dev/null || { echo "SKIP: needs root and unshare -m to emulate node-local storage"; exit 77; }
mkdir local pop
cat > wrap.sh <<'W'
#!/usr/bin/env bash
exec unshare -m --propagation private bash -c '
if [[ $OMPI_COMM_WORLD_RANK != 0 ]]; then
  mount -t tmpfs none "$LOCAL"
  if [[ -n ${POP:-} && -n ${DELAY:-} ]]; then (sleep "$DELAY"; cp -a "$POP"/. "$LOCAL"/) &
  elif [[ -n ${POP:-} ]]; then cp -a "$POP"/. "$LOCAL"/; fi
fi
exec "$@"' _ "$@"
W
chmod +x wrap.sh
export LOCAL=$PWD/local
dcrun 1 synth features --n 900 --d 8 --k 3 --seed 1 --out f.h5 >/dev/null
dcrun 1 synth features --n 900 --d 8 --k 3 --seed 2 --out f2.h5 >/dev/null
dcrun 1 synth images --classes 2 --per-class 40 --size 16 --out img >/dev/null
# run NP EXPECTED_TEXT ARGS...: fails within the timeout, the text said once, nothing committed
run() {
  local np=$1 want=$2 start rc=0; shift 2
  start=$(date +%s)
  timeout 60 $DC_MPIEXEC -n "$np" ./wrap.sh "$DC" "$@" >out.txt 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] || { cat out.txt; fail "$np ranks, $*: rc $rc (124: hung)"; }
  [[ $(grep -c -- "$want" out.txt) == 1 ]] || { cat out.txt; fail "$np ranks, $*: not said once: $want"; }
  echo "  $np ranks: ended in $(( $(date +%s) - start )) s: $(grep -o -- "$want" out.txt)"
}
shared=": every rank must see the same file (a path on node-local storage"
for np in 2 3; do
  # --out only rank 0 sees (the collective create hung).
  rm -rf local/* pop/*
  run $np "do not see the file $LOCAL/k.h5.tmp that rank 0 created" kmeans --features f.h5 --k 3 --out $LOCAL/k.h5
  run $np "do not see the file $LOCAL/s.h5.tmp that rank 0 created" extract --source img --backbone pixels --out $LOCAL/s.h5
  [[ ! -e local/k.h5 && ! -e local/k.h5.tmp && ! -e local/s.h5 ]] || fail "an output or its .tmp left"
  # A stale k.h5.tmp in the other ranks' local folder: they wrote into it and
  # rank 0 committed a corrupt k.h5 with rc 0.
  echo stale > pop/k.h5.tmp
  POP=$PWD/pop run $np "do not see the file $LOCAL/k.h5.tmp that rank 0 created" kmeans --features f.h5 --k 3 --out $LOCAL/k.h5
  [[ ! -e local/k.h5 ]] || fail "a k.h5 committed"
  # The input: another file of that name on the other ranks (mixed data).
  rm -rf pop/*; cp f.h5 local/in.h5; cp f2.h5 pop/in.h5
  POP=$PWD/pop run $np "the ranks see different files at input $LOCAL/in.h5: rank 0 sees" kmeans --features $LOCAL/in.h5 --k 3 --out k.h5
  grep -q -- "$shared" out.txt || { cat out.txt; fail "the cause not named"; }
  [[ ! -e k.h5 ]] || fail "k.h5 written from mixed inputs"
done
pass "node-local --out, a stale local .tmp and a node-local input: one clear error, nothing committed"

# The same input shown 2 s late on the other ranks (an NFS client's cached
# folder): waited for, not failed as missing; the result is 1 rank's.
rm -rf local/* pop/*; cp f.h5 local/in.h5; cp -p local/in.h5 pop/in.h5
dcrun 1 kmeans --features f.h5 --k 3 --seed 4 --out k1.h5 >/dev/null
rc=0; POP=$PWD/pop DELAY=2 timeout 60 $DC_MPIEXEC -n 3 ./wrap.sh "$DC" kmeans --features $LOCAL/in.h5 --k 3 --seed 4 --out k3.h5 >late.txt 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { cat late.txt; fail "an input shown 2 s late: rc $rc"; }
grep -q "ranks agreed on $LOCAL/in.h5 after" late.txt || { cat late.txt; fail "no wait said"; }
$PY -c "
import h5py, numpy as np
a, b = h5py.File('k1.h5', 'r'), h5py.File('k3.h5', 'r')
assert (a['assign'][:] == b['assign'][:]).all(), 'assignments differ'" || fail "3 ranks after the wait differ from 1 rank"
pass "an input shown 2 s late on the other ranks: waited for ($(grep -o 'after [0-9]* tries' late.txt))"

# Byte-identical copies staged onto each node's disk, made at other times:
# one input (they were refused for their times alone).
rm -rf local/* pop/*; cp f.h5 local/in.h5; touch -d '2 hours ago' local/in.h5; cp f.h5 pop/in.h5
POP=$PWD/pop timeout 60 $DC_MPIEXEC -n 2 ./wrap.sh "$DC" kmeans --features $LOCAL/in.h5 --k 3 --seed 4 --out k2.h5 >staged.txt 2>&1 ||
  { cat staged.txt; fail "identical staged copies refused"; }
pass "byte-identical staged copies of an input: accepted"

# extract's checkpoint seen by rank 0 only: each rank decided alone whether
# to resume (reopen on one, create on the other) and the job hung.
rm -rf local/* pop/*
DISTCLUST_FAULT_AFTER_BATCHES=2 timeout 60 "$DC" extract --source img --backbone pixels --batch 64 --out $LOCAL/e.h5 >/dev/null 2>&1 &&
  fail "the fault point did not stop extract"
[[ -f local/e.h5.tmp ]] || fail "no checkpoint left"
run 2 "the ranks see different files at extract's checkpoint $LOCAL/e.h5.tmp: rank 0 sees" extract --source img --backbone pixels --batch 64 --out $LOCAL/e.h5
[[ -f local/e.h5.tmp ]] || fail "the checkpoint was removed"
# With every rank seeing it, the same resume works.
timeout 60 $DC_MPIEXEC -n 2 "$DC" extract --source img --backbone pixels --batch 64 --out $LOCAL/e.h5 >res.txt 2>&1 || { cat res.txt; fail "resume"; }
grep -q "resum" res.txt || { cat res.txt; fail "did not resume"; }
pass "extract: a checkpoint only rank 0 sees is said; seen by all, it resumes"
