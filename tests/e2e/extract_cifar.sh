#!/usr/bin/env bash
# CIFAR-10 test images through the real ResNet-20 TorchScript model: the
# features equal those of the same model run by Debian's python3-torch on the
# same preprocessing (ToTensor + Normalize for 32x32) within 1e-4 relative;
# k-means K=10 on them reaches ACC >= 0.85 (scikit-learn: ~0.91). float16
# storage holds the float32 features rounded to half.
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
model="$shared/models/cifar10-resnet20.pt"
dcrun 1 extract --source "$shared/data/cifar10-test1k" --backbone "$model" --out f.h5 >log.txt 2>&1 \
  || { cat log.txt; fail "extract failed"; }
grep -q "0 invalid rows" log.txt || fail "unexpected invalid rows: $(grep wrote log.txt)"
ref=$($PY "$DC_SOURCE/tests/e2e/extract_reference.py" f.h5 "$model")
echo "parity: $ref"
rel=$(echo "$ref" | $PY -c "import json,sys; print(json.load(sys.stdin)['max_rel'])")
ge 1e-4 "$rel" || fail "features differ from python3-torch's by $rel relative (> 1e-4)"
$PY - <<'PY'
import h5py, json, numpy as np
f = h5py.File("f.h5", "r")
assert f["features"].shape == (1000, 64) and f["features"].dtype == np.float32
assert f["labels"].dtype == np.int64 and set(np.unique(f["labels"][:])) == set(range(10))
assert f["valid"][:].all() and "done" not in f
names = json.loads(f.attrs["class_names"])
assert names[0] == "airplane" and len(names) == 10, names
for a in ["backbone", "preprocessing", "created_by", "config_hash", "source", "params"]:
    assert a in f.attrs, a
assert b"cifar10-resnet20.pt" in f.attrs["backbone"]
ids = [i.decode() for i in f["ids"][:]]
assert ids == sorted(ids) and ids[0].endswith("airplane/00003.png"), ids[:2]
PY
dcrun 1 kmeans --features f.h5 --k 10 --restarts 5 --seed 1 --out km.h5 >/dev/null
dcrun 1 eval --pred km.h5 --labels f.h5 --json --out scores.json >/dev/null
acc=$(json_get scores.json acc)
ge "$acc" 0.85 || fail "k-means ACC $acc < 0.85 on ResNet-20 features"
# float16 storage: the same features, rounded.
dcrun 1 extract --source "$shared/data/cifar10-test1k" --backbone "$model" --out h.h5 --half >/dev/null 2>&1
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("f.h5", "r")["features"][:], h5py.File("h.h5", "r")["features"]
assert b.dtype == np.float16, b.dtype
assert np.array_equal(a.astype(np.float16), b[:]), "float16 file is not the float32 features rounded"
PY
pass "parity max_rel=$rel, k-means ACC=$acc, float16 storage exact"
