#!/usr/bin/env bash
# Every long stage prints progress lines with a rate and an ETA on rank 0
# (DISTCLUST_PROGRESS_SECONDS=0 would silence them; a tiny interval prints
# one per step here), as plain lines when stdout is not a terminal.
source "$(dirname "$0")/lib.sh"
export DISTCLUST_PROGRESS_SECONDS=0.000001
dcrun 1 synth features --n 3000 --d 16 --k 5 --out f.h5 >/dev/null
dcrun 2 kmeans --features f.h5 --k 5 --iters 5 --tol 0 --out km.h5 > km.txt
dcrun 2 knn --features f.h5 --k 5 --tile-rows 64 --out knn.h5 > knn.txt
dcrun 2 knn --features f.h5 --k 5 --mode ivf --out ivf.h5 > ivf.txt
dcrun 2 scan --features f.h5 --knn knn.h5 --clusters 5 --epochs 2 --min-steps 0 --heads 2 --out s.h5 > scan.txt
# extract too (its progress_seconds once defaulted to 10, hiding the variable)
dcrun 1 synth images --classes 2 --per-class 40 --size 16 --out imgs >/dev/null
dcrun 1 extract --source imgs --backbone pixels --pixels-size 8 --batch 8 --out fx.h5 > ex.txt
# report's thumbnails (a minute or two of silence on large images)
dcrun 1 kmeans --features fx.h5 --k 2 --out kx.h5 >/dev/null
dcrun 1 report --features fx.h5 --pred kx.h5 --map none --out rep > rep.txt
grep -qE "report thumbnails: ([0-9]+)/\1 images \(100%\)" rep.txt || { cat rep.txt; fail "report: thumbnails progress does not reach its total"; }
for f in km knn ivf scan ex rep; do
  line=$(grep -E "/s, ETA [0-9?]" $f.txt | tail -1)
  [[ -n "$line" ]] || { cat $f.txt; fail "$f: no progress line with rate and ETA"; }
  echo "$f: ${line#*] }"
  ! grep -q $'\r' $f.txt || fail "$f: carriage returns in non-terminal output"
done
grep -q "kmeans (ETA if all iterations run): 5/5 iterations (100%)" km.txt || fail "kmeans progress does not reach 5/5"
grep -q "knn exact (rank 0): 3000/3000 query rows (100%)" knn.txt || fail "knn progress does not reach its total"
# gmm reports from inside an EM pass (a full-covariance pass at D=2048 ran
# 57 s without a line): a fractional iteration count.
dcrun 2 gmm --features f.h5 --k 3 --iters 2 --tol 0 --out g.h5 > gmm.txt
grep -qE "gmm \(ETA if all iterations run\): [0-9]+\.[0-9]/2 iterations .*/s, ETA" gmm.txt ||
  { cat gmm.txt; fail "gmm: no progress from inside an iteration"; }
# The PCA sample pass of a network backbone (up to 20,000 images through
# the network before the extraction proper) was silent.
model="$DC_SOURCE/../shared/models/cifar10-resnet20.pt"
if [[ -f $model ]]; then
  dcrun 2 extract --source imgs --backbone "$model" --pca-dim 4 --batch 8 --out fp.h5 > exp.txt
  grep -qE "extract PCA sample: [0-9]+/80 images .*/s, ETA" exp.txt || { cat exp.txt; fail "no progress in the PCA sample pass"; }
fi
pass "progress with rate and ETA: kmeans, knn exact, knn ivf, scan, extract (and its PCA sample)"
