#!/usr/bin/env bash
# /ids holds absolute paths, so export links every image from any folder
# (before: relative paths, and export run elsewhere linked 0 images and
# exited 0). A features file with relative paths that resolve nowhere is an
# error naming where it looked and --image-root, not an empty export.
source "$(dirname "$0")/lib.sh"
mkdir -p a b
(cd a && dcrun 1 synth images --classes 3 --per-class 4 --size 16 --out imgs >/dev/null &&
  dcrun 1 extract --source imgs --backbone pixels --out f.h5 >/dev/null &&
  dcrun 1 kmeans --features f.h5 --k 3 --out km.h5 >/dev/null)
$PY -c "
import h5py, os
ids = [i.decode() for i in h5py.File('a/f.h5')['ids'][:]]
assert all(os.path.isabs(i) for i in ids), ids[:2]
print('ids absolute:', ids[0])"
(cd b && dcrun 1 export --features ../a/f.h5 --pred ../a/km.h5 --out exp >out.txt 2>&1) || { cat b/out.txt; fail "export from another folder failed"; }
n=$(find b/exp/clusters -type l | wc -l)
[[ $n == 12 ]] || fail "$n of 12 images linked from another folder"
# Relative ids (files from before), exported from a folder where they do not resolve.
$PY -c "
import h5py, numpy as np
f = h5py.File('a/f.h5', 'a'); ids = [i.decode() for i in f['ids'][:]]
rel = [i[i.index('imgs/'):] for i in ids]; del f['ids']; f['ids'] = np.array(rel, dtype='S64')"
if (cd b && dcrun 1 export --features ../a/f.h5 --pred ../a/km.h5 --out exp2 >out2.txt 2>&1); then
  fail "an export that found no image exited 0"
fi
grep -q "none of the 12 image paths .* is a readable file (first: imgs/" b/out2.txt || { cat b/out2.txt; fail "unclear error"; }
grep -q -- "--image-root" b/out2.txt || fail "the error does not name --image-root"
grep -q "/b/imgs/.*: No such file or directory): relative" b/out2.txt || { cat b/out2.txt; fail "the error does not say why"; }
[[ ! -e b/exp2 ]] || fail "an empty export was written"
(cd b && dcrun 1 export --features ../a/f.h5 --pred ../a/km.h5 --image-root ../a --out exp3 >/dev/null) || fail "--image-root did not resolve them"
[[ $(find b/exp3/clusters -type l | wc -l) == 12 ]] || fail "--image-root: not every image linked"
# The report still writes (placeholders), but says why and what to pass.
(cd b && dcrun 1 report --features ../a/f.h5 --pred ../a/km.h5 --out rep >rep.txt 2>&1) || { cat b/rep.txt; fail "report of relative ids"; }
grep -q "12 are relative paths not found under the current folder: pass --image-root" b/rep.txt ||
  { cat b/rep.txt; fail "report of unresolved relative ids: --image-root not advised"; }
# A path the system cannot take (over PATH_MAX) says the system's reason:
# it read as "not a readable file" and --image-root could not help.
$PY -c "
import h5py, numpy as np
f = h5py.File('a/f.h5', 'a'); n = len(f['ids']); del f['ids']
f['ids'] = np.array(['/' + 'd' * 250 + '/' + 'e' * 4000 + '/%d.png' % i for i in range(n)], dtype='S4300')"
if dcrun 1 export --features a/f.h5 --pred a/km.h5 --out exp4 >out4.txt 2>&1; then fail "export of unusable paths exited 0"; fi
grep -q "File name too long" out4.txt || { cat out4.txt; fail "the system's reason (File name too long) is not said"; }
# A file name longer than 200 bytes is shortened at a character boundary:
# it was cut inside a two-byte UTF-8 character (an invalid name).
mkdir -p u/src/c
long="a$(printf 'é%.0s' $(seq 1 124)).png"
cp "$(ls -d a/imgs/*/* | head -1)" "u/src/c/$long"
cp "$(ls -d a/imgs/*/* | tail -1)" u/src/c/b.png
(cd u && dcrun 1 extract --source src --backbone pixels --out f.h5 >/dev/null &&
  dcrun 1 kmeans --features f.h5 --k 1 --out k.h5 >/dev/null &&
  dcrun 1 export --features f.h5 --pred k.h5 --out ex >/dev/null) || fail "export of a long unicode name"
$PY - <<'PY' || fail "a link name is not valid UTF-8"
import os
names = [n for n in os.listdir(os.fsencode("u/ex/clusters/cluster_0000")) if n.endswith(b".png")]
assert len(names) == 2, names
for n in names:
    n.decode("utf-8")  # raises on a cut character
    assert len(n) <= 255, len(n)
print("link names valid UTF-8:", [len(n) for n in names])
PY
pass "export from any folder; relative ids resolved by --image-root or refused by name; long names cut whole"
