#!/usr/bin/env bash
# knn killed after a ring step and started again gives the same knn.h5 (5
# ranks, the graph of 1 rank); a
# features file changed since the checkpoint is refused with a clear error;
# bad k and NaN rows are named.
source "$(dirname "$0")/lib.sh"
# same_graph A.h5 B.h5 WHAT: identical /indices and /similarities.
same_graph() {
  $PY -c "
import h5py, numpy as np, sys
a, b = h5py.File('$1'), h5py.File('$2')
assert np.array_equal(a['indices'][:], b['indices'][:]) and np.array_equal(a['similarities'][:], b['similarities'][:]), '$3: graphs differ'
print('$3: graph identical')"
}
# 5 ranks: the search pass is half a ring, steps 0..2 (own block; the blocks
# of r - 1 and r - 2, each searched both ways with the far side's candidates
# sent back), so a kill after step 2 leaves one step to do.
dcrun 1 synth features --n 9000 --d 16 --k 10 --noise 1.0 --out f.h5
dcrun 1 knn --features f.h5 --k 10 --no-checkpoint --out ref.h5 >/dev/null
dcrun 5 knn --features f.h5 --k 10 --no-checkpoint --out ref5.h5 >/dev/null
same_graph ref.h5 ref5.h5 "5 ranks against 1"
if DISTCLUST_FAULT_AFTER_STEPS=2 dcrun 5 knn --features f.h5 --k 10 --out knn.h5 >kill.txt 2>&1; then fail "not killed"; fi
[[ -d knn.h5.ckpt && ! -e knn.h5 ]] || fail "no checkpoint / output present after kill"
dcrun 5 knn --features f.h5 --k 10 --out knn.h5 > resume.txt
grep -q "resuming from knn.h5.ckpt after 2 of 3 ring steps" resume.txt || { cat resume.txt; fail "did not resume"; }
same_graph ref.h5 knn.h5 "resumed"
[[ ! -e knn.h5.ckpt ]] || fail "checkpoint left after success"
# Checkpoints of another rank count: said, not resumed, and removed with the
# run's own at the end (they were silently left behind: GBs at scale).
rm -f knn.h5
if DISTCLUST_FAULT_AFTER_STEPS=1 dcrun 3 knn --features f.h5 --k 10 --out knn.h5 >kill3.txt 2>&1; then fail "not killed"; fi
dcrun 2 knn --features f.h5 --k 10 --out knn.h5 > other.txt
grep -q "knn.h5.ckpt holds checkpoints of a run on 3 ranks; this run has 2: they are not resumed" other.txt ||
  { cat other.txt; fail "checkpoints of 3 ranks not reported"; }
same_graph ref.h5 knn.h5 "after checkpoints of another rank count"
[[ ! -e knn.h5.ckpt ]] || { ls knn.h5.ckpt; fail "another rank count's checkpoint left after success"; }
# Killed between the ranks' saves: rank 1's checkpoint is missing (or a step
# behind). The ranks must start afresh together, not search again on top of
# rank 0's loaded heap (that gave duplicate neighbours in the Slurm requeue test).
if DISTCLUST_FAULT_AFTER_STEPS=2 dcrun 5 knn --features f.h5 --k 10 --out k3.h5 >/dev/null 2>&1; then fail "not killed"; fi
rm -f k3.h5.ckpt/rank-1-of-5.h5 k3.h5.ckpt/rank-1-of-5.h5.prev
dcrun 5 knn --features f.h5 --k 10 --out k3.h5 > uneven.txt
grep -q "are at ring steps 0..2 of 3 with no common step: starting afresh" uneven.txt || { cat uneven.txt; fail "uneven checkpoints not noticed"; }
same_graph ref.h5 k3.h5 "after uneven checkpoints"
# Killed between the ranks' saves of step 2: rank 1 saved only step 1. Every
# rank keeps two generations, so ranks 0 and 2 go back to step 1 and all
# resume from there (one generation made them start afresh).
if DISTCLUST_FAULT_AFTER_STEPS=2 dcrun 5 knn --features f.h5 --k 10 --out k4.h5 >/dev/null 2>&1; then fail "not killed"; fi
[[ -e k4.h5.ckpt/rank-1-of-5.h5.prev ]] || fail "no previous checkpoint generation kept"
mv k4.h5.ckpt/rank-1-of-5.h5.prev k4.h5.ckpt/rank-1-of-5.h5
dcrun 5 knn --features f.h5 --k 10 --out k4.h5 > behind.txt
grep -q "resuming from k4.h5.ckpt after 1 of 3 ring steps (ranks were at steps 1..2" behind.txt \
  || { cat behind.txt; fail "ranks one step apart did not resume from the common step"; }
