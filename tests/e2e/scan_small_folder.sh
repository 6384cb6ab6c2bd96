#!/usr/bin/env bash
# Issue 16 item 4 on a folder of 200 images (20 per class of CIFAR-10
# test1k, ResNet-20 features), as `distclust run` with the defaults:
#  - scan.min_steps: 200 rows at batch 256 are one step an epoch; the 60
#    default epochs are extended to 500 (logged, scan.h5 steps/epochs_run);
#  - a healthy run has no warning; with --set scan.min_steps=0 (60 steps)
#    the health checks warn in the log, the summary, scan.h5 `warnings` and
#    a box at the top of the report;
#  - the summary, scores.json "methods" and the report show k-means and
#    SCAN scores side by side, equal to `distclust eval` of each file.
source "$(dirname "$0")/lib.sh"
SHARED=$DC_SOURCE/../shared
# The first 20 files of each class (a sorted glob: `sort | head` can die
# of SIGPIPE under pipefail).
for c in "$SHARED"/data/cifar10-test1k/*/; do
  mkdir -p "imgs/$(basename "$c")"
  files=("$c"*)
  cp "${files[@]:0:20}" "imgs/$(basename "$c")/"
done
[[ $(find imgs -type f | wc -l) == 200 ]] || fail "the folder does not hold 200 images"
cat > run.yaml <<YAML
run: {workdir: w, stages: "extract,kmeans,knn,scan,eval,report"}
extract: {source: imgs, backbone: $SHARED/models/cifar10-resnet20.pt}
kmeans: {k: 10}
knn: {k: 20}
scan: {clusters: 10}
YAML
dcrun 2 run --config run.yaml >ok.txt 2>&1 || { cat ok.txt; fail "the run failed"; }
grep -q "scan: 200 rows at batch 256 are 1 optimiser steps an epoch: 60 epochs would be 60 steps, fewer than --min-steps 500; running 500 epochs (500 steps)" ok.txt \
  || { grep "scan:" ok.txt; fail "the extension for --min-steps is not logged"; }
! grep -q "WARN" ok.txt || { grep WARN ok.txt; fail "warnings on a healthy run"; }
! grep -q "SCAN WARNING" ok.txt || fail "summary warns about a healthy run"
grep -q "scan: 500 optimiser steps (500 epochs x 1; --epochs 60 extended for --min-steps 500)" ok.txt \
  || { grep -A30 "run: summary" ok.txt; fail "the summary does not give the steps"; }
grep -A3 "scores side by side:" ok.txt | grep -q "kmeans  ACC" || { grep -A30 "run: summary" ok.txt; fail "no k-means scores in the summary"; }
grep -A3 "scores side by side:" ok.txt | grep -q "scan    ACC" || fail "no SCAN scores in the summary"
[[ ! -e w/report/index.html ]] || ! grep -q 'id="warnings"' w/report/index.html || fail "warning box on a healthy run"
km=$(dcrun 1 eval --pred w/kmeans.h5 --labels w/features.h5 --json | tail -1)
sc=$(dcrun 1 eval --pred w/scan.h5 --labels w/features.h5 --json | tail -1)
$PY - "$km" "$sc" <<'PY' || fail "scan.h5 or the side-by-side scores are wrong"
import h5py, json, re, sys
km, sc = json.loads(sys.argv[1]), json.loads(sys.argv[2])
s = h5py.File("w/scan.h5", "r")
assert int(s.attrs["steps"]) == 500 and int(s.attrs["epochs_run"]) == 500, dict(s.attrs)
assert s["loss"].shape == (500, 10) and json.loads(s.attrs["warnings"]) == [], s.attrs["warnings"]
assert s.attrs["head"] in ("mlp", b"mlp"), "the default head is not mlp"
j = json.load(open("w/scores.json"))
assert set(j["methods"]) == {"kmeans", "scan"}, j.keys()
assert j["acc"] == j["methods"]["scan"]["acc"] == sc["acc"], (j, sc)
assert j["methods"]["kmeans"]["acc"] == km["acc"] and j["methods"]["kmeans"]["nmi"] == km["nmi"]
page = open("w/report/index.html", encoding="utf-8").read()
for name, ref in (("kmeans", km), ("scan", sc)):
    row = re.search(r'<tr data-method="%s">(.*?)</tr>' % name, page)
    assert row, f"no {name} row in the report's side-by-side table"
    assert f"{ref['acc']:.4f}" in row.group(1) and f"{ref['ari']:.4f}" in row.group(1), row.group(1)
print(f"k-means ACC {km['acc']:.3f}, SCAN ACC {sc['acc']:.3f} (500 steps, mean confidence {s.attrs['mean_confidence']:.3f})")
PY
# Resume within extended epochs: a checkpoint every 500 / 60 = 8 epochs; a
# job killed after 100 resumes after 96 and ends with the same scan.h5.
a=(scan --features w/features.h5 --knn w/knn.h5 --clusters 10 --head linear)
dcrun 2 "${a[@]}" --out ref.h5 >ref.txt 2>&1 || { cat ref.txt; fail "scan failed"; }
if DISTCLUST_FAULT_AFTER_EPOCHS=100 dcrun 2 "${a[@]}" --out r.h5 >kill.txt 2>&1; then fail "the injected kill did not stop the job"; fi
[[ -e r.h5.ckpt && ! -e r.h5 ]] || fail "no checkpoint (or a scan.h5) after the kill"
dcrun 2 "${a[@]}" --out r.h5 >resume.txt 2>&1 || { cat resume.txt; fail "resume failed"; }
grep -q "resuming from r.h5.ckpt after 96 SCAN epochs" resume.txt || { grep scan: resume.txt; fail "did not resume after epoch 96"; }
$PY - <<'PY' || fail "the resumed scan.h5 differs"
import h5py, numpy as np
a, b = h5py.File("ref.h5", "r"), h5py.File("r.h5", "r")
for k in a.keys():
    assert np.array_equal(a[k][:], b[k][:]), f"/{k} differs after resume"
assert int(b.attrs["steps"]) == 500, b.attrs["steps"]
PY
# Provoked: exactly the 60 default epochs, 60 steps.
dcrun 2 run --config run.yaml --set scan.min_steps=0 >bad.txt 2>&1 || { cat bad.txt; fail "the second run failed"; }
grep -q "WARN: scan: WARNING: the SCAN training did not end well (60 optimiser steps, 60 epochs)" bad.txt \
  || { grep scan: bad.txt; fail "no loud warning in the log"; }
grep -q "SCAN WARNING: loss still falling" bad.txt || { grep -A30 "run: summary" bad.txt; fail "no warning in the summary"; }
grep -q "SCAN WARNING: low confidence" bad.txt || fail "low confidence not in the summary"
$PY - <<'PY' || fail "the warnings are not stored or not shown"
import h5py, json, re
s = h5py.File("w/scan.h5", "r")
w = json.loads(s.attrs["warnings"])
assert int(s.attrs["steps"]) == 60 and any(x.startswith("loss still falling") for x in w), w
assert float(s.attrs["mean_confidence"]) < 0.5, s.attrs["mean_confidence"]
page = open("w/report/index.html", encoding="utf-8").read()
box = re.search(r'<section class="warnbox" id="warnings">(.*?)</section>', page, re.S)
assert box and page.index('id="warnings"') < page.index('id="summary"'), "no warning box above the summary"
for x in w:
    assert x.split(":")[0] in box.group(1), x
print("warnings:", "; ".join(x.split(":")[0] for x in w))
PY
pass "200 images: 500 steps by default, healthy and quiet, resumed within them; 60 steps warned in log, summary, scan.h5 and report"
