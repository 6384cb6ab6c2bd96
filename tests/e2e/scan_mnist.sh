#!/usr/bin/env bash
# SCAN on MNIST test (10,000 images) with the pixels backbone (28x28, PCA 50)
# and its cosine kNN graph (k=20): at least 10 points of ACC above k-means
# (10 restarts) on the same features; self-labelling (with its neighbour
# gate) does not lower it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scan_common.sh"
scan_features mnist f.h5 >extract.txt 2>&1 || { cat extract.txt; fail "feature extraction failed"; }
dcrun 2 knn --features f.h5 --k 20 --metric cosine --out knn.h5 >knn.txt
dcrun 2 kmeans --features f.h5 --k 10 --restarts 10 --seed 1 --out km.h5 >km.txt
args=(scan --features f.h5 --knn knn.h5 --clusters 10 --head mlp)
# One run: /assign_scan holds the SCAN assignment before self-labelling (the
# same as a run without --self-label; scan_cifar.sh and the unit tests check that).
dcrun 2 "${args[@]}" --self-label --out scan-sl.h5 >scan-sl.txt
km=$(acc km.h5 f.h5); sc=$(acc_before_self_label scan-sl.h5 f.h5); sl=$(acc scan-sl.h5 f.h5)
echo "MNIST test, pixels + PCA 50: k-means ACC $km, SCAN (mlp head) ACC $sc, SCAN + self-label ACC $sl"
grep -E "confident|kept head|cluster sizes|moved|epoch 60/" scan-sl.txt | sed 's/^.*scan: /  /'
ge "$sc" "$($PY -c "print($km + 0.10)")" || fail "SCAN ACC $sc is not 10 points above k-means ACC $km"
# Issue 5: self-labelling must not lower ACC. Ungated it moved ~1% of rows
# and lowered ACC here (0.7951 -> 0.7948, and -0.13..+0.10 points over 6
# seeds); the neighbour gate (src/scan/scan_gate.h) keeps only the moves the
# rows' neighbours support: +0.05..+0.23 over the same seeds
# (bench/RESULTS-scan.md). No tolerance: not lower at all.
ge "$sl" "$sc" || fail "self-labelling lowered ACC: $sc -> $sl"
$PY -c "
import h5py; a = h5py.File('scan-sl.h5', 'r').attrs
p, r, m = int(a['self_label_proposed']), int(a['self_label_rejected']), int(a['self_label_moved'])
assert p > 0 and m == p - r, (p, r, m)
print(f'  self-labelling proposed {p} moves, the neighbour gate turned down {r}, {m} rows moved')"
pass "MNIST: SCAN $sc >= k-means $km + 0.10; self-label $sl"
