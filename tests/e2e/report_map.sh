#!/usr/bin/env bash
# The report's 2-D map: points placed by a 2-D embedding file (--map),
# coloured by cluster, one per sampled row; hovering a point shows its image
# and path (the page's #map-selftest hovers the first point, read back from
# headless Chromium's DOM); --map-sample caps the points; --map none drops it;
# a map file of the wrong shape is refused by name.
source "$(dirname "$0")/lib.sh"
DATA="$DC_SOURCE/../shared/data/cifar10-test1k"
[[ -d $DATA ]] || { echo "SKIP: no shared CIFAR images"; exit 77; }
dcrun 1 extract --source "$DATA" --backbone pixels --pixels-size 8 --out f.h5 >/dev/null 2>&1 || fail "extract"
dcrun 1 kmeans --features f.h5 --k 10 --out km.h5 >/dev/null 2>&1 || fail "kmeans"
$PY - <<'PY'
import h5py, numpy as np
X = h5py.File('f.h5')['features'][:].astype(np.float64); X -= X.mean(0)
U, S, Vt = np.linalg.svd(X, full_matrices=False)
with h5py.File('map.h5', 'w') as g: g['features'] = (X @ Vt[:2].T).astype(np.float32)
with h5py.File('bad.h5', 'w') as g: g['features'] = np.zeros((1000, 3), np.float32)
PY
dcrun 1 report --features f.h5 --pred km.h5 --map map.h5 --map-sample 400 --out rep >rep.txt 2>&1 || { cat rep.txt; fail "report --map"; }
$PY - <<'PY' || fail "map section"
import re
h = open('rep/index.html').read()
m = re.search(r'<section id="map">.*?</section>', h, re.S); assert m, 'no map section'
s = m.group(0)
assert '400 of 1000 rows placed by map.h5' in s, s[:300]
xs = re.search(r'x:\[([^\]]*)\]', s).group(1).split(',')
assert len(xs) == 400 and all(0 <= int(v) <= 1000 for v in xs)
assert len(re.findall(r'class="sw" data-c=', s)) == 10, 'legend is not one entry per cluster'
PY
# hover REPORT_DIR [MUST_CONTAIN]: the page's #map-selftest hovers the first
# point (headless Chromium's DOM read back); the tooltip must show an image
# whose URL, read as a browser reads it ('#' starts the fragment, '?' the
# query), is that file, and the file's path as text.
hover() {
  chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 \
    --dump-dom "file://$PWD/$1/index.html#map-selftest" 2>/dev/null >"$1.dom.html"
  $PY - "$1.dom.html" "${2:-}" <<'PY'
import re, os, sys, urllib.parse
d = open(sys.argv[1]).read()
tip = re.search(r'<div id="map-tip" style="display: block;[^"]*">(.*?)</div></div>', d, re.S)
assert tip, 'tooltip not shown'
src = re.search(r'<img src="file://([^"]*)"', tip.group(1)).group(1)
path = re.search(r'<div class="path">([^<]*)</div>', tip.group(0)).group(1)
assert os.path.isfile(urllib.parse.unquote(urllib.parse.urlsplit('file://' + src).path)), src
assert os.path.isfile(path) and sys.argv[2] in path, (src, path)
print('hover:', src, '->', path)
PY
}
hover rep || fail "hovering a point shows no image and path"
# A folder named with '#' and '?': the tooltip's image URL was cut there
# (encodeURI leaves both), so hovering showed a broken image.
mkdir -p 'odd#dir?x' && cp "$(ls -d "$DATA"/*/ | head -1)"/* 'odd#dir?x/' 2>/dev/null
dcrun 1 extract --source 'odd#dir?x' --backbone pixels --pixels-size 8 --out odd.h5 >/dev/null 2>&1 || fail "extract odd#dir?x"
dcrun 1 kmeans --features odd.h5 --k 2 --out oddk.h5 >/dev/null 2>&1 || fail "kmeans odd"
dcrun 1 report --features odd.h5 --pred oddk.h5 --out repodd >/dev/null 2>&1 || fail "report odd"
hover repodd 'odd#dir?x' || fail "the tooltip of a path with '#' and '?' does not name the file"
dcrun 1 report --features f.h5 --pred km.h5 --map none --out rep2 >/dev/null 2>&1 || fail "report --map none"
grep -q 'no map (report.map = none)' rep2/index.html || fail "--map none"
if dcrun 1 report --features f.h5 --pred km.h5 --map bad.h5 --out rep3 >bad.txt 2>&1; then fail "a [N x 3] map accepted"; fi
grep -q "bad.h5: /features is .*expected \[1000 x 2\]" bad.txt || { cat bad.txt; fail "unclear map error"; }
# Without --map the report lays out the rows itself (embed's UMAP layout of
# their cosine 15-NN graph): every row placed, and the map keeps the rows'
# cosine neighbourhoods (trustworthiness) better than the PCA map above does.
dcrun 1 report --features f.h5 --pred km.h5 --out rep4 >rep4.txt 2>&1 || { cat rep4.txt; fail "report with a computed map"; }
$PY - <<'PY' || fail "computed map"
import re, h5py, numpy as np
from sklearn.manifold import trustworthiness
s = re.search(r'<section id="map">.*?</section>', open('rep4/index.html').read(), re.S).group(0)
assert 'computed by the report' in s and '1000 of 1000 rows' in s, s[:300]
get = lambda k: np.array([int(v) for v in re.search(k + r':\[([^\]]*)\]', s).group(1).split(',')])
M = np.stack([get('x'), get('y')], 1).astype(float)
X = h5py.File('f.h5')['features'][:]; X /= np.linalg.norm(X, axis=1, keepdims=True)
tw, tw_pca = trustworthiness(X, M, n_neighbors=10), trustworthiness(X, h5py.File('map.h5')['features'][:], n_neighbors=10)
assert tw >= 0.8 and tw > tw_pca, (tw, tw_pca)
print('computed map: trustworthiness %.3f (PCA map %.3f)' % (tw, tw_pca))
PY
# A run that embeds to 2-D shows that embedding as its map.
cat >run.yaml <<YAML
run: {workdir: w, stages: "extract,knn,embed,kmeans,report"}
extract: {source: $DATA, backbone: pixels, pixels_size: 8}
knn: {k: 15}
embed: {dim: 2, epochs: 50}
kmeans: {k: 10}
YAML
dcrun 1 run --config run.yaml >run.txt 2>&1 || { cat run.txt; fail "run with embed"; }
grep -q 'rows placed by w/embed.h5' w/report/index.html || fail "the run's 2-D embedding is not its map"
# report.map changed between runs: the report is made again. (The key was
# left out of the config hash as a path, so "none" kept the old map and the
# run said "report: up to date".)
dcrun 1 run --config run.yaml --set report.map=none >run2.txt 2>&1 || { cat run2.txt; fail "run with report.map=none"; }
grep -q 'no map (report.map = none)' w/report/index.html || { grep report run2.txt; fail "report.map=none: the old report was kept"; }
dcrun 1 run --config run.yaml --set report.map=none >run3.txt 2>&1 || { cat run3.txt; fail "run again"; }
grep -q 'report: up to date' run3.txt || { cat run3.txt; fail "the same report.map: the report was made again"; }
pass "report map: sampled points, legend per cluster, hover shows image and path; computed when none is given; a run's 2-D embed; none; a changed report.map reruns the report; bad shape refused"
