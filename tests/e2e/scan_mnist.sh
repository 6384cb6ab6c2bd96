#!/usr/bin/env bash
# SCAN on MNIST test (10,000 images) with the pixels backbone (28x28, PCA 50)
# and its cosine kNN graph (k=20): at least 10 points of ACC above k-means
# (10 restarts) on the same features; self-labelling does not lower it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scan_common.sh"
scan_features mnist f.h5 >extract.txt 2>&1 || { cat extract.txt; fail "feature extraction failed"; }
dcrun 2 knn --features f.h5 --k 20 --metric cosine --out knn.h5 >knn.txt
dcrun 2 kmeans --features f.h5 --k 10 --restarts 10 --seed 1 --out km.h5 >km.txt
args=(scan --features f.h5 --knn knn.h5 --clusters 10 --head mlp --hidden 128)
dcrun 2 "${args[@]}" --out scan.h5 >scan.txt
dcrun 2 "${args[@]}" --self-label --out scan-sl.h5 >scan-sl.txt
km=$(acc km.h5 f.h5); sc=$(acc scan.h5 f.h5); sl=$(acc scan-sl.h5 f.h5)
echo "MNIST test, pixels + PCA 50: k-means ACC $km, SCAN (mlp head) ACC $sc, SCAN + self-label ACC $sl"
grep -E "confident|kept head|cluster sizes|epoch 60/" scan-sl.txt | sed 's/^.*scan: /  /'
ge "$sc" "$($PY -c "print($km + 0.10)")" || fail "SCAN ACC $sc is not 10 points above k-means ACC $km"
ge "$sl" "$sc" || fail "self-labelling lowered ACC: $sc -> $sl"
pass "MNIST: SCAN $sc >= k-means $km + 0.10; self-label $sl"
