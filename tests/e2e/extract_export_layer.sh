#!/usr/bin/env bash
# tools/export_backbone.py --layer: ResNet-18 `avgpool` and VGG-11
# `classifier.3` (fc7 before its ReLU) with random weights (--seed, no
# network) exported as TorchScript ending at that layer, flattened to
# [B, D]; the sidecar says D (512, 4096) and the layer. `distclust extract`
# with each on 6 CIFAR-10 test images gives, within 1e-4 relative, the rows
# of the same torchvision model (same seed) run whole in python3-torch with a
# forward hook on that module (not feature_extraction: an independent cut),
# on torchvision's eval transform. An unknown layer is refused with the
# close names. Skipped (77) without python3-torchvision.
source "$(dirname "$0")/lib.sh"
if ! $PY -c "import torchvision" 2>/dev/null; then
  echo "SKIP: python3-torchvision is not installed (apt-get install python3-torchvision)"
  exit 77
fi
export_py="$DC_SOURCE/tools/export_backbone.py"
if $PY "$export_py" resnet18 --weights none --layer avgpol --out bad.pt >err.txt 2>&1; then
  fail "an unknown layer was accepted"
fi
grep -q "resnet18 has no layer 'avgpol'; close: avgpool" err.txt || { cat err.txt; fail "no close names offered"; }
[ ! -e bad.pt ] || fail "bad.pt written for an unknown layer"
mkdir imgs
# Two images of each of three classes (globs, not `ls | head`: under
# pipefail a SIGPIPE'd ls fails the test at random).
classes=("$DC_SOURCE"/../shared/data/cifar10-test1k/*/)
for f in "${classes[@]:0:3}"; do
  pngs=("$f"*.png)
  for p in "${pngs[@]:0:2}"; do cp "$p" "imgs/$(basename "$f")-$(basename "$p")"; done
done
[ "$(ls imgs | wc -l)" = 6 ] || fail "expected 6 test images, got $(ls imgs | wc -l)"
check() {  # model layer D
  $PY "$export_py" "$1" --weights none --seed 3 --layer "$2" --out "models/$1.pt" || fail "export of $1 $2 failed"
  dcrun 1 extract --source imgs --backbone "models/$1.pt" --batch 4 --progress-seconds 0 --out "$1.h5" >log.txt 2>&1 \
    || { cat log.txt; fail "extract with $1 $2 failed"; }
  MODEL=$1 LAYER=$2 DIM=$3 $PY - <<'PY'
import json, os
import h5py, numpy as np, torch
from PIL import Image
from torchvision import models, transforms as T
name, layer, dim = os.environ["MODEL"], os.environ["LAYER"], int(os.environ["DIM"])
s = json.load(open(f"models/{name}.json"))
assert s["output_dim"] == dim and s["layer"] == layer and "classifier_removed" not in s, s
torch.manual_seed(3)  # the exporter's --seed, then the same constructor: the same weights
m = models.get_model(name, weights=None).eval()
got = {}
# clone: VGG's next module is an in-place ReLU, which would rewrite the
# captured tensor (the exported cut is before it, as the name says).
dict(m.named_modules())[layer].register_forward_hook(lambda mod, i, o: got.__setitem__("out", o.clone()))
f = h5py.File(f"{name}.h5", "r")
assert f["features"].shape == (6, dim), f["features"].shape
tf = T.Compose([T.Resize(s["resize"]), T.CenterCrop(s["input_size"][0]), T.ToTensor(), T.Normalize(s["mean"], s["std"])])
x = torch.stack([tf(Image.open(i.decode()).convert("RGB")) for i in f["ids"][:]])
with torch.no_grad():
    m(x)
ref = torch.flatten(got["out"], 1).numpy()
a = f["features"][:]
rel = float((np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)).max())
print(f"{name} {layer}: D = {dim}, mean |ref| {np.abs(ref).mean():.3g}, max_rel vs torchvision + hook = {rel:.2e}")
assert np.abs(ref).mean() > 0
assert rel < 1e-4, rel
PY
}
check resnet18 avgpool 512 || fail "resnet18 avgpool"
check vgg11 classifier.3 4096 || fail "vgg11 classifier.3"
pass "export --layer: resnet18 avgpool (512) and vgg11 classifier.3 (4096) match torchvision cut by a hook"
