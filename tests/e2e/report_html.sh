#!/usr/bin/env bash
# synth images -> features.h5 with their paths -> kmeans -> report, opened in
# headless Chromium: no JS, console or resource errors; one section per
# non-empty cluster; thumbnails linking to their image files; links to the
# export's CSV and cluster folders; metrics and confusion tables; only local
# resources; a screenshot that is not blank (left in $DC_TMP/report.png).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/report_lib.sh"
command -v chromium >/dev/null || fail "chromium not installed (tools/setup-debian.sh --test installs it)"

dcrun 1 synth images --classes 5 --per-class 24 --size 40 --seed 3 --out imgs >/dev/null
make_features imgs f.h5 paths odd  # 122 rows: 120 images, one odd name, one corrupt file
dcrun 1 kmeans --features f.h5 --k 5 --restarts 3 --seed 2 --out km.h5 >/dev/null
dcrun 1 export --features f.h5 --pred km.h5 --out ex >/dev/null 2>&1
# members 40 > any cluster: every row is shown, so the corrupt one is too.
dcrun 1 report --features f.h5 --pred km.h5 --out report --members 40 --export-dir ex --title 'Synth <test> & report' >report.log 2>&1 \
  || { cat report.log; fail "report exited non-zero"; }
grep -q "1 unreadable" report.log || fail "the corrupt image was not counted: $(cat report.log)"

# The page in a browser: errors recorded by an injected probe.
probe_page report/index.html dom.html
$PY - <<'PY'
import re, h5py, numpy as np, os
dom = open("dom.html", encoding="utf-8").read()
page = open("report/index.html", encoding="utf-8").read()
m = re.search(r'<pre id="probe-errors">(.*?)</pre>', dom, re.S)
assert m, "probe did not run: the page did not finish loading"
assert m.group(1).startswith("ERRORS:0 BROKEN_IMAGES:0"), "errors in the page: " + m.group(1)
assign = h5py.File("km.h5", "r")["assign"][:]
nonempty = sorted(set(int(a) for a in assign if a >= 0))
sections = re.findall(r'<section class="cluster" id="cluster-(\d+)"', dom)
assert sorted(map(int, sections)) == nonempty, (sections, nonempty)
imgs = re.findall(r'<img src="(thumbs/[^"]+)"', dom)
assert len(set(imgs)) == 121, f"{len(set(imgs))} thumbnails shown, expected 121 (122 rows, one corrupt)"
assert all(os.path.getsize("report/" + i) > 0 for i in imgs)
# The corrupt image (in several strips, as a least confident member too) and only it gets a placeholder.
bad = re.findall(r'<figure title="([^"]*)">(?:<a [^>]*>)?<div class="ph bad">', dom)
assert bad and all("corrupt.png" in t for t in bad), "expected placeholders for the corrupt image only: %s" % bad
acc = float(re.search(r'<table class="metrics">.*?<td>([0-9.]+)</td>', dom, re.S).group(1))
assert acc >= 0.95, f"ACC {acc} in the metrics table"
assert '<table class="cm">' in dom and "class_04" in dom, "no confusion matrix with class names"
assert "Synth &lt;test&gt; &amp; report" in page, "title not escaped"
assert page.count("<svg") >= 2, "expected the size chart and the inertia curve"
# Offline: no script, stylesheet, font or image from anywhere but the folder;
# links only to the images (file://) and to the export next to the report.
from urllib.parse import unquote
import html as H
# (The map's script is inline: no <script src>.)
assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page and "@import" not in page and "url(" not in page
links = 0
for ref in map(H.unescape, re.findall(r'(?:src|href)="([^"]*)"', page)):
    if ref.startswith("#") or ref.startswith("thumbs/"):
        continue
    path = unquote(ref[len("file://"):]) if ref.startswith("file://") else os.path.join("report", unquote(ref))
    assert ref.startswith("file:///") or ref.startswith("../ex/"), "non-local reference " + ref
    assert os.path.exists(path), "link to nothing: " + ref
    links += 1
# Every image tile links to its own file, the path in its title.
ids = [s.decode() if isinstance(s, bytes) else s for s in h5py.File("f.h5", "r")["ids"][:]]
linked = re.findall(r'<figure title="([^"]*)"><a href="([^"]*)"><img [^>]*alt="row (\d+)"', page)
assert len(set(r for _, _, r in linked)) == 121, f"{len(set(r for _, _, r in linked))} rows with a linked thumbnail"
for title, href, row in linked:
    assert unquote(H.unescape(href)) == "file://" + os.path.abspath(ids[int(row)]), (href, ids[int(row)])
    assert ids[int(row)] in H.unescape(title), (title, row)
