#!/usr/bin/env bash
# SCAN on MNIST test (10,000 images) with the pixels backbone (28x28, PCA 50)
# and its cosine kNN graph (k=20): at least 10 points of ACC above k-means
# (10 restarts) on the same features; self-labelling does not lower it.
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
# Issue 5: self-labelling must not lower ACC. On frozen features it moves
# ~1% of rows and its effect is seed noise: over 6 seeds -0.19..+0.14 points
# on MNIST, -0.1..+0.1 on CIFAR (bench/RESULTS-scan.md); here 2 ranks moved
# MNIST from 0.7951 to 0.7948 (3 rows of 10,000). So the bar is "not lower
# by more than that noise": 0.3 points.
ge "$sl" "$($PY -c "print($sc - 0.003)")" || fail "self-labelling lowered ACC: $sc -> $sl (more than 0.3 points)"
pass "MNIST: SCAN $sc >= k-means $km + 0.10; self-label $sl"
