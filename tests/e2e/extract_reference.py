#!/usr/bin/python3
"""Reference features for the extract tests: the same TorchScript model run by
Debian's python3-torch on the images named by /ids of a features file.

Usage: extract_reference.py FEATURES.h5 MODEL.pt [--torchvision]
Preprocessing: the JSON sidecar's input_size/mean/std (and resize, when
given). Without --torchvision, images must already have the input size (the
CIFAR case: ToTensor + Normalize only). With --torchvision, the eval transform
Resize(resize) + CenterCrop(input) + ToTensor + Normalize of torchvision.
Prints one JSON line: max row relative error ||a-b||/||b||, max abs error,
and the number of rows compared (valid rows only).
"""
import json
import sys

import h5py
import numpy as np
import torch
from PIL import Image

feat, model = sys.argv[1], sys.argv[2]
use_tv = "--torchvision" in sys.argv[3:]
torch.set_num_threads(2)
side = json.load(open(model.rsplit(".", 1)[0] + ".json"))
size = side["input_size"]
size = size[0] if isinstance(size, list) else size
mean, std = side["mean"], side["std"]
if use_tv:
    from torchvision import transforms as T
    tf = T.Compose([T.Resize(side.get("resize", size)), T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])
else:
    m_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def tf(img):
        a = np.asarray(img)
        assert a.shape[:2] == (size, size), f"image is {a.shape}, expected {size}x{size}"
        t = torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255)  # ToTensor
        return (t - m_t) / s_t  # Normalize

with h5py.File(feat, "r") as f:
    ids = [i.decode() for i in f["ids"][:]]
    got = f["features"][:].astype(np.float32)
    valid = f["valid"][:].astype(bool)
m = torch.jit.load(model).eval()
rows = [i for i in range(len(ids)) if valid[i]]
xs = [tf(Image.open(ids[i]).convert("RGB")) for i in rows]
out = []
with torch.inference_mode():
    for b in range(0, len(xs), 100):
        y = m(torch.stack(xs[b:b + 100]))
        out.append(y.mean((2, 3)) if y.dim() == 4 else y)
ref = torch.cat(out).numpy()
g = got[rows]
rel = np.linalg.norm(g - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-30)
print(json.dumps({"max_rel": float(rel.max()), "max_abs": float(np.abs(g - ref).max()), "rows": len(rows)}))
