#!/usr/bin/env bash
# Images changed under the same names and count (issue 14, item 6): a resume
# never mixes old and new images, `run` re-extracts instead of skipping, and
# a knn.h5 built from the old features is refused by scan by name.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth images --classes 3 --per-class 40 --size 16 --out imgs >/dev/null
ex=(extract --source imgs --backbone pixels --pixels-size 8 --batch 10 --progress-seconds 0)
row_of() { $PY -c "
import h5py; ids=[i.decode() if isinstance(i, bytes) else str(i) for i in h5py.File('$1','r')['ids'][:]]
print([k for k, s in enumerate(ids) if s.endswith('$2')][0])"; }
same_row() {  # same_row FILE ROW_A FILE_B ROW_B: the features rows are equal
  $PY -c "
import h5py, numpy as np, sys
a = h5py.File('$1','r')['features'][$2]; b = h5py.File('$3','r')['features'][$4]
sys.exit(0 if np.array_equal(a, b) else 1)"; }

# 1. A resume after images were replaced starts afresh (the old OUT.tmp is
#    ignored, with the reason), and row 0 is the new image's.
set +e; DISTCLUST_FAULT_AFTER_BATCHES=2 dcrun 1 "${ex[@]}" --out f.h5 >kill.txt 2>&1; set -e
[[ -e f.h5.tmp && ! -e f.h5 ]] || { cat kill.txt; fail "the injected kill left no f.h5.tmp"; }
cp imgs/class_02/000080.png imgs/class_00/000000.png    # same name, same count, other pixels
dcrun 1 "${ex[@]}" --out f.h5 >resume.txt 2>&1 || { cat resume.txt; fail "extract after the change failed"; }
grep -q "ignoring f.h5.tmp" resume.txt || { cat resume.txt; fail "the old f.h5.tmp was resumed into"; }
r0=$(row_of f.h5 class_00/000000.png); r80=$(row_of f.h5 class_02/000080.png)
same_row f.h5 "$r0" f.h5 "$r80" || fail "row $r0 does not hold the replaced image's features"
pass "resume after replacing an image: f.h5.tmp ignored, row $r0 is the new image"

# 2. run: a replaced image makes extract run again (it was skipped as up to date).
cat >job.yaml <<YAML
run: {workdir: w, stages: "extract,kmeans"}
extract: {source: $DC_TMP/imgs, backbone: pixels, pixels_size: 8}
kmeans: {k: 3, seed: 1}
YAML
dcrun 1 run --config job.yaml >run1.txt 2>&1 || { cat run1.txt; fail "run 1"; }
dcrun 1 run --config job.yaml >run2.txt 2>&1 || { cat run2.txt; fail "run 2"; }
grep -q "extract: skipped (up to date)" run2.txt || { cat run2.txt; fail "an unchanged run did not skip extract"; }
cp imgs/class_01/000040.png imgs/class_00/000001.png
dcrun 1 run --config job.yaml >run3.txt 2>&1 || { cat run3.txt; fail "run 3"; }
grep -q "extract: skipped" run3.txt && { cat run3.txt; fail "run skipped extract after an image was replaced"; }
grep -q "kmeans: skipped" run3.txt && { cat run3.txt; fail "run skipped kmeans on the new features"; }
r1=$(row_of w/features.h5 class_00/000001.png); r40=$(row_of w/features.h5 class_01/000040.png)
same_row w/features.h5 "$r1" w/features.h5 "$r40" || fail "run's features.h5 holds the old image"
pass "run after replacing an image: extract and kmeans ran again"

# 2b. run: an output folder with files deleted is not up to date (report/
#     without index.html and export/ without assignments.csv were skipped).
dcrun 1 run --config job.yaml --set run.stages=extract,kmeans,export,report >run4.txt 2>&1 || { cat run4.txt; fail "run 4"; }
rm w/report/index.html w/export/assignments.csv
dcrun 1 run --config job.yaml --set run.stages=extract,kmeans,export,report >run5.txt 2>&1 || { cat run5.txt; fail "run 5"; }
grep -q "export: skipped" run5.txt && { cat run5.txt; fail "export/ without assignments.csv skipped as up to date"; }
grep -q "report: skipped" run5.txt && { cat run5.txt; fail "report/ without index.html skipped as up to date"; }
grep -q "kmeans: skipped (up to date)" run5.txt || { cat run5.txt; fail "kmeans ran again"; }
[[ -f w/report/index.html && -f w/export/assignments.csv ]] || fail "the deleted files were not written again"
pass "run: output folders with deleted files are written again"

# 2c. Checkpoints left by a stop between an output's rename and their
#     removal (kmeans.h5.ckpt, a sweep's kmeans.h5.ckpt.kK, knn's folder):
#     run skipped the stage from then on and kept them for good. An
#     up-to-date stage's leftovers are removed; another output's are not.
dcrun 1 run --config job.yaml --set run.stages=extract,kmeans,knn >run6.txt 2>&1 || { cat run6.txt; fail "run 6"; }
cp w/kmeans.h5 w/kmeans.h5.ckpt && cp w/kmeans.h5 w/kmeans.h5.ckpt.k7
mkdir -p w/knn.h5.ckpt && cp w/knn.h5 w/knn.h5.ckpt/rank-0-of-2.h5 && touch w/kmeans.h5.ckpt.keep
mkdir -p w/embed.h5.ckpt && touch w/embed.h5.ckpt/rank-0-of-2.h5
# (saved before their outputs, as a leftover is; and a SIGKILL leaves the
# lock file, held by no one)
touch -d '-1 hour' w/kmeans.h5.ckpt w/kmeans.h5.ckpt.k7 w/knn.h5.ckpt/rank-0-of-2.h5
echo "host gone, pid 1" >w/knn.h5.lock
dcrun 1 run --config job.yaml --set run.stages=extract,kmeans,knn >run7.txt 2>&1 || { cat run7.txt; fail "run 7"; }
grep -q "knn: up to date" run7.txt || { cat run7.txt; fail "run 7 did not skip knn"; }
[[ ! -e w/kmeans.h5.ckpt && ! -e w/kmeans.h5.ckpt.k7 && ! -e w/knn.h5.ckpt ]] ||
  { ls w; fail "an up-to-date stage's checkpoints were kept"; }
[[ -e w/embed.h5.ckpt/rank-0-of-2.h5 && -e w/kmeans.h5.ckpt.keep ]] ||
  { ls w; fail "files that are no leftover of a skipped stage were removed"; }
rm -r w/embed.h5.ckpt w/kmeans.h5.ckpt.keep w/knn.h5.lock
# A checkpoint saved after the output is another job's (run --set
# kmeans.k=100 stopped by its time limit beside a kmeans.h5 of k=3): kept.
cp w/kmeans.h5 w/kmeans.h5.ckpt && touch -d '+1 min' w/kmeans.h5.ckpt
dcrun 1 run --config job.yaml --set run.stages=extract,kmeans >run8.txt 2>&1 || { cat run8.txt; fail "run 8"; }
[[ -e w/kmeans.h5.ckpt ]] || fail "a checkpoint newer than the output (another job's) was removed"
rm w/kmeans.h5.ckpt
pass "run: an up-to-date stage's leftover checkpoints are removed"

# 3. scan refuses a knn.h5 built from the features of the old images.
dcrun 1 "${ex[@]}" --out old.h5 >/dev/null
dcrun 1 knn --features old.h5 --k 5 --out knn-old.h5 >/dev/null
touch imgs/class_00/000002.png                          # only the time changes
dcrun 1 "${ex[@]}" --out new.h5 >/dev/null
set +e; dcrun 1 scan --features new.h5 --knn knn-old.h5 --clusters 3 --epochs 2 --out s.h5 >scan.txt 2>&1; rc=$?; set -e
[[ $rc -ne 0 ]] || { cat scan.txt; fail "scan accepted a knn.h5 of other features with the same row count"; }
grep -q "the files do not belong together" scan.txt || { cat scan.txt; fail "scan's refusal is unclear"; }
pass "scan refuses knn.h5 of the old features: $(grep -m1 ERROR scan.txt | sed 's/^.*ERROR: //' | cut -c1-160)"

# 4. The same for features not written by distclust (no config_hash): knn.h5
#    knows them by size and mtime, and a rewritten file is refused.
$PY - <<'PY'
import h5py, numpy as np
x = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
h5py.File("ext.h5", "w")["features"] = x
PY
dcrun 1 knn --features ext.h5 --k 5 --out knn-ext.h5 >/dev/null
dcrun 1 scan --features ext.h5 --knn knn-ext.h5 --clusters 3 --epochs 2 --out s-ext.h5 >/dev/null \
  || fail "scan on an external features file and its own knn.h5 failed"
sleep 0.01
$PY -c "import h5py, numpy as np; h5py.File('ext.h5', 'r+')['features'][0] = np.ones(8, np.float32)"
set +e; dcrun 1 scan --features ext.h5 --knn knn-ext.h5 --clusters 3 --epochs 2 --out s-ext2.h5 >ext.txt 2>&1; rc=$?; set -e
[[ $rc -ne 0 ]] && grep -q "the files do not belong together" ext.txt || { cat ext.txt; fail "a rewritten external features file was accepted"; }
pass "scan refuses knn.h5 of an external features file rewritten since"

# 5. Features replaced while kmeans runs (2 ranks): the output held the old
#    file's clusters and recorded the new file's identity, so eval and scan
#    took it with the wrong features. Now the commit is refused, naming the
#    input, and the rerun clusters the new file.
dcrun 1 synth features --n 60000 --d 32 --k 10 --seed 1 --out fa.h5 >/dev/null
dcrun 1 synth features --n 60000 --d 32 --k 10 --seed 2 --out fb.h5 >/dev/null
cp fa.h5 feat.h5
km=(kmeans --k 400 --iters 300 --tol 0 --seed 3)
dcrun 2 "${km[@]}" --features feat.h5 --out km.h5 >mid.txt 2>&1 &
pid=$!
for _ in $(seq 300); do [[ -e km.h5.ckpt || -e km.h5 ]] && break; sleep 0.05; done
[[ ! -e km.h5 ]] || fail "kmeans finished before its input could be replaced (make it longer)"
cp fb.h5 feat.h5.new && mv feat.h5.new feat.h5
set +e; wait $pid; rc=$?; set -e
[[ $rc -ne 0 ]] || { cat mid.txt; fail "kmeans committed although its input was replaced mid-run"; }
grep -q "input feat.h5 changed while this stage ran" mid.txt || { cat mid.txt; fail "the refusal does not name the input"; }
[[ ! -e km.h5 && ! -e km.h5.tmp ]] || { ls; fail "a refused commit left km.h5 or km.h5.tmp"; }
dcrun 2 "${km[@]}" --features feat.h5 --out km.h5 >rerun.txt 2>&1 || { cat rerun.txt; fail "kmeans after the replacement"; }
dcrun 2 "${km[@]}" --features fb.h5 --out kmb.h5 >/dev/null 2>&1
$PY -c "
import h5py, numpy as np
a, b = h5py.File('km.h5', 'r'), h5py.File('kmb.h5', 'r')
assert np.array_equal(a['centroids'][:], b['centroids'][:]), 'the rerun did not cluster the new file'"
pass "features replaced mid-kmeans: commit refused ($(grep -m1 -o 'input feat.h5 changed[^(]*' mid.txt)), rerun clusters the new file"

# 6. assign: the k-means model replaced after assign read it. The output gave
#    the old centroids' clusters under the new model's name (assign watched
#    nothing). strace holds assign at its output's creation (after the models
#    were read and applied) while the model is replaced.
if command -v strace >/dev/null; then
  dcrun 1 kmeans --k 10 --seed 1 --features fa.h5 --out kma.h5 >/dev/null
  dcrun 1 kmeans --k 10 --seed 2 --iters 1 --features fa.h5 --out kmz.h5 >/dev/null
  cp kma.h5 model.h5
  as=(assign --features fb.h5 --reference fa.h5 --kmeans model.h5 --out a.h5 --csv a.csv)
  hold_at_output a.h5 as.txt 6 "$DC" "${as[@]}"
  sleep 1.5
  cp kmz.h5 model.h5.new && mv model.h5.new model.h5
  set +e; wait $HOLD_PID; rc=$?; set -e
  [[ $rc -ne 0 ]] || { cat as.txt; fail "assign committed although its k-means model was replaced mid-run"; }
  grep -q "input model.h5 changed while this stage ran" as.txt || { cat as.txt; fail "assign's refusal does not name the model"; }
  [[ ! -e a.h5 && ! -e a.h5.tmp && ! -e a.csv && ! -e a.csv.tmp ]] || { ls; fail "a refused assign left an output"; }
  dcrun 1 "${as[@]}" >as2.txt 2>&1 || { cat as2.txt; fail "assign after the replacement"; }
  pass "k-means model replaced mid-assign: refused ($(grep -m1 -o 'input model.h5 changed[^(]*' as.txt)), rerun writes both"
else
  echo "SKIP (case 6): no strace to hold assign between reading its models and writing"
fi

# The same images and model, spelled otherwise (relative, ./x/, absolute,
# a trailing slash), are one input: each spelling had its own config_hash,
# so eval refused identical rows and `run` extracted everything again.
hashes=()
for src in imgs ./imgs/ "$PWD/imgs" "../$(basename "$PWD")/imgs/"; do
  dcrun 1 extract --source "$src" --backbone pixels --pixels-size 8 --progress-seconds 0 --out sp.h5 --force >sp.txt 2>&1 ||
    { cat sp.txt; fail "extract --source $src"; }
  hashes+=("$($PY -c "import h5py; print(h5py.File('sp.h5','r').attrs['config_hash'])")")
  [[ $src == imgs ]] && { cp sp.h5 sp_first.h5; dcrun 1 kmeans --features sp.h5 --k 3 --out spk.h5 >/dev/null; }
done
[[ $(printf '%s\n' "${hashes[@]}" | sort -u | wc -l) == 1 ]] || fail "one source spelled 4 ways: hashes ${hashes[*]}"
dcrun 1 eval --pred spk.h5 --labels sp.h5 >spe.txt 2>&1 || { cat spe.txt; fail "eval refused the same rows, spelled otherwise"; }
pass "one image folder spelled 4 ways: one config_hash, eval pairs the files"
# ".." after a symbolic link is the link target's parent: a/../imgs with
# a -> deep/x names deep/imgs, other images with the same names. As text it
# read as ./imgs: the same hash, and ids naming the wrong files.
mkdir -p deep/x && dcrun 1 synth images --classes 3 --per-class 40 --size 16 --seed 7 --out deep/imgs >/dev/null
ln -sfn deep/x a
dcrun 1 extract --source a/../imgs --backbone pixels --pixels-size 8 --progress-seconds 0 --out sym.h5 >sym.txt 2>&1 ||
  { cat sym.txt; fail "extract --source a/../imgs"; }
[[ $($PY -c "import h5py; print(h5py.File('sym.h5','r').attrs['config_hash'])") != "${hashes[0]}" ]] ||
  fail "a/../imgs through a link (deep/imgs) has the hash of ./imgs"
$PY -c "
import h5py, os
ids = [i.decode() for i in h5py.File('sym.h5', 'r')['ids'][:]]
assert all(i.startswith(os.path.realpath('deep/imgs') + '/') for i in ids), ids[:2]" || fail "a/../imgs: ids do not name deep/imgs"
pass "a/../imgs through a symbolic link: its own hash, ids naming the files read"
MODEL="$DC_SOURCE/../shared/models/cifar10-resnet20.pt"
if [[ -f $MODEL ]]; then  # the model by its bytes, not by how its path is typed
  mkdir -p spell && cp "$MODEL" spell/m.pt && cp "${MODEL%.pt}.json" spell/m.json
  for m in spell/m.pt "$PWD/spell/./m.pt"; do
    dcrun 1 extract --source imgs --backbone "$m" --progress-seconds 0 --out bb.h5 --force >bb.txt 2>&1 ||
      { cat bb.txt; fail "extract --backbone $m"; }
    $PY -c "import h5py; print(h5py.File('bb.h5','r').attrs['config_hash'])" >>bb_hashes.txt
  done
  [[ $(sort -u bb_hashes.txt | wc -l) == 1 ]] || { cat bb_hashes.txt; fail "one model spelled 2 ways: 2 hashes"; }
  pass "one model spelled 2 ways: one config_hash"
fi


# 4. Ranks that list the source differently (images copied in while the job
#    started, a node's stale NFS view): each rank here works in its own
#    folder (MPMD -wdir) and lists its own imgs/, one image more on rank 1.
#    They sized OUT.tmp differently in parallel HDF5's collective create and
#    hung there until the time limit; now every rank says so within seconds.
mkdir -p wa/imgs/c wb/imgs/c
cp imgs/class_00/00000{2,3,4}.png wa/imgs/c/ && cp imgs/class_00/00000{2,3,4,5}.png wb/imgs/c/
set +e
# shellcheck disable=SC2086
timeout 60 $DC_MPIEXEC -np 1 -wdir "$PWD/wa" "$DC" extract --source imgs --backbone pixels --out "$PWD/lists.h5" : \
  -np 1 -wdir "$PWD/wb" "$DC" extract --source imgs --backbone pixels --out "$PWD/lists.h5" >lists.txt 2>&1
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat lists.txt; fail "ranks with other listings: rc $rc (124: the job hung)"; }
grep -q "the ranks do not list the same images in imgs: rank 0 lists 3, rank 1: 4" lists.txt ||
  { cat lists.txt; fail "ranks with other listings: not said"; }
[[ ! -e lists.h5 ]] || fail "ranks with other listings: lists.h5 was written"
pass "ranks that list the source differently: said at once, nothing written"

# 5. assign's "--features-out is up to date" read on each rank: where the
#    ranks saw it differently (here each rank works in its own folder and
#    names it relatively; NFS lag alike), rank 0 reused it and rank 1 went
#    on into the output lock's collectives alone: a hang until the time
#    limit. Now rank 0's view is shared and the ranks part nowhere.
mkdir -p aa ab
(cd aa && dcrun 2 assign --run ../w --source ../imgs/class_01 --features-out nf.h5 --out o.h5 >/dev/null 2>&1) ||
  fail "assign in aa/"
set +e
# shellcheck disable=SC2086
timeout 60 $DC_MPIEXEC -np 1 -wdir "$PWD/aa" "$DC" assign --run ../w --source ../imgs/class_01 --features-out nf.h5 \
  --out "$PWD/a2.h5" : -np 1 -wdir "$PWD/ab" "$DC" assign --run ../w --source ../imgs/class_01 --features-out nf.h5 \
  --out "$PWD/a2.h5" >views.txt 2>&1
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || { cat views.txt; fail "ranks that see --features-out differently: rc $rc (124: hung)"; }
grep -q "the ranks see different files at input nf.h5" views.txt || { cat views.txt; fail "ranks' views: not said"; }
pass "assign: ranks that see --features-out differently: said, no hang"

# 7. assign looks for the run's models on each rank: a gmm.h5 that only
#    rank 1 sees (here each rank has its own copy of the run folder; a
#    node's lagging NFS view alike) made rank 1 apply a mixture rank 0 did
#    not and the two parted at its first collective: a hang until the time
#    limit. Now the ranks compare what they found and stop, naming both.
mkdir -p va vb
cp -r w va/w && cp -r w vb/w
dcrun 1 gmm --features vb/w/features.h5 --k 3 --covariance diag --out vb/w/gmm.h5 >/dev/null 2>&1 || fail "gmm in vb/"
sed -i 's/^\(  stages: \)"\(.*\)"$/\1"\2,gmm"/' vb/w/config.resolved.yaml
grep -q 'stages: ".*,gmm"' vb/w/config.resolved.yaml || fail "vb/w/config.resolved.yaml: stages not edited"
# two_views DIR1 OUT WHAT PATTERN: assign with rank 0 in va/, rank 1 in DIR1/;
# it must stop (no hang), say PATTERN, and write nothing.
two_views() {
  local dir1=$1 out=$2 what=$3 pattern=$4 rc
  set +e
  # shellcheck disable=SC2086
  timeout 60 $DC_MPIEXEC -np 1 -wdir "$PWD/va" "$DC" assign --run w --features "$PWD/w/features.h5" --out "$PWD/v.h5" : \
    -np 1 -wdir "$PWD/$dir1" "$DC" assign --run w --features "$PWD/w/features.h5" --out "$PWD/v.h5" >"$out" 2>&1
  rc=$?
  set -e
  [[ $rc -ne 0 && $rc -ne 124 ]] || { cat "$out"; fail "$what: rc $rc (124: hung)"; }
  grep -q "$pattern" "$out" || { cat "$out"; fail "$what: not said"; }
  [[ ! -e v.h5 ]] || fail "$what: v.h5 was written"
}
two_views vb vv.txt "ranks that see other models" \
  "assign: the ranks see different files in w: rank 0: .*gmm -.*; rank 1: .*gmm w/gmm.h5"
# Rank 1 finds no model at all: its error is its view, compared as well
# (only rank 1's 'nothing to assign with' was said, as if the run had none).
mkdir -p vc && cp -r w vc/w && rm vc/w/kmeans.h5
two_views vc vc.txt "a rank that sees no model" \
  "assign: the ranks see different files in w: rank 0: .*kmeans w/kmeans.h5.*; rank 1: error: assign: nothing to assign with"
pass "assign: ranks that find other models in the run folder: said, no hang"