assert 'id="export-csv" href="../ex/assignments.csv"' in page, "no link to assignments.csv"
for c in nonempty:
    assert f'id="cluster-{c}"' in page and f'href="../ex/clusters/cluster_{c:04d}/"' in page, f"no folder link for {c}"
print(f"dom ok: {len(sections)} cluster sections, {len(imgs)} thumbnails, {links} local links, ACC {acc}")
PY

# Chromium's own log of console messages and failed loads on the real page.
chrome --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "file://$(realpath report/index.html)" \
  >/dev/null 2>console.log || true
if grep -E "CONSOLE|Uncaught|Failed to load|net::ERR_" console.log; then fail "browser console reported the lines above"; fi

# Screenshot: a real page has many colours (thumbnails, plots, tables).
chrome --screenshot="$DC_TMP/report.png" --window-size=1280,2400 --hide-scrollbars \
  "file://$(realpath report/index.html)" >/dev/null 2>&1
$PY - "$DC_TMP/report.png" <<'PY'
import sys
import numpy as np
from PIL import Image
im = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
colours = len(np.unique(im.reshape(-1, 3), axis=0))
white = (im.min(axis=2) > 245).mean()
assert im.shape[:2] == (2400, 1280), im.shape
assert colours > 1000 and im.std() > 30 and white < 0.9, (colours, im.std(), white)
print(f"screenshot ok: {colours} colours, std {im.std():.1f}, {white:.0%} white")
PY

# A predictions file with an empty cluster id (2) gets no section for it.
$PY - <<'PY'
import h5py, numpy as np
src = h5py.File("km.h5", "r")
a = src["assign"][:]
c = src["centroids"][:]
with h5py.File("gap.h5", "w") as h:
    h["assign"] = np.where(a >= 2, a + 1, a)
    h["centroids"] = np.insert(c, 2, 1e3, axis=0)  # far from every row: margins unchanged
    h["distance"] = src["distance"][:]
    h["inertia"] = src["inertia"][:]
PY
dcrun 1 report --features f.h5 --pred gap.h5 --out report_gap --export-dir not-exported >/dev/null
probe_page report_gap/index.html dom_gap.html
$PY - <<'PY'
import re
dom = open("dom_gap.html", encoding="utf-8").read()
assert re.search(r'<pre id="probe-errors">ERRORS:0 BROKEN_IMAGES:0', dom)
ids = sorted(int(s) for s in re.findall(r'<section class="cluster" id="cluster-(\d+)"', dom))
assert ids == [0, 1, 3, 4, 5], ids
assert "5 non-empty of 6" in dom
# No export there: how to make one, not a dead link.
m = re.search(r'id="export-missing">([^<]*)<', dom)
assert m and "distclust export --features f.h5 --pred gap.h5 --out not-exported" in m.group(1), m
assert "assignments.csv\"" not in dom and "/clusters/" not in dom
PY
pass "report opens cleanly in Chromium; screenshot $DC_TMP/report.png"
# An export of another clustering is not linked: its cluster folders hold
# that clustering's images (a k=4 report linked the k=5 export's folders).
dcrun 1 kmeans --features f.h5 --k 4 --seed 2 --out km4.h5 >/dev/null
dcrun 1 report --features f.h5 --pred km4.h5 --out report4 --export-dir ex >r4.log 2>&1 || { cat r4.log; fail "report km4"; }
grep -q "export-dir not linked: ex was exported from pred km.h5" r4.log || { cat r4.log; fail "no warning for another export"; }
$PY - <<'PY'
import re
page = open("report4/index.html", encoding="utf-8").read()
m = re.search(r'id="export-missing">([^<]*)<', page)
assert m and "Not linked: ex was exported from pred km.h5" in m.group(1) and "not from km4.h5" in m.group(1), m
assert "assignments.csv\"" not in page and "/clusters/" not in page
PY
dcrun 1 export --features f.h5 --pred km4.h5 --out ex --force >/dev/null 2>&1
dcrun 1 report --features f.h5 --pred km4.h5 --out report4 --export-dir ex >r4.log 2>&1
grep -q 'href="../ex/assignments.csv"' report4/index.html || fail "the matching export is not linked"
pass "an export of another clustering is not linked; the matching one is"
