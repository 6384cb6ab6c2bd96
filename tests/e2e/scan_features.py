#!/usr/bin/python3
"""Fallback feature extraction for the SCAN end-to-end tests, used only when
`distclust extract` is not available in the build: writes the features.h5
that `distclust extract` writes for the same source (rows in sorted
class-folder order, sorted file names within a folder; /labels = folder index).

  scan_features.py cifar DIR MODEL.pt OUT.h5   TorchScript backbone, preprocessing
                                               from MODEL.json: ToTensor + Normalize
  scan_features.py pixels DIR DIM OUT.h5       grayscale pixels in [0, 1], flattened,
                                               projected on the first DIM principal
                                               components (centred), like
                                               `--backbone pixels --pca-dim DIM`
"""
import json
import os
import sys

import h5py
import numpy as np
from PIL import Image


def listing(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    paths, labels = [], []
    for ci, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(root, c))):
            paths.append(os.path.join(root, c, f))
            labels.append(ci)
    return paths, np.array(labels, np.int64)


def write(out, x, labels, backbone):
    with h5py.File(out + ".tmp", "w") as f:
        f["features"] = x.astype(np.float32)
        f["labels"] = labels
        f["valid"] = np.ones(len(x), np.uint8)
        f["ids"] = np.arange(len(x), dtype=np.int64)
        f.attrs["backbone"] = backbone
        f.attrs["created_by"] = "tests/e2e/scan_features.py"
    os.replace(out + ".tmp", out)


def main():
    kind, root = sys.argv[1], sys.argv[2]
    paths, labels = listing(root)
    if kind == "cifar":
        import torch
        torch.set_num_threads(2)
        model_path, out = sys.argv[3], sys.argv[4]
        side = json.load(open(os.path.splitext(model_path)[0] + ".json"))
        mean = np.array(side["mean"], np.float32)[:, None, None]
        std = np.array(side["std"], np.float32)[:, None, None]
        imgs = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0
                         for p in paths])
        imgs = (imgs - mean) / std
        model = torch.jit.load(model_path).eval()
        with torch.no_grad():
            x = torch.cat([model(torch.from_numpy(imgs[i:i + 250])) for i in range(0, len(imgs), 250)]).numpy()
        write(out, x, labels, model_path)
    elif kind == "pixels":
        dim, out = int(sys.argv[3]), sys.argv[4]
        x = np.stack([np.asarray(Image.open(p).convert("L"), np.float64).ravel() / 255.0 for p in paths])
        mu = x.mean(0)
        xc = x - mu
        _, _, vt = np.linalg.svd(xc[:: max(1, len(xc) // 20000)], full_matrices=False)
        write(out, xc @ vt[:dim].T, labels, f"pixels (python fallback), pca {dim}")
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
