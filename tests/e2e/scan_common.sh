# Helpers for the SCAN end-to-end tests (sourced after lib.sh).
SHARED=${DC_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/../shared
# acc FILE.h5 LABELS.h5 -> ACC from `distclust eval`
acc() { dcrun 1 eval --pred "$1" --labels "$2" --json | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["acc"])'; }
# acc_before_self_label SCAN.h5 LABELS.h5 -> ACC of /assign_scan (the SCAN
# assignment before self-labelling), by `distclust eval` on a copy holding it as /assign
acc_before_self_label() {
  $PY -c "import h5py,sys; a=h5py.File(sys.argv[1],'r')['assign_scan'][:]; h5py.File(sys.argv[2],'w')['assign']=a" "$1" "$1.pre.h5"
  acc "$1.pre.h5" "$2"
}
# scan_features cifar|mnist OUT.h5: `distclust extract` when the build has it,
# else the same features from tests/e2e/scan_features.py (torch / numpy).
scan_features() {
  local kind=$1 out=$2 here
  here=$(dirname "${BASH_SOURCE[0]}")
  if "$DC" extract --help >/dev/null 2>&1; then
    if [[ $kind == cifar ]]; then
      dcrun 1 extract --source "$SHARED/data/cifar10-test1k" --backbone "$SHARED/models/cifar10-resnet20.pt" --out "$out"
    else
      dcrun 2 extract --source "$SHARED/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 --out "$out"
    fi
  else
    echo "distclust extract is not in this build: features from scan_features.py"
    if [[ $kind == cifar ]]; then
      $PY "$here/scan_features.py" cifar "$SHARED/data/cifar10-test1k" "$SHARED/models/cifar10-resnet20.pt" "$out"
    else
      $PY "$here/scan_features.py" pixels "$SHARED/data/mnist-test" 50 "$out"
    fi
  fi
}
