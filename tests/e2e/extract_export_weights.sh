#!/usr/bin/env bash
# tools/export_backbone.py --weights FILE with the state_dicts users bring:
# a ResNet-18 fine-tuned to 7 classes (fc [7, 512]: refused by the strict
# load before), the same wrapped as a training checkpoint with DDP's
# "module." prefix, with Lightning's "model." prefix, and one without the
# classifier: each exports, and the exported model gives that state_dict's
# features (fc removed) to 1e-5. Another model's state_dict, a missing path,
# a file that is not a state_dict and a --layer holding a classifier of
# another size are refused by name; --layer takes a module name (layer4).
# Skipped (77) without python3-torchvision.
source "$(dirname "$0")/lib.sh"
if ! $PY -c "import torchvision" 2>/dev/null; then
  echo "SKIP: python3-torchvision is not installed (apt-get install python3-torchvision)"
  exit 77
fi
EXPORT="$DC_SOURCE/tools/export_backbone.py"
$PY - <<'PY'
import torch, torchvision
torch.manual_seed(1)
m = torchvision.models.resnet18()
m.fc = torch.nn.Linear(512, 7)
sd = m.state_dict()
torch.save(sd, "tuned7.pt")
torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in sd.items()}}, "ckpt_ddp.pt")
torch.save({k: v for k, v in sd.items() if not k.startswith("fc.")}, "nofc.pt")
torch.save({"model." + k: v for k, v in sd.items()}, "lightning.pt")
torch.save(torchvision.models.resnet34().state_dict(), "r34.pt")
torch.save(torchvision.models.mobilenet_v3_small(num_classes=7).state_dict(), "mnv3_7.pt")
open("junk.pt", "w").write("not a state_dict\n")
PY
for w in tuned7 ckpt_ddp lightning nofc; do
  $PY "$EXPORT" resnet18 --weights $w.pt --out models/$w.pt >$w.log 2>&1 || { cat $w.log; fail "--weights $w.pt refused"; }
done
$PY - <<'PY'
import torch, torchvision
x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(5))
ref = torchvision.models.resnet18()
ref.fc = torch.nn.Linear(512, 7)
ref.load_state_dict(torch.load("tuned7.pt"))
ref.fc = torch.nn.Identity()
with torch.no_grad():
    want = ref.eval()(x)
    for w in ("tuned7", "ckpt_ddp", "lightning", "nofc"):
        got = torch.jit.load(f"models/{w}.pt").eval()(x)
        rel = ((got - want).abs().max() / want.abs().max()).item()
        assert rel < 1e-5, f"{w}: the exported features differ from the state_dict's by {rel}"
print("exported features match the trained weights")
PY
expect_refusal() {  # expect_refusal WEIGHTS TEXT
  if $PY "$EXPORT" resnet18 --weights "$1" --out models/bad.pt >bad.log 2>&1; then
    cat bad.log; fail "--weights $1 was taken"
  fi
  grep -q "$2" bad.log || { cat bad.log; fail "--weights $1: no message saying '$2'"; }
  ! grep -q "Traceback" bad.log || { cat bad.log; fail "--weights $1: a traceback, not a message"; }
}
expect_refusal r34.pt "does not fit torchvision's resnet18"
expect_refusal nope.pth "no such file"
expect_refusal junk.pt "not a file torch.load reads"
# A layer holding the classifier needs its weights: a fine-tuned one of
# another size was dropped and a random 1000-way one exported, "removed".
if $PY "$EXPORT" mobilenet_v3_small --weights mnv3_7.pt --layer classifier --out models/bad.pt >bad.log 2>&1; then
  cat bad.log; fail "--layer classifier with a 7-class classifier was taken"
fi
grep -q "holds the classifier (classifier.3), which mnv3_7.pt has for 7 classes" bad.log || { cat bad.log; fail "no message for a layer holding the classifier"; }
$PY "$EXPORT" resnet18 --weights none --layer layer4 --out models/l4.pt >l4.log 2>&1 || { cat l4.log; fail "--layer layer4 refused"; }
grep -q "D = 25088" l4.log || { cat l4.log; fail "layer4 is not [512, 7, 7] flattened"; }
pass "fine-tuned, checkpoint-wrapped and classifier-less state_dicts export with their own features; bad files refused by name; --layer layer4"
