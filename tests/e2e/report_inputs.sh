#!/usr/bin/env bash
# report with the inputs it meets besides a plain k-means run: a SCAN file
# (confidence, loss curves, given prototypes), integer /ids (no images),
# invalid rows, several ranks (same page as one rank), and bad input that
# must fail with a clear message and leave no output folder.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/report_lib.sh"

dcrun 1 synth images --classes 3 --per-class 20 --size 32 --seed 5 --out imgs >/dev/null
make_features imgs f.h5 paths
make_features imgs fint.h5 int
# Row 4 invalid (an unreadable image, as extract marks it).
$PY -c "import h5py; h = h5py.File('f.h5', 'r+'); h['valid'][4] = 0"
dcrun 1 kmeans --features f.h5 --k 3 --seed 1 --restarts 2 --out km.h5 >/dev/null

# A SCAN-like file: /confidence, /probabilities, /loss [epochs x heads], /prototypes, chosen head.
$PY - <<'PY'
import h5py, numpy as np
a = h5py.File("km.h5", "r")["assign"][:]
n, c = len(a), 3
rng = np.random.default_rng(0)
p = rng.random((n, c)) * 0.2
p[np.arange(n), np.maximum(a, 0)] += 1
p /= p.sum(1, keepdims=True)
with h5py.File("scan.h5", "w") as h:
    h["assign"] = a
    h["probabilities"] = p.astype(np.float32)
    h["confidence"] = p.max(1).astype(np.float32)
    h["loss"] = np.stack([np.linspace(3, 1, 12) + 0.1 * k for k in range(3)], 1)
    proto = np.full((c, 4), -1, np.int64)
    for k in range(c):
        rows = np.flatnonzero(a == k)
        proto[k, :3] = rows[np.argsort(-p[rows, k], kind="stable")][:3]
    h["prototypes"] = proto
    h.attrs["head"] = 1
PY
dcrun 1 report --features f.h5 --pred scan.h5 --out rscan >/dev/null
$PY - <<'PY'
import re, h5py
page = open("rscan/index.html", encoding="utf-8").read()
assert "SCAN loss" in page and "chosen head: 1" in page, "no loss curves"
assert "/confidence" in page, "confidence definition missing"
assert "1 invalid" in page, "invalid row not reported"
proto = h5py.File("scan.h5", "r")["prototypes"][:]
for k in range(3):
    sec = re.search(r'id="cluster-%d".*?Prototypes.*?</div>' % k, page, re.S).group(0)
    rows = [int(r) for r in re.findall(r'<figcaption>#(\d+)', sec)]
    assert rows == [int(r) for r in proto[k] if r >= 0], (k, rows, proto[k])
assert 'id="cluster-' in page and page.count('<section class="cluster"') == 3
# The loss legend sits right of every plotted point (it covered the curves).
svg = re.search(r'<svg[^>]*aria-label="SCAN loss".*?</svg>', page, re.S).group(0)
xs = [float(x) for d in re.findall(r'<path d="([^"]*)"', svg) for x in re.findall(r'[ML](-?[\d.]+) ', d)]
legend = re.search(r'<g class="legend".*?</g>', svg, re.S).group(0)
lx = [float(x) for x in re.findall(r'<(?:rect|text) x="(-?[\d.]+)"', legend)]
width = float(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))
assert len(xs) >= 36 and len(lx) == 6, (len(xs), lx)
assert max(xs) < min(lx) and max(lx) < width, ("legend over the curves", max(xs), min(lx), width)
PY

# Integer /ids: text tiles, no thumbnails, still one section per cluster.
dcrun 1 kmeans --features fint.h5 --k 3 --seed 1 --out kmint.h5 >/dev/null
dcrun 1 report --features fint.h5 --pred kmint.h5 --out rint >/dev/null
grep -q 'class="ph">row ' rint/index.html || fail "no text tiles for integer ids"
[[ -z "$(ls -A rint/thumbs 2>/dev/null)" ]] || fail "thumbnails written without image paths"
[[ $(grep -c '<section class="cluster"' rint/index.html) == 3 ]] || fail "sections with integer ids"

# No labels: the mismatched strip says so instead of showing nothing.
cp f.h5 fnolab.h5
$PY -c "import h5py; h = h5py.File('fnolab.h5', 'r+'); del h['labels']"
dcrun 1 report --features fnolab.h5 --pred km.h5 --out rnolab >/dev/null
[[ $(grep -o 'data-strip="mismatched"><h4>[^<]*</h4><p class="note">no labels<' rnolab/index.html | wc -l) == 3 ]] \
  || fail "no 'no labels' in each cluster's mismatched strip"

# Two and three ranks write the same page as one (the margin is computed on every rank's rows).
dcrun 1 report --features f.h5 --pred km.h5 --out r1 --members 5 >/dev/null
for np in 2 3; do
  dcrun $np report --features f.h5 --pred km.h5 --out r$np --members 5 >/dev/null
  diff <(grep -v Generated r1/index.html) <(grep -v Generated r$np/index.html) >/dev/null \
    || fail "report on $np ranks differs from 1 rank"
  diff -r r1/thumbs r$np/thumbs >/dev/null || fail "thumbnails on $np ranks differ"
done

