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
chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom "file://$PWD/rep/index.html#map-selftest" 2>/dev/null >dom.html
$PY - <<'PY' || fail "hovering a point shows no image and path"
import re, os
d = open('dom.html').read()
tip = re.search(r'<div id="map-tip" style="display: block;[^"]*">(.*?)</div></div>', d, re.S)
assert tip, 'tooltip not shown'
path = re.search(r'<div class="path">([^<]*)</div>', tip.group(0)).group(1)
assert os.path.isfile(path) and re.search(r'<img src="file://', tip.group(1)), tip.group(1)[:300]
print('hover:', path)
PY
dcrun 1 report --features f.h5 --pred km.h5 --map none --out rep2 >/dev/null 2>&1 || fail "report --map none"
grep -q 'no map (report.map = none)' rep2/index.html || fail "--map none"
if dcrun 1 report --features f.h5 --pred km.h5 --map bad.h5 --out rep3 >bad.txt 2>&1; then fail "a [N x 3] map accepted"; fi
grep -q "bad.h5: /features is .*expected \[1000 x 2\]" bad.txt || { cat bad.txt; fail "unclear map error"; }
pass "report map: sampled points, legend per cluster, hover shows image and path; none; bad shape refused"
