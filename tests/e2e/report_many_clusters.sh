#!/usr/bin/env bash
# The report at K = 100 (more than --open-clusters): 1,000 MNIST images
# through `distclust run` (extract pixels, k-means, export, report). Every
# cluster's contact sheet is on the page without expanding anything (no
# prototype strip inside <details>); the least confident strip holds the
# cluster's lowest-confidence rows besides its prototypes (confidence from
# assignments.csv); the mismatched strip only rows whose label is not the
# cluster's majority; every thumbnail links to its own image file, every
# cluster to its export folder, the page to assignments.csv, which carries
# the class name; a screenshot of the clusters is not blank.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/report_lib.sh"
command -v chromium >/dev/null || fail "chromium not installed (tools/setup-debian.sh --test installs it)"
shared="$DC_SOURCE/../shared/data/mnist-test"
[[ -d $shared ]] || fail "no MNIST images at $shared"

# 100 images of each digit, as links in class folders (folder names are the class names).
for d in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p mn/$d
  for f in $(ls "$shared/$d" | head -100); do ln -s "$shared/$d/$f" mn/$d/$f; done
done
cat >job.yaml <<'EOF'
run: {workdir: w, stages: "extract,kmeans,export,report"}
extract: {source: mn, backbone: pixels, pixels_size: 28, pca_dim: 30}
kmeans: {k: 100, seed: 1}
EOF
dcrun 1 run --config job.yaml >run.log 2>&1 || { cat run.log; fail "run failed"; }

$PY - <<'PY'
import csv, os, re, html as H
from html.parser import HTMLParser
from urllib.parse import unquote
import h5py, numpy as np

page = open("w/report/index.html", encoding="utf-8").read()
f = h5py.File("w/features.h5", "r")
ids = [s.decode() if isinstance(s, bytes) else s for s in f["ids"][:]]
labels = f["labels"][:]
assign = h5py.File("w/kmeans.h5", "r")["assign"][:]
rows = list(csv.DictReader(open("w/export/assignments.csv", newline="", encoding="utf-8")))
assert len(rows) == 1000 and list(rows[0]) == ["row", "path", "cluster", "confidence", "label", "class_name"]
for r in rows:  # folder source: the class name is the digit folder the image came from
    assert r["class_name"] == os.path.basename(os.path.dirname(r["path"])) == r["class_name"][:1], r
conf = np.array([float(r["confidence"]) for r in rows])

# Which strip each thumbnail is in, and whether a <details> encloses it.
class Strips(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.cluster, self.strip, self.tiles, self.hidden = [], None, None, [], 0
    def handle_starttag(self, tag, a):
        a = dict(a)
        self.stack.append((tag, a))
        if tag == "section" and "data-cluster" in a:
            self.cluster = int(a["data-cluster"])
        if tag == "div" and "data-strip" in a:
            self.strip = a["data-strip"]
        if tag == "img" and self.cluster is not None:
            inside = any(t == "details" for t, _ in self.stack)
            link = next((x.get("href") for t, x in reversed(self.stack) if t == "a"), None)
            self.tiles.append((self.cluster, "members" if inside else self.strip, int(a["alt"].split()[1]), link, inside))
    def handle_endtag(self, tag):
        while self.stack:
            t, a = self.stack.pop()
            if t == "div" and "data-strip" in a:
                self.strip = None
            if t == tag:
                break
p = Strips()
p.feed(page)
nonempty = sorted(set(int(a) for a in assign if a >= 0))
assert len(nonempty) > 32, "the point is more clusters than --open-clusters"
by = {}
for c, strip, row, link, inside in p.tiles:
    assert assign[row] == c, (c, row)
    assert strip is not None and (strip == "members") == inside, (c, strip, row, inside)
    # Each thumbnail opens its own image file.
    assert link and unquote(link) == "file://" + os.path.abspath(ids[row]), (link, ids[row])
    assert os.path.exists(unquote(link)[len("file://"):])
    by.setdefault((c, strip), []).append(row)
for c in nonempty:
    members = np.flatnonzero(assign == c)
    protos = by.get((c, "prototypes"), [])
    assert protos, f"cluster {c}: no prototypes shown outside <details>"
    assert conf[protos].min() >= np.sort(conf[members])[-len(protos)] - 1e-5, (c, "prototypes are not the most confident")
    least = by.get((c, "least"), [])
    rest = np.setdiff1d(members, protos)
    assert len(least) == min(6, len(rest)), (c, len(least), len(rest))
    if least:  # the lowest confidences among the non-prototypes (printed with 6 digits: ties within 1e-5)
        assert conf[least].max() <= np.sort(conf[rest])[len(least) - 1] + 1e-5, (c, least)
    maj = np.bincount(labels[members]).argmax()
    odd = by.get((c, "mismatched"), [])
    assert all(labels[r] != maj for r in odd), (c, odd)
    assert len(odd) == min(6, int((labels[members] != maj).sum())), (c, len(odd))
    m = re.search(r'id="cluster-%d".*?<a class="folder" href="([^"]+)"' % c, page, re.S)
    assert m and m.group(1) == "../export/clusters/cluster_%04d/" % c, (c, m and m.group(1))
    folder = os.path.join("w/report", unquote(m.group(1)))
    assert sorted(os.listdir(folder)) and len(os.listdir(folder)) == len(members), (c, folder)
assert 'id="export-csv" href="../export/assignments.csv"' in page
assert os.path.samefile(os.path.join("w/report", "../export/assignments.csv"), "w/export/assignments.csv")
assert "up to 8 prototypes" in page and "--max-thumbs 20000" in page, "the caps are not stated"
n_odd = sum(len(v) for (c, s), v in by.items() if s == "mismatched")
print(f"{len(nonempty)} clusters: {len(p.tiles)} linked thumbnails, every prototype strip shown, {n_odd} mismatched")
PY

# The clusters as a reader sees them: thumbnails drawn, not empty boxes.
# A tall window: the lazily loaded thumbnails of the first clusters are in view.
chrome --screenshot="$DC_TMP/report_many.png" --window-size=1280,8000 --hide-scrollbars --virtual-time-budget=5000 \
  "file://$(realpath w/report/index.html)" >/dev/null 2>&1
$PY - "$DC_TMP/report_many.png" <<'PY'
import sys
import numpy as np
from PIL import Image
im = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)[4000:]  # below the tables and plots
dark = (im.max(axis=2) < 40).mean()  # MNIST thumbnails are black squares with white digits
assert dark > 0.05, f"only {dark:.1%} of the screenshot is thumbnail black: are the thumbnails drawn?"
print(f"screenshot ok: {dark:.0%} thumbnail black")
PY
pass "report at K=100: contact sheets shown, strips checked, every link resolves; screenshot $DC_TMP/report_many.png"
