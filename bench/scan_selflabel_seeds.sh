#!/usr/bin/env bash
# Self-labelling's effect on ACC over seeds (bench/RESULTS-scan.md): features
# from `distclust extract` (CIFAR-10 test1k with the ResNet-20 TorchScript;
# MNIST test with pixels + PCA 50), the exact cosine kNN graph (k=20), then
# per seed two `distclust scan --self-label` runs, with the neighbour gate
# (the default) and without it; ACC of /assign_scan (SCAN alone, the same in
# both) and of /assign (after self-labelling) by `distclust eval`.
#   bench/scan_selflabel_seeds.sh [SEEDS] [RANKS]     defaults "1 2 3 4 5 6", 2
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DC=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=/usr/bin/python3
SEEDS=${1:-1 2 3 4 5 6}
NP=${2:-2}
SHARED=$ROOT/../shared
W=$(mktemp -d /tmp/dc-sl-seeds.XXXX)
trap 'rm -rf "$W"' EXIT
run() { "$ROOT/launch/distclust-mpirun" -np "$NP" "$DC" "$@"; }
acc() { "$DC" eval --pred "$1" --labels "$2" --json | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["acc"])'; }
run extract --source "$SHARED/data/cifar10-test1k" --backbone "$SHARED/models/cifar10-resnet20.pt" --out "$W/cifar.h5" >/dev/null
run extract --source "$SHARED/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 --out "$W/mnist.h5" >/dev/null
echo "| set | seed | SCAN ACC | self-label, no gate | change (points) | rows moved | self-label + gate | change (points) | moves kept of proposed |"
echo "|---|---|---|---|---|---|---|---|---|"
attr() { $PY -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs[sys.argv[2]]))" "$1" "$2"; }
pts() { $PY -c "print(f'{100*($2-$1):+.2f}')"; }
for set in cifar mnist; do
  run knn --features "$W/$set.h5" --k 20 --metric cosine --out "$W/$set-knn.h5" >/dev/null
  head=linear; [[ $set == mnist ]] && head=mlp
  for s in $SEEDS; do
    args=(scan --features "$W/$set.h5" --knn "$W/$set-knn.h5" --clusters 10 --head $head --self-label --seed "$s" --no-checkpoint)
    run "${args[@]}" --set scan.self_label_gate=false --out "$W/raw.h5" >/dev/null
    run "${args[@]}" --out "$W/gate.h5" >/dev/null
    $PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); g=h5py.File(sys.argv[2],'w'); g['assign']=f['assign_scan'][:]" \
      "$W/gate.h5" "$W/pre.h5"
    a=$(acc "$W/pre.h5" "$W/$set.h5"); b=$(acc "$W/raw.h5" "$W/$set.h5"); c=$(acc "$W/gate.h5" "$W/$set.h5")
    printf "| %s | %s | %.4f | %.4f | %s | %s | %.4f | %s | %s of %s |\n" "$set" "$s" "$a" "$b" "$(pts "$a" "$b")" \
      "$(attr "$W/raw.h5" self_label_moved)" "$c" "$(pts "$a" "$c")" "$(attr "$W/gate.h5" self_label_moved)" \
      "$(attr "$W/gate.h5" self_label_proposed)"
  done
done
