#!/usr/bin/env bash
# distclust embed on MNIST pixels (PCA 50, cosine k=15 graph) to 2-D:
# trustworthiness and k-means scores on the embedding, the same bits for
# 1, 2 and 3 ranks and on a rerun, /ids and labels carried over, a killed
# job resumed to the same file, and a run that clusters the embedding.
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
dcrun 2 extract --source "$shared/data/mnist-test" --backbone pixels --pixels-size 28 --pca-dim 50 \
  --out m.h5 >log.txt 2>&1 || { cat log.txt; fail "extract failed"; }
dcrun 2 knn --features m.h5 --k 15 --out knn.h5 >knn.txt 2>&1 || { cat knn.txt; fail "knn failed"; }
for np in 2 1 3; do
  dcrun $np embed --features m.h5 --knn knn.h5 --out e$np.h5 >embed$np.txt 2>&1 || { cat embed$np.txt; fail "embed -np $np failed"; }
done
dcrun 2 embed --features m.h5 --knn knn.h5 --out again.h5 >/dev/null 2>&1 || fail "embed rerun failed"
grep "embed: wrote" embed2.txt
$PY - <<'PY' || fail "embedding files differ or lack what they carry over"
import h5py, json, numpy as np
ref, src = h5py.File("e2.h5", "r"), h5py.File("m.h5", "r")
assert ref["features"].shape == (10000, 2) and ref["features"].dtype == np.float32
for other in ["e1.h5", "e3.h5", "again.h5"]:
    assert np.array_equal(ref["features"][:], h5py.File(other, "r")["features"][:]), f"{other} differs from e2.h5"
for name in ["labels", "valid", "ids"]:
    assert np.array_equal(ref[name][:], src[name][:]), f"/{name} not carried over"
assert json.loads(ref.attrs["class_names"]) == json.loads(src.attrs["class_names"])
assert np.isfinite(ref["features"][:]).all()
PY
pass "embedding bit-identical for 1, 2, 3 ranks and on a rerun; /labels, /valid, /ids, class_names carried over"
$PY - <<'PY' >trust.txt || fail "trustworthiness"
import h5py, numpy as np
from sklearn.manifold import trustworthiness
x, e = h5py.File("m.h5", "r")["features"][:], h5py.File("e2.h5", "r")["features"][:]
s = np.random.RandomState(0).choice(len(x), 4000, replace=False)
print(trustworthiness(x[s], e[s], n_neighbors=15, metric="cosine"))
PY
trust=$(cat trust.txt)
# umap-learn on this graph: 0.963 (5,000 sampled rows); distclust 0.958-0.965. Bound below both.
ge "$trust" 0.95 || fail "trustworthiness@15 $trust < 0.95"
dcrun 2 kmeans --features e2.h5 --k 10 --restarts 5 --seed 1 --out km.h5 >/dev/null 2>&1 || fail "kmeans on the embedding"
dcrun 1 eval --pred km.h5 --labels m.h5 --json --out scores.json >/dev/null
acc=$(json_get scores.json acc); nmi=$(json_get scores.json nmi)
# k-means on 2-D UMAP of MNIST: umap-learn ~0.80 ACC; ours 0.70-0.86 over seeds.
ge "$acc" 0.65 || fail "k-means ACC $acc < 0.65 on the embedding"
ge "$nmi" 0.70 || fail "k-means NMI $nmi < 0.70 on the embedding"
pass "trustworthiness@15 $trust, k-means on the embedding ACC $acc NMI $nmi"
# A graph of other features is refused by name.
dcrun 1 synth features --n 10000 --d 50 --out other.h5 >/dev/null 2>&1
if dcrun 1 embed --features other.h5 --knn knn.h5 --out bad.h5 >bad.txt 2>&1; then fail "embed took a graph of other features"; fi
grep -q "do not belong together" bad.txt || { cat bad.txt; fail "no clear error for a graph of other features"; }
# Killed after 20 of 60 epochs (checkpoints every 10), resumed: the same file.
args=(embed --features m.h5 --knn knn.h5 --epochs 60 --checkpoint-every 10)
dcrun 2 "${args[@]}" --out ref60.h5 >/dev/null 2>&1 || fail "embed 60 epochs"
if DISTCLUST_FAULT_AFTER_EPOCHS=20 dcrun 2 "${args[@]}" --out k.h5 >kill.txt 2>&1; then fail "the kill after 20 epochs did not stop the job"; fi
[[ -e k.h5.ckpt && ! -e k.h5 ]] || fail "after the kill: no checkpoint, or an output"
dcrun 2 "${args[@]}" --out k.h5 >resume.txt 2>&1 || { cat resume.txt; fail "resume failed"; }
grep -q "resuming from k.h5.ckpt after 20 of 60 epochs" resume.txt || { cat resume.txt; fail "did not resume"; }
[[ ! -e k.h5.ckpt ]] || fail "checkpoint left behind"
$PY -c "
import h5py, numpy as np
assert np.array_equal(h5py.File('ref60.h5','r')['features'][:], h5py.File('k.h5','r')['features'][:])" ||
  fail "the resumed embedding differs from an uninterrupted one"
pass "killed after 20 epochs, resumed, identical output"
# A run with embed before kmeans clusters the embedding; eval scores it against the original labels.
mkdir -p w && cp m.h5 w/features.h5
cat >run.yaml <<YAML
run: {workdir: w, stages: "knn,embed,kmeans,eval"}
knn: {k: 15}
kmeans: {k: 10, restarts: 5}
YAML
dcrun 2 run --config run.yaml >run.txt 2>&1 || { cat run.txt; fail "the run failed"; }
$PY - <<'PY' || fail "the run did not cluster the embedding"
import h5py
km = h5py.File("w/kmeans.h5", "r")
assert km["centroids"].shape[1] == 2, km["centroids"].shape
p = km.attrs["params"]; p = p.decode() if isinstance(p, bytes) else p
assert "embed.h5" in p, p
PY
racc=$(json_get w/scores.json acc); rnmi=$(json_get w/scores.json nmi)
ge "$rnmi" 0.65 || fail "run: NMI $rnmi < 0.65"
pass "run knn,embed,kmeans,eval: kmeans on the 2-D embedding, ACC $racc NMI $rnmi"
