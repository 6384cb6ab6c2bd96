#!/usr/bin/env bash
# A TorchScript model's JSON sidecar (input size, mean, std) decides the
# features as much as the model's bytes do:
#  1. `run` after the sidecar was edited extracts again (it skipped extract
#     as up to date and kept the old features: the sidecar was in no
#     identity), and the features are those of the new sidecar;
#  2. the sidecar replaced while extract runs: the commit is refused naming
#     it (extract watched none of its inputs), nothing is committed, and
#     the rerun succeeds;
#  3. a killed extract resumed after the sidecar was edited starts afresh
#     (it resumed the old transform's rows: one file of two transforms).
# (assign --source refusing an edited sidecar: assign_new_images.sh.)
source "$(dirname "$0")/lib.sh"
DATA="$DC_SOURCE/../shared/data/cifar10-test1k"
MODEL="$DC_SOURCE/../shared/models/cifar10-resnet20.pt"
[[ -d $DATA && -f $MODEL ]] || { echo "SKIP: no shared CIFAR images or model"; exit 77; }
cp "$MODEL" m.pt && cp "${MODEL%.pt}.json" m.json
same_features() {  # A B: the /features arrays are equal
  $PY -c "
import h5py, numpy as np, sys
sys.exit(0 if np.array_equal(h5py.File('$1','r')['features'][:], h5py.File('$2','r')['features'][:]) else 1)"; }

# 1. run, sidecar edited between two runs.
cat >job.yaml <<YAML
run: {workdir: w, stages: "extract,kmeans"}
extract: {source: $DATA, backbone: m.pt, progress_seconds: 0}
kmeans: {k: 10, seed: 1}
YAML
dcrun 1 run --config job.yaml >run1.txt 2>&1 || { cat run1.txt; fail "run 1"; }
cp w/features.h5 before.h5
dcrun 1 run --config job.yaml >run2.txt 2>&1 || { cat run2.txt; fail "run 2"; }
grep -q "extract: skipped (up to date)" run2.txt || { cat run2.txt; fail "an unchanged run did not skip extract"; }
sed -i 's/0.485/0.2/' m.json   # another mean for the red channel
dcrun 1 run --config job.yaml >run3.txt 2>&1 || { cat run3.txt; fail "run 3"; }
grep -q "extract: skipped" run3.txt && { cat run3.txt; fail "run skipped extract after the sidecar's mean was edited"; }
grep -q "kmeans: skipped" run3.txt && { cat run3.txt; fail "run skipped kmeans on the new features"; }
same_features before.h5 w/features.h5 && fail "run 3's features are the old sidecar's"
dcrun 1 extract --source "$DATA" --backbone m.pt --out direct.h5 >/dev/null 2>&1 || fail "extract with the edited sidecar"
same_features direct.h5 w/features.h5 || fail "run 3's features are not those of the edited sidecar"
$PY -c "import h5py; p = h5py.File('w/features.h5','r').attrs['preprocessing']; p = p.decode() if isinstance(p, bytes) else p; assert '0.2' in p, p" \
  || fail "features.h5's preprocessing attribute does not record the edited mean"
pass "run after the sidecar was edited: extract and kmeans ran again, features of the new sidecar"

# 2. The sidecar replaced mid-extract: strace holds extract at its output's
#    creation (the model and sidecar already read) while it is replaced.
if command -v strace >/dev/null; then
  cp m.json m2.json && sed -i 's/0.456/0.3/' m2.json
  ex=(extract --source "$DATA" --backbone m.pt --out f.h5 --progress-seconds 0)
  hold_at_output f.h5 mid.txt 4 "$DC" "${ex[@]}"
  sleep 1.5
  mv m2.json m.json
  set +e; wait $HOLD_PID; rc=$?; set -e
  [[ $rc -ne 0 ]] || { cat mid.txt; fail "extract committed although the model's sidecar was replaced mid-run"; }
  grep -q "input m.json changed while this stage ran" mid.txt || { cat mid.txt; fail "the refusal does not name the sidecar"; }
  [[ ! -e f.h5 && ! -e f.h5.tmp ]] || { ls; fail "a refused extract left f.h5 or f.h5.tmp"; }
  dcrun 1 "${ex[@]}" >rerun.txt 2>&1 || { cat rerun.txt; fail "extract after the replacement"; }
  pass "sidecar replaced mid-extract: refused ($(grep -m1 -o 'input m.json changed[^(]*' mid.txt)), rerun commits"
else
  echo "SKIP (case 2): no strace to hold extract while its sidecar is replaced"
fi

# 3. Killed after 3 batches, sidecar edited, resumed: the .tmp is ignored.
cp "${MODEL%.pt}.json" m.json
rm -f k.h5 k.h5.tmp
set +e; DISTCLUST_FAULT_AFTER_BATCHES=3 dcrun 1 extract --source "$DATA" --backbone m.pt --batch 64 --out k.h5 >kill.txt 2>&1; set -e
[[ -e k.h5.tmp && ! -e k.h5 ]] || { cat kill.txt; fail "the injected kill left no k.h5.tmp"; }
sed -i 's/0.485/0.2/' m.json
dcrun 1 extract --source "$DATA" --backbone m.pt --batch 64 --out k.h5 --resume >resume.txt 2>&1 || { cat resume.txt; fail "resume"; }
grep -q "ignoring k.h5.tmp (made with other settings" resume.txt || { cat resume.txt; fail "a .tmp of the old sidecar was resumed into"; }
same_features k.h5 direct.h5 || fail "the resumed file is not the edited sidecar's features"
pass "resume after the sidecar was edited: the old .tmp ignored, features of the new sidecar"
