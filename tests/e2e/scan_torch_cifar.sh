#!/usr/bin/env bash
# SCAN with the LibTorch heads (--kernels torch, CPU tensors here; the GPU
# path's code) on the ResNet-20 features of CIFAR-10 test1k, on 2 ranks,
# against the default hand-written heads: the log names the LibTorch heads,
# ACC agrees within 0.01, and the loss curves within tests/common/
# tolerances.h kScanTorchLoss (1e-3): all 125 epochs for the linear heads;
# for the mlp heads (hidden 128 here, a quarter of the default's cost; lr
# 0.01) the first 5 epochs, and the last
# within kScanTorchLongRunLoss (1e-2 relative): from epoch ~6 their
# training amplifies float rounding of any origin (the CPU heads on 1 and
# on 2 ranks part the same way, 6e-2 apart at epoch 40; see tolerances.h).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scan_common.sh"
scan_features cifar f.h5 >extract.txt 2>&1 || { cat extract.txt; fail "feature extraction failed"; }
dcrun 2 knn --features f.h5 --k 20 --metric cosine --out knn.h5 >knn.txt
for head in linear mlp; do
  dcrun 2 scan --features f.h5 --knn knn.h5 --clusters 10 --head $head --hidden 128 --self-label --out cpu-$head.h5 \
    >cpu-$head.txt
  dcrun 2 scan --features f.h5 --knn knn.h5 --clusters 10 --head $head --hidden 128 --self-label --kernels torch \
    --out torch-$head.h5 >torch-$head.txt
  grep -q "heads compute on cpu (LibTorch" torch-$head.txt || { cat torch-$head.txt; fail "--kernels torch did not use the LibTorch heads"; }
  grep -q "heads compute on cpu (OpenBLAS" cpu-$head.txt || { cat cpu-$head.txt; fail "the default run did not use the CPU heads"; }
  ac=$(acc cpu-$head.h5 f.h5); at=$(acc torch-$head.h5 f.h5)
  $PY - cpu-$head.h5 torch-$head.h5 "$ac" "$at" <<'PY' || fail "$head heads: LibTorch and CPU runs disagree"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
la, lb = a["loss"][:], b["loss"][:]
assert la.shape == lb.shape, (la.shape, lb.shape)
rel = np.abs(la - lb) / np.maximum(1, np.abs(la))
mlp = "mlp" in sys.argv[1]  # cpu-mlp.h5
d = float(np.max(rel[:5] if mlp else rel))
last = float(np.max(rel[-1]))
assert last <= 1e-2, f"last epoch's losses differ by {last:.2e} > 1e-2"
same = float(np.mean(a["assign"][:] == b["assign"][:]))
acc_cpu, acc_torch = float(sys.argv[3]), float(sys.argv[4])
print(f"  loss curves: max rel diff {d:.2e} ({'first 5 epochs' if mlp else 'all epochs'}), last epoch {last:.2e}; rows with the same cluster {same:.4f}; ACC cpu {acc_cpu:.4f} torch {acc_torch:.4f}")
assert d <= 1e-3, f"loss curves differ by {d:.2e} > 1e-3"
assert abs(acc_cpu - acc_torch) <= 0.01, f"ACC {acc_torch} vs {acc_cpu}"
assert acc_torch > 0.5, f"ACC {acc_torch}: nothing learned"
PY
  echo "CIFAR-10 test1k, $head heads: ACC cpu $ac, torch $at"
done
pass "CIFAR: --kernels torch matches the CPU heads (linear and mlp)"
