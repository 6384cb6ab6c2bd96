#!/usr/bin/env bash
# A SCAN job killed after N checkpointed epochs (SIGKILL via
# DISTCLUST_FAULT_AFTER_EPOCHS) and started again ends with the same scan.h5
# as a job that never stopped: mid-SCAN, at the end of SCAN, mid self-labelling.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 8000 --d 24 --k 8 --noise 1.0 --seed 6 --out f.h5
dcrun 1 knn --features f.h5 --k 15 --out knn.h5 >/dev/null
# --min-steps 0: exactly 12 SCAN epochs, so that the kills land mid-SCAN, at
# its end and mid self-labelling (scan_min_steps.sh covers the extension).
args=(scan --features f.h5 --knn knn.h5 --clusters 8 --epochs 12 --min-steps 0 --head mlp --hidden 32 --self-label --threshold 0.9 --self-label-epochs 4)
dcrun 2 "${args[@]}" --out ref.h5 >ref.txt
for at in 5 12 14; do
  rm -f s.h5 s.h5.ckpt
  if DISTCLUST_FAULT_AFTER_EPOCHS=$at dcrun 2 "${args[@]}" --out s.h5 >kill-$at.txt 2>&1; then
    fail "the injected kill after $at epochs did not stop the job"
  fi
  [[ -e s.h5.ckpt ]] || fail "no checkpoint after a kill at epoch $at"
  [[ ! -e s.h5 ]] || fail "a scan.h5 exists although the job was killed"
  dcrun 2 "${args[@]}" --out s.h5 >resume-$at.txt 2>&1 || { cat resume-$at.txt; fail "resume failed"; }
  grep -q "resuming from s.h5.ckpt" resume-$at.txt || fail "the second run did not resume"
  [[ ! -e s.h5.ckpt ]] || fail "checkpoint left after a finished run"
  $PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("ref.h5", "r"), h5py.File("s.h5", "r")
for k in a.keys():
    assert np.array_equal(a[k][:], b[k][:]), f"/{k} differs after resume"
PY
  pass "killed after $at epochs, resumed: $(grep -o 'resuming.*' resume-$at.txt), identical scan.h5"
done
# A checkpoint made with other parameters is ignored.
DISTCLUST_FAULT_AFTER_EPOCHS=3 dcrun 1 "${args[@]}" --out s2.h5 >/dev/null 2>&1 || true
dcrun 1 "${args[@]}" --seed 7 --out s2.h5 >other.txt 2>&1
grep -q "ignoring checkpoint" other.txt || fail "a checkpoint made with other parameters was not ignored"
pass "foreign checkpoint ignored"
