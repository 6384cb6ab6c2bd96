#!/usr/bin/env bash
# export --duplicates on planted near-duplicates among 150 CIFAR-10 test
# images: A = one image three times (two exact copies, one in another class
# folder), B = an image and a copy with 5% of its pixels changed by 1, C = a
# chain: an image, +6 and +12 brightness (by l2 on pixels, C0-C1 and C1-C2
# pass the threshold but C0-C2 does not: C is one group only through C1).
# Checked: exactly the planted groups are found (ResNet-20 features, cosine;
# pixels, l2), in the documented order and columns; identical on 1, 2 and 3
# ranks (A spans the rank blocks); a pair exactly at the threshold counts and
# one a float step past it does not; thresholds that make no sense for the
# graph's metric are refused by name; the report's Near-duplicates section
# (given the CSV, and in a run where export comes before report).
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
model="$shared/models/cifar10-resnet20.pt"

$PY - "$shared/data/cifar10-test1k" <<'PY'
import glob, json, os, shutil, sys
import numpy as np
from PIL import Image
src = sys.argv[1]
for c in sorted(os.listdir(src)):
    os.makedirs(f"imgs/{c}")
    for f in sorted(glob.glob(f"{src}/{c}/*.png"))[:15]:
        shutil.copy(f, f"imgs/{c}/")
a, b, c = (sorted(glob.glob(f"imgs/{k}/*.png"))[i] for k, i in (("cat", 3), ("ship", 5), ("horse", 7)))
shutil.copy(a, "imgs/cat/dupA1.png")
shutil.copy(a, "imgs/dog/dupA2.png")
x = np.asarray(Image.open(b).convert("RGB")).astype(np.int16)
m = np.random.default_rng(1).random(x.shape[:2]) < 0.05
x[m] = np.clip(x[m] + 1, 0, 255)
Image.fromarray(x.astype(np.uint8)).save("imgs/ship/dupB.png")
y = np.asarray(Image.open(c).convert("RGB")).astype(np.int16)
for s in (1, 2):
    Image.fromarray(np.clip(y + 6 * s, 0, 255).astype(np.uint8)).save(f"imgs/horse/dupC{s}.png")
planted = {"A": [a, "imgs/cat/dupA1.png", "imgs/dog/dupA2.png"], "B": [b, "imgs/ship/dupB.png"],
           "C": [c, "imgs/horse/dupC1.png", "imgs/horse/dupC2.png"]}
json.dump({k: [os.path.abspath(p) for p in v] for k, v in planted.items()}, open("planted.json", "w"))
PY

dcrun 1 extract --source imgs --backbone "$model" --out f.h5 >x.log 2>&1 || { cat x.log; fail "extract failed"; }
dcrun 1 extract --source imgs --backbone pixels --pixels-size 32 --out p.h5 >x.log 2>&1 || { cat x.log; fail "extract pixels failed"; }
dcrun 1 kmeans --features f.h5 --k 10 --seed 1 --out km.h5 >/dev/null 2>&1
dcrun 1 knn --features f.h5 --k 5 --out knn.h5 >/dev/null 2>&1
dcrun 1 knn --features p.h5 --k 5 --metric l2 --out knnl2.h5 >/dev/null 2>&1

# check_groups DIR FEATURES WANT [PRED]: DIR/duplicates.csv holds exactly the
# planted groups named in WANT ("ABC"), largest first, rows ascending, with
# the right sizes, paths and clusters (empty without PRED).
check_groups() {
  $PY - "$@" <<'PY'
import csv, json, sys, h5py
d, feats, want = sys.argv[1:4]
pred = sys.argv[4] if len(sys.argv) > 4 else ""
ids = [s.decode() for s in h5py.File(feats, "r")["ids"][:]]
row = {p: i for i, p in enumerate(ids)}
planted = json.load(open("planted.json"))
expect = sorted((sorted(row[p] for p in planted[g]) for g in want), key=lambda g: (-len(g), g[0]))
lines = list(csv.reader(open(f"{d}/duplicates.csv", newline="")))
assert lines[0] == ["group", "size", "row", "path", "cluster"], lines[0]
got = {}
for g, size, r, path, cl in lines[1:]:
    got.setdefault(int(g), []).append(int(r))
    assert path == ids[int(r)], (r, path)
    assert cl == (str(h5py.File(pred, "r")["assign"][int(r)]) if pred else ""), (r, cl)
got = [got[g] for g in range(len(got))]
assert got == expect, f"groups {got}, planted {expect}"
for g, size, *_ in lines[1:]:
    assert int(size) == len(got[int(g)])
meta = json.load(open(f"{d}/duplicates.json"))
assert meta["groups"] == len(expect) and meta["rows_in_groups"] == sum(map(len, expect)), meta
print(f"{d}: groups {got} as planted ({want}); {meta['rule']}")
PY
}