# Many clusters: still one section each, each with its prototypes shown (only
# the random members fold away), a size histogram instead of one bar per
# cluster, the thumbnail budget respected.
dcrun 1 synth features --n 12000 --d 8 --k 1000 --seed 4 --out many.h5 >/dev/null
dcrun 1 kmeans --features many.h5 --k 1000 --iters 3 --seed 1 --out kmany.h5 >/dev/null
dcrun 1 report --features many.h5 --pred kmany.h5 --out rmany --max-thumbs 1500 >/dev/null
$PY - <<'PY'
import re, h5py, numpy as np
page = open("rmany/index.html", encoding="utf-8").read()
a = h5py.File("kmany.h5", "r")["assign"][:]
nonempty = len(np.unique(a[a >= 0]))
assert page.count('<section class="cluster"') == nonempty, (page.count('<section class="cluster"'), nonempty)
assert "<details open" not in page, "random members of 1000 clusters should start collapsed"
sheets = re.findall(r'<div class="strip" data-strip="prototypes">', page)
assert len(sheets) > 0 and not re.search(r'<details[^>]*>(?:(?!</details>).)*data-strip=', page, re.S), \
    "the prototypes strips must not be inside <details>"
assert "Histogram of cluster sizes" in page
# Each bar counts the clusters whose size its label names (a fractional bin
# width labelled by its floor put size-7 clusters under "5").
i = page.find("Histogram of cluster sizes"); seg = page[i:page.find("</svg>", i)]
sz = np.bincount(a[a >= 0]); sz = sz[sz > 0]
bars = re.findall(r"<title>(\d+)(?:\u2013(\d+))?: (\d+)</title>", seg)
assert bars and sum(int(n) for _, _, n in bars) == len(sz), (bars[:5], len(sz))
for lo_, hi_, n in bars:
    hi_ = hi_ or lo_
    assert int(n) == int(((sz >= int(lo_)) & (sz <= int(hi_))).sum()), (lo_, hi_, n)
tiles = len(re.findall(r'<figure title=', page))
assert 0 < tiles <= 1500, tiles
assert "--max-thumbs 1500" in page, "no note about the reduced galleries"
print(f"many clusters ok: {nonempty} sections, {tiles} tiles")
PY

# Bad input: a clear message, non-zero exit, no output folder.
$PY - <<'PY'
import h5py
src = h5py.File("km.h5", "r")
with h5py.File("short.h5", "w") as h:
    h["assign"] = src["assign"][:-7]
PY
expect_fail() {  # expect_fail NP "message" args...
  local np=$1 msg=$2; shift 2
  rm -rf bad bad.tmp
  if timeout 60 $DC_MPIEXEC -n "$np" "$DC" report "$@" --out bad >bad.txt 2>&1; then
    cat bad.txt; fail "report $* succeeded"
  fi
  grep -qF -- "$msg" bad.txt || { cat bad.txt; fail "report $*: message lacks '$msg'"; }
  [[ ! -e bad && ! -e bad.tmp ]] || fail "report $*: output left behind"
}
expect_fail 1 "missing.h5 does not exist" --features missing.h5 --pred km.h5
expect_fail 1 "nope.h5 does not exist" --features f.h5 --pred nope.h5
expect_fail 2 "/features has 60 rows but short.h5: /assign is 53" --features f.h5 --pred short.h5
expect_fail 1 "no /assign dataset" --features f.h5 --pred f.h5
expect_fail 1 "report.thumb is 2" --features f.h5 --pred km.h5 --thumb 2
mkdir -p bad
echo keep > bad/old.txt
if $DC report --features f.h5 --pred km.h5 --out bad >bad.txt 2>&1; then fail "existing output replaced without --force"; fi
grep -q -- "--force" bad.txt || fail "refusal does not mention --force"
[[ -e bad/old.txt ]] || fail "existing folder touched"
$DC report --features f.h5 --pred km.h5 --out bad --force >/dev/null
[[ -e bad/index.html && ! -e bad/old.txt && ! -e bad.tmp ]] || fail "--force did not replace the folder"
# --out in the images folder: refused as an input first (the overwrite rule
# advised --force, which the input check then refused), export and report.
dcrun 1 extract --source imgs --backbone pixels --pixels-size 8 --out fx.h5 >/dev/null
dcrun 1 kmeans --features fx.h5 --k 3 --out kmx.h5 >/dev/null
for cmd in report export; do
  if $DC $cmd --features fx.h5 --pred kmx.h5 --out imgs/class_00 >in.txt 2>&1; then fail "$cmd --out imgs/class_00 accepted"; fi
  grep -q "output imgs/class_00 lies inside the input" in.txt && ! grep -q -- "--force" in.txt ||
    { cat in.txt; fail "$cmd --out in the images: not refused as an input first"; }
done
# Labels or clusters below -1: refused by name as eval refuses them (report
# scored the rest and dropped those rows without a word; --compare too).
cp f.h5 lab2.h5
$PY -c "
import h5py, numpy as np
with h5py.File('lab2.h5', 'r+') as f: y = f['labels'][:]; y[:4] = -2; f['labels'][:] = y
a = h5py.File('km.h5')['assign'][:]; a[::7] = -5
with h5py.File('neg5.h5', 'w') as f: f['assign'] = a"
expect_fail 1 "lab2.h5: /labels holds -2 at row 0 (4 values below -1): class numbers are >= 0" --features lab2.h5 --pred km.h5
# A bad comparison file costs its row of scores, not the report: said.
rm -rf cmp && $DC report --features f.h5 --pred km.h5 --compare a=km.h5,c=neg5.h5 --out cmp >cmp.txt 2>&1 ||
  { cat cmp.txt; fail "report with a bad --compare file"; }
grep -q "report: no scores for c: neg5.h5: /assign holds -5 at row 0" cmp.txt || { cat cmp.txt; fail "--compare -5 not said"; }
expect_fail 1 "neg5.h5: /assign holds -5 at row 0" --features f.h5 --pred neg5.h5
pass "report inputs: scan file, integer ids, invalid rows, 1-3 ranks, bad input"
