#!/usr/bin/env bash
# export: assignments.csv matches kmeans.h5 row by row (read back with
# Python's csv, paths with commas and quotes included), the confidence is the
# documented margin, class_name is the label's stored class name (empty when
# the features file names no classes), cluster folders hold one link per member resolving to
# the original file, --copy makes real copies, invalid and missing rows stay
# out of the folders, several ranks write the same files, and an existing
# output folder is replaced whole when it is an earlier export, else only with --force.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/report_lib.sh"

dcrun 1 synth images --classes 4 --per-class 15 --size 24 --seed 9 --out imgs >/dev/null
make_features imgs f.h5 paths odd   # 62 rows; row 60 has a comma and quotes in its name
$PY -c "import h5py; h = h5py.File('f.h5', 'r+'); h['valid'][7] = 0"  # row 7 invalid
dcrun 1 kmeans --features f.h5 --k 4 --seed 1 --restarts 2 --out km.h5 >/dev/null
GONE=$(ls imgs/class_02/*.png | head -1)
export GONE
rm "$GONE"   # an image gone since extraction: in the CSV only
dcrun 1 export --features f.h5 --pred km.h5 --out ex >ex.log 2>&1 || { cat ex.log; fail "export failed"; }
grep -q "not a readable file" ex.log || fail "the missing image was not reported"
dcrun 2 export --features f.h5 --pred km.h5 --out ex2 >/dev/null 2>&1
cmp ex/assignments.csv ex2/assignments.csv || fail "CSV on 2 ranks differs from 1 rank"
dcrun 1 export --features f.h5 --pred km.h5 --out excopy --copy >/dev/null 2>&1

$PY - <<'PY'
import csv, os, json, h5py, numpy as np
f, k = h5py.File("f.h5", "r"), h5py.File("km.h5", "r")
names = json.loads(f.attrs["class_names"])
ids = [s.decode() if isinstance(s, bytes) else s for s in f["ids"][:]]
labels, x = f["labels"][:], f["features"][:]
assign, cen = k["assign"][:], k["centroids"][:]
with open("ex/assignments.csv", newline="", encoding="utf-8") as fh:
    rows = list(csv.reader(fh))
# New columns only at the end: readers by position keep working.
assert rows[0] == ["row", "path", "cluster", "confidence", "label", "class_name"], rows[0]
rows = rows[1:]
assert len(rows) == len(assign) == 62, len(rows)
assert assign[7] == -1
missing = os.path.abspath(os.environ["GONE"])
for i, (r, p, c, conf, lab, name) in enumerate(rows):
    assert int(r) == i and p == ids[i] and int(c) == assign[i] and int(lab) == labels[i], (i, r, p, c, lab)
    assert name == names[labels[i]] and name.startswith("class_"), (i, name, labels[i])
    if assign[i] < 0:
        assert conf == "", (i, conf)
        continue
    d = ((x[i] - cen) ** 2).sum(1)
    d1, d2 = d[assign[i]], np.delete(d, assign[i]).min()
    want = min(1.0, max(0.0, 1 - np.sqrt(d1 / d2)))
    assert abs(float(conf) - want) < 1e-3, (i, conf, want)
assert rows[60][1].endswith('odd, "quoted" name.png') and os.path.exists(rows[60][1])

def listing(root, copies):
    seen = {}
    for c in sorted(os.listdir(os.path.join(root, "clusters"))):
        for name in os.listdir(os.path.join(root, "clusters", c)):
            e = os.path.join(root, "clusters", c, name)
            row = int(name.split("_", 1)[0])
            assert row not in seen, f"row {row} twice"
            seen[row] = int(c.split("_")[1])
            if copies:
                assert os.path.isfile(e) and not os.path.islink(e), e
                assert open(e, "rb").read() == open(ids[row], "rb").read(), e
            else:
                assert os.path.islink(e) and os.path.isabs(os.readlink(e)), e
                assert os.path.samefile(e, ids[row]), (e, ids[row])
            assert name.endswith(os.path.basename(ids[row])), name
    return seen

gone = next(i for i, p in enumerate(ids) if os.path.abspath(p) == missing)
for root, copies in (("ex", False), ("excopy", True)):
    seen = listing(root, copies)
    want = {i: int(a) for i, a in enumerate(assign) if a >= 0 and i != gone}
    assert seen == want, (root, set(seen) ^ set(want))
    for c in set(want.values()):
        n = len(os.listdir(os.path.join(root, "clusters", "cluster_%04d" % c)))
        assert n == sum(1 for v in want.values() if v == c)
print("export ok:", len(rows), "rows;", len(want), "links and copies; missing row", gone, "CSV only")
PY

# Integer /ids: the CSV has empty paths and there are no folders.
make_features imgs fint.h5 int >/dev/null
dcrun 1 kmeans --features fint.h5 --k 4 --seed 1 --out kmint.h5 >/dev/null
dcrun 1 export --features fint.h5 --pred kmint.h5 --out exint >/dev/null
$PY - <<'PY'
import csv, os
rows = list(csv.DictReader(open("exint/assignments.csv", newline="")))
assert len(rows) > 0 and all(r["path"] == "" for r in rows)
assert not os.path.exists("exint/clusters")
PY

# No class names stored: class_name is empty, the label id stays.
cp f.h5 fnonames.h5
$PY -c "import h5py; h = h5py.File('fnonames.h5', 'r+'); del h.attrs['class_names']"
dcrun 1 export --features fnonames.h5 --pred km.h5 --out exnonames --no-folders >/dev/null
$PY - <<'PY'
import csv
rows = list(csv.DictReader(open("exnonames/assignments.csv", newline="")))
assert rows and all(r["class_name"] == "" and r["label"] != "" for r in rows), rows[0]
PY

# The overwrite rule (io/replace_rule.h): its own earlier export is replaced
# whole; a folder distclust did not write is refused without --force.
touch ex/marker
$DC export --features f.h5 --pred km.h5 --out ex >/dev/null 2>&1 || fail "export into its own earlier output refused"
[[ -f ex/assignments.csv && ! -e ex/marker && ! -e ex.tmp && ! -e ex.old ]] || fail "the earlier export was not replaced whole"
mkdir -p mine && echo keep > mine/notes.txt
if $DC export --features f.h5 --pred km.h5 --out mine >refuse.log 2>&1; then fail "a folder distclust did not write was replaced without --force"; fi
grep -q "mine exists and is not a distclust output: pass --force" refuse.log || { cat refuse.log; fail "refusal unclear"; }
[[ -e mine/notes.txt ]] || fail "the refused folder was touched"
$DC export --features f.h5 --pred km.h5 --out mine --force >/dev/null 2>&1
[[ -f mine/assignments.csv && ! -e mine/notes.txt ]] || fail "--force did not replace the folder"
# A stop signal after the swap, while the replaced copy is deleted: the new
# output is whole and the message says so (it said "not committed").
touch ex/marker
set +e
DISTCLUST_FAULT_SIGNAL_AT=replacing-old $DC export --features f.h5 --pred km.h5 --out ex >late.log 2>&1; rc=$?
set -e
[[ $rc -eq 143 ]] || { cat late.log; fail "a SIGTERM while deleting the old copy: rc $rc, not 143"; }
grep -q "stopped by SIGTERM after ex was committed: it is the new output, whole; ex.tmp holds the copy it replaced" late.log ||
  { cat late.log; fail "the stop message after the commit"; }
grep -q "not committed" late.log && { cat late.log; fail "said not committed after the commit"; }
[[ -f ex/assignments.csv && ! -e ex/marker && -e ex.tmp/marker ]] || fail "not the new output with the old copy aside"
$DC export --features f.h5 --pred km.h5 --out ex >/dev/null 2>&1 || fail "the rerun after a late stop"
[[ ! -e ex.tmp ]] || fail "the old copy was not removed by the rerun"
pass "export CSV, links, copies, ranks, --force, a stop after the commit"

# Rows that are records in an HDF5 array (ids FILE:INDEX) have no file to
# link or show: export said "0 images linked into 0 cluster folders" and the
# report "0 thumbnails" without a word on why.
$PY -c "
import h5py, numpy as np
r = np.random.default_rng(0)
with h5py.File('arr.h5', 'w') as f:
    f['images'] = r.integers(0, 255, (30, 12, 12, 3), dtype=np.uint8); f['labels'] = np.repeat(np.arange(3), 10)"
dcrun 1 extract --source arr.h5 --backbone pixels --pixels-size 8 --out arrf.h5 >/dev/null
dcrun 1 kmeans --features arrf.h5 --k 3 --out arrk.h5 >/dev/null
dcrun 1 export --features arrf.h5 --pred arrk.h5 --out arrex >arrex.txt 2>&1 || { cat arrex.txt; fail "export of HDF5 records"; }
grep -q "30 rows are records in an HDF5 array or CIFAR batch (ids FILE:INDEX) or have no path, not image files: in the CSV only" arrex.txt ||
  { cat arrex.txt; fail "export of HDF5 records: why no folders is not said"; }
grep -q ",$PWD/arr.h5:7," arrex/assignments.csv || fail "export of HDF5 records: FILE:INDEX not in the CSV"
dcrun 1 report --features arrf.h5 --pred arrk.h5 --out arrrep >arrrep.txt 2>&1 || { cat arrrep.txt; fail "report of HDF5 records"; }
grep -q "rows shown are records in an HDF5 array or CIFAR batch (ids FILE:INDEX), not image files: no thumbnails" arrrep.txt ||
  { cat arrrep.txt; fail "report of HDF5 records: why no thumbnails is not said"; }
pass "HDF5 records: export and report say why there are no folders or thumbnails"