same_graph ref.h5 k4.h5 "resumed from the previous generation"
[[ ! -e k4.h5.ckpt ]] || { ls -la k4.h5.ckpt; fail "checkpoint generations left after success"; }
# Rank 1's latest generation changed on disk (zeros over part of its
# heaps): its checksum refuses it, rank 1 goes back to its previous
# generation and the others follow it, one step lost rather than all (the
# changed heaps were resumed before checksums; then it started afresh).
if DISTCLUST_FAULT_AFTER_STEPS=2 dcrun 5 knn --features f.h5 --k 10 --out k5.h5 >/dev/null 2>&1; then fail "not killed"; fi
$PY -c "
import h5py
with h5py.File('k5.h5.ckpt/rank-1-of-5.h5', 'r+') as f:
    f['scores'][100:400] = 0"
dcrun 5 knn --features f.h5 --k 10 --out k5.h5 > damaged.txt 2>&1
grep -q "ignoring checkpoint k5.h5.ckpt/rank-1-of-5.h5: unreadable (checksum mismatch" damaged.txt &&
  grep -q "resuming from k5.h5.ckpt after 1 of 3 ring steps (ranks were at steps 1..2" damaged.txt &&
  grep -q "k5.h5.ckpt/rank-1-of-5.h5: going back to its previous generation (ring step 1)" damaged.txt ||
  { cat damaged.txt; fail "a damaged latest generation: not refused, or not resumed from the previous one"; }
same_graph ref.h5 k5.h5 "resumed past a damaged checkpoint"
# Changed input between kill and resume.
if DISTCLUST_FAULT_AFTER_STEPS=1 dcrun 2 knn --features f.h5 --k 10 --out k2.h5 >/dev/null 2>&1; then fail "not killed"; fi
sleep 1; dcrun 1 synth features --n 9000 --d 16 --k 10 --noise 1.0 --seed 2 --out f.h5 >/dev/null
if dcrun 2 knn --features f.h5 --k 10 --out k2.h5 >changed.txt 2>&1; then fail "changed input accepted"; fi
grep -q "the features file changed since checkpoint" changed.txt || { cat changed.txt; fail "no clear error"; }
# Bad input.
for args in "--k 0:knn.k: 0 must be >= 1" "--k 9000:k=9000 must be below the number of valid rows (9000 of 9000)" \
            "--metric dot:knn.metric: 'dot' is not one of cosine|l2" "--mode hnsw:knn.mode: 'hnsw' is not one of exact|ivf" \
            "--mode ivf --target-recall 1.5:knn.target_recall: 1.5 must be in (0, 1]" \
            "--mode ivf --tune-sample -3:knn.tune_sample: -3 must be >= 0"; do
  a=${args%%:*}; msg=${args#*:}
  if dcrun 1 knn --features f.h5 $a --out bad.h5 >bad.txt 2>&1; then fail "$a accepted"; fi
  grep -qF "$msg" bad.txt || { cat bad.txt; fail "$a: message lacks '$msg'"; }
  [[ ! -e bad.h5 ]] || fail "$a left output"
done
$PY -c "
import h5py, numpy as np
x = np.random.rand(100, 4).astype(np.float32); x[42, 1] = np.nan
h5py.File('nan.h5', 'w')['features'] = x"
if dcrun 1 knn --features nan.h5 --k 3 --out bad.h5 >bad.txt 2>&1; then fail "NaN accepted"; fi
grep -q "row 42 holds NaN" bad.txt || fail "NaN row not named"
pass "knn resume and bad input"
