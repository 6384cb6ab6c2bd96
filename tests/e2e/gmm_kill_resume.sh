#!/usr/bin/env bash
# A gmm job killed mid-way (SIGKILL after N checkpointed EM iterations) and
# started again ends with the same gmm.h5 as a job that never stopped; and
# 1, 2 and 3 ranks write the same gmm.h5 (exact sums: bit-identical).
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 12000 --d 6 --k 8 --noise 1.0 --seed 5 --out f.h5 >/dev/null
args=(gmm --features f.h5 --k 8 --iters 10 --tol 0 --restarts 2 --seed 9)
same() {  # same A.h5 B.h5: every dataset equal
  $PY - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for name in a:
    assert np.array_equal(a[name][:], b[name][:]), f"/{name} differs: {sys.argv[1]} vs {sys.argv[2]}"
for key in ["final_log_likelihood", "bic", "iterations", "best_restart", "config_hash"]:
    assert a.attrs[key] == b.attrs[key], key
PY
}
dcrun 2 "${args[@]}" --out ref.h5 >/dev/null 2>&1
for np in 1 3; do
  dcrun $np "${args[@]}" --out r$np.h5 >/dev/null 2>&1
  same ref.h5 r$np.h5 || fail "$np ranks wrote another gmm.h5 than 2 ranks"
done
pass "1, 2 and 3 ranks: identical gmm.h5"
for at in 4 10 13; do  # mid restart 0, end of restart 0, mid restart 1
  rm -f g.h5 g.h5.ckpt
  if DISTCLUST_FAULT_AFTER_EM_ITERS=$at dcrun 2 "${args[@]}" --out g.h5 >log-$at.txt 2>&1; then
    fail "the injected kill after $at iterations did not stop the job"
  fi
  [[ -e g.h5.ckpt ]] || fail "no checkpoint after a kill at iteration $at"
  [[ ! -e g.h5 ]] || fail "a gmm.h5 exists although the job was killed"
  dcrun 2 "${args[@]}" --out g.h5 >resume-$at.txt 2>&1 || { cat resume-$at.txt; fail "resume failed"; }
  grep -q "resuming from g.h5.ckpt" resume-$at.txt || fail "the second run did not resume"
  same ref.h5 g.h5 || fail "resumed after a kill at $at: another gmm.h5"
  [[ ! -e g.h5.ckpt ]] || fail "the checkpoint was left behind"
  pass "killed after $at iterations, resumed, identical output"
done
DISTCLUST_FAULT_AFTER_EM_ITERS=2 dcrun 1 "${args[@]}" --out g2.h5 >/dev/null 2>&1 || true
dcrun 1 gmm --features f.h5 --k 8 --iters 10 --tol 0 --restarts 2 --seed 9 --covariance diag --out g2.h5 >other.txt 2>&1
grep -q "ignoring checkpoint" other.txt || fail "a checkpoint made with other parameters was not ignored"
pass "foreign checkpoint ignored"