# Cosine on ResNet-20 features: the planted groups, the same on 1, 2, 3 ranks.
for np in 1 2 3; do
  dcrun $np export --features f.h5 --pred km.h5 --knn knn.h5 --duplicates 0.999 --no-folders --out ex$np \
    >ex$np.log 2>&1 || { cat ex$np.log; fail "export --duplicates on $np ranks failed"; }
done
check_groups ex1 f.h5 ABC km.h5 || fail "cosine: not the planted groups"
for np in 2 3; do
  cmp ex1/duplicates.csv ex$np/duplicates.csv || fail "duplicates.csv on $np ranks differs from 1 rank"
  cmp ex1/duplicates.json ex$np/duplicates.json || fail "duplicates.json on $np ranks differs from 1 rank"
done
grep -q "cosine similarity >= 0.999: 3 groups, 8 rows" ex1.log || { cat ex1.log; fail "no summary line"; }

# l2 on pixels, without predictions: only the duplicates are written. C is
# one group through its middle image only.
dcrun 2 export --features p.h5 --knn knnl2.h5 --duplicates 3 --out exl2 >l2.log 2>&1 || { cat l2.log; fail "l2 export failed"; }
check_groups exl2 p.h5 ABC || fail "l2: not the planted groups"
[[ ! -e exl2/assignments.csv && ! -e exl2/clusters ]] || fail "export without --pred wrote assignments"
$PY - <<'PY' || fail "the chain C is not a chain"
import json, h5py, numpy as np
f, k = h5py.File("p.h5", "r"), h5py.File("knnl2.h5", "r")
ids = [s.decode() for s in f["ids"][:]]
c0, c1, c2 = (ids.index(p) for p in json.load(open("planted.json"))["C"])
I, S = k["indices"][:], k["similarities"][:]
def dist(a, b):
    v = [S[a][j] for j in range(I.shape[1]) if I[a][j] == b] + [S[b][j] for j in range(I.shape[1]) if I[b][j] == a]
    return min(v) if v else np.inf
assert dist(c0, c1) <= 3 and dist(c1, c2) <= 3 and dist(c0, c2) > 3, (dist(c0, c1), dist(c1, c2), dist(c0, c2))
PY
dcrun 1 export --features p.h5 --knn knnl2.h5 --duplicates 1 --out exl2b >/dev/null 2>&1
check_groups exl2b p.h5 AB || fail "l2 at 1: the chain (distances ~1.5) should be gone"

# Ties: B's stored distance as the threshold counts; one float step below it does not.
read -r at below < <($PY - <<'PY'
import json, h5py, numpy as np
f, k = h5py.File("p.h5", "r"), h5py.File("knnl2.h5", "r")
ids = [s.decode() for s in f["ids"][:]]
b0, b1 = (ids.index(p) for p in json.load(open("planted.json"))["B"])
v = k["similarities"][b0][list(k["indices"][b0]).index(b1)]
print(repr(float(v)), repr(float(np.nextafter(v, np.float32(0)))))
PY
)
dcrun 1 export --features p.h5 --knn knnl2.h5 --duplicates "$at" --out tie >/dev/null 2>&1
check_groups tie p.h5 AB || fail "l2: the pair exactly at the threshold $at was not counted"
dcrun 1 export --features p.h5 --knn knnl2.h5 --duplicates "$below" --out tie2 >/dev/null 2>&1
check_groups tie2 p.h5 A || fail "l2: the pair above the threshold $below was counted"

# Thresholds that make no sense are refused by name; nothing is written.
refuse() {  # refuse EXPECTED ARGS...: export fails with EXPECTED in its output
  local want=$1; shift
  if dcrun 1 export --out bad "$@" >bad.log 2>&1; then fail "export $* was accepted"; fi
  grep -qF -- "$want" bad.log || { cat bad.log; fail "export $*: no '$want'"; }
  [[ ! -e bad ]] || fail "export $* wrote bad/"
}
refuse "export.duplicates is 1.5, outside [-1, 1]: knn.h5 is a cosine kNN graph" --features f.h5 --knn knn.h5 --duplicates 1.5
refuse "export.duplicates is -0.5, below 0: knnl2.h5 is an l2 kNN graph" --features p.h5 --knn knnl2.h5 --duplicates -0.5
refuse "export.duplicates: 'high' is not a number" --features f.h5 --knn knn.h5 --duplicates high
refuse "export.duplicates is 0.9 but no kNN graph is given (--knn knn.h5)" --features f.h5 --duplicates 0.9

