#!/usr/bin/env bash
# tools/export_backbone.py with Debian's python3-torchvision: ResNet-18 with
# random weights (no network) exported without its classifier, then
# `distclust extract` on JPEGs of assorted sizes with it. The features equal
# those of torchvision's own eval transform (Resize 256, CenterCrop 224,
# ToTensor, Normalize on PIL images) and the same model in python3-torch
# within 1e-4 relative. Skipped (77) without python3-torchvision.
source "$(dirname "$0")/lib.sh"
if ! $PY -c "import torchvision" 2>/dev/null; then
  echo "SKIP: python3-torchvision is not installed (apt-get install python3-torchvision)"
  exit 77
fi
$PY "$DC_SOURCE/tools/export_backbone.py" resnet18 --weights none --out models/resnet18.pt
$PY - <<'PY'
import json, os
import numpy as np
from PIL import Image
s = json.load(open("models/resnet18.json"))
assert s["input_size"] == [224, 224] and s["resize"] == 256 and s["output_dim"] == 512, s
assert s["classifier_removed"] == "fc", s
rng = np.random.RandomState(0)
os.makedirs("imgs")
for i, (w, h) in enumerate([(300, 200), (180, 260), (224, 224), (500, 375), (256, 256), (640, 480)] * 2):
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([128 + 100 * np.sin(x / (7 + i) + c) * np.cos(y / (11 + c)) for c in range(3)], -1)
    a = np.clip(a + rng.normal(0, 10, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(f"imgs/{i:02d}.jpg", quality=90)
PY
dcrun 1 extract --source imgs --backbone models/resnet18.pt --batch 4 --out f.h5 >log.txt 2>&1 \
  || { cat log.txt; fail "extract with the exported model failed"; }
grep wrote log.txt
ref=$($PY "$DC_SOURCE/tests/e2e/extract_reference.py" f.h5 models/resnet18.pt --torchvision)
echo "parity: $ref"
rel=$(echo "$ref" | $PY -c "import json,sys; print(json.load(sys.stdin)['max_rel'])")
ge 1e-4 "$rel" || fail "features differ from torchvision's pipeline by $rel relative (> 1e-4)"
pass "exported ResNet-18 (random weights): D=512, parity with torchvision max_rel=$rel"