# The report: a Near-duplicates section with the largest groups' thumbnails
# when given the CSV (or its folder), none without.
check_report() {  # check_report INDEX FEATURES: the section shows the planted groups
  $PY - "$@" <<'PY'
import json, os, re, sys, h5py
page = open(sys.argv[1], encoding="utf-8").read()
sec = page[page.index('<section id="duplicates">'):]
sec = sec[:sec.index("</section>")]
assert "3 groups, 8 rows in groups" in sec, sec[:300]
assert 'href="#duplicates"' in page
ids = [s.decode() for s in h5py.File(sys.argv[2], "r")["ids"][:]]
planted = json.load(open("planted.json"))
groups = re.findall(r'data-group="(\d+)"><h4>Group \d+ \S (\d+) rows</h4>(.*?)</div></div>', sec, re.S)
shown = [sorted(int(r) for r in re.findall(r'alt="row (\d+)"', g[2])) for g in groups]
assert shown == [sorted(ids.index(p) for p in planted[k]) for k in "ACB"], shown
for img in re.findall(r'<img src="(thumbs/[^"]+)"', sec):
    assert os.path.isfile(os.path.join(os.path.dirname(sys.argv[1]), img)), img
PY
}
dcrun 1 report --features f.h5 --pred km.h5 --duplicates-csv ex1 --out rep >rep.log 2>&1 || { cat rep.log; fail "report failed"; }
check_report rep/index.html f.h5 || fail "report: the near-duplicates section is wrong"
dcrun 1 report --features f.h5 --pred km.h5 --out rep0 >/dev/null 2>&1
! grep -q 'id="duplicates"' rep0/index.html || fail "report without duplicates shows the section"
# A folder the user names that holds no duplicates.csv was ignored without a
# word; a run's own export folder (export without --duplicates) stays quiet.
mkdir nodups
if dcrun 1 report --features f.h5 --pred km.h5 --duplicates-csv nodups --out rep1 >rep1.log 2>&1; then
  fail "report: a folder without duplicates.csv accepted"
fi
grep -q "report.duplicates_csv: the folder nodups holds no duplicates.csv" rep1.log || { cat rep1.log; fail "not named"; }
[[ ! -e rep1 ]] || fail "report: rep1 written"
mkdir w0 && cp f.h5 w0/features.h5
dcrun 1 run --set run.workdir=w0 --set run.stages=kmeans,export,report --set kmeans.k=10 >run0.log 2>&1 ||
  { cat run0.log; fail "run with an export without duplicates failed"; }
! grep -q 'id="duplicates"' w0/report/index.html || fail "run without duplicates shows the section"

# A run (export before report, the default order): its report shows the run's duplicates.
mkdir w && cp f.h5 w/features.h5
dcrun 2 run --set run.workdir=w --set run.stages=kmeans,knn,export,report --set kmeans.k=10 --set knn.k=5 \
  --set export.duplicates=0.999 >run.log 2>&1 || { cat run.log; fail "run failed"; }
check_groups w/export w/features.h5 ABC w/kmeans.h5 || fail "run: not the planted groups"
check_report w/report/index.html w/features.h5 || fail "run: the report's near-duplicates section is wrong"
# All-zero rows (blank images) score 0 by cosine against everything: copies
# of them are never near-duplicates. Said, with the way out; l2 groups them.
$PY -c "
import h5py, numpy as np
X = np.random.default_rng(4).standard_normal((60, 8)).astype(np.float32); X[:5] = 0
h5py.File('zero.h5', 'w')['features'] = X"
dcrun 2 knn --features zero.h5 --k 3 --out zk.h5 >zk.txt 2>&1 || { cat zk.txt; fail "knn on zero rows"; }
grep -q "knn: 5 valid rows of zero.h5 are all zero: by cosine" zk.txt || { cat zk.txt; fail "zero rows not said"; }
[[ $(grep -c "are all zero" zk.txt) -eq 1 ]] || { cat zk.txt; fail "said more than once"; }
dcrun 1 knn --features zero.h5 --k 3 --metric l2 --out zl.h5 >zl.txt 2>&1 || fail "knn l2"
! grep -q "are all zero" zl.txt || fail "warned under l2"
# Settings that do nothing here were ignored without a word: --knn without
# --duplicates; IVF settings in exact mode.
dcrun 1 export --features f.h5 --pred km.h5 --knn knn.h5 --no-folders --out exnodup >nd.txt 2>&1 || { cat nd.txt; fail "export --knn alone"; }
grep -q "export.knn knn.h5 is read only for --duplicates T: ignored" nd.txt && [[ ! -e exnodup/duplicates.csv ]] ||
  { cat nd.txt; fail "--knn without --duplicates not said"; }
dcrun 2 knn --features zero.h5 --k 3 --nprobe 4 --centroids km.h5 --out zi.h5 >zi.txt 2>&1 || { cat zi.txt; fail "knn exact with ivf settings"; }
grep -q "knn.nprobe, knn.centroids set: these are for --mode ivf, ignored in exact mode" zi.txt ||
  { cat zi.txt; fail "ivf settings in exact mode not said"; }
[[ $(grep -c "for --mode ivf" zi.txt) -eq 1 ]] || { cat zi.txt; fail "said more than once"; }
pass "near-duplicates: planted groups by cosine and l2, 1-3 ranks agree, ties, bad thresholds, report, zero rows said, settings that do nothing said"
