#!/usr/bin/env bash
# One overwrite rule for every stage (io/replace_rule.h): an output that
# distclust wrote is replaced when the stage runs again; a file or folder it
# did not write is refused, naming it and --force, and left as it was.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 2000 --d 8 --k 3 --out f.h5 >/dev/null
dcrun 1 kmeans --features f.h5 --k 3 --out km.h5 >/dev/null
dcrun 1 kmeans --features f.h5 --k 4 --out km.h5 >/dev/null || fail "kmeans refused to replace its own output"
$PY -c "import h5py; assert h5py.File('km.h5')['centroids'].shape[0] == 4, 'not replaced'"
echo "my notes" > notes.txt
$PY -c "import h5py, numpy as np; h5py.File('mine.h5', 'w')['x'] = np.zeros(3)"
check_refused() {  # out stage args...
  local out=$1; shift
  local before; before=$(md5sum "$out" | cut -d' ' -f1)
  if dcrun 2 "$@" --out "$out" >refuse.txt 2>&1; then fail "$1 replaced $out, which distclust did not write"; fi
  grep -q "$out exists and is not a distclust output: pass --force to replace it" refuse.txt || { cat refuse.txt; fail "$1: unclear refusal"; }
  [[ $(md5sum "$out" | cut -d' ' -f1) == "$before" ]] || fail "$1 changed $out"
}
check_refused notes.txt kmeans --features f.h5 --k 3
check_refused mine.h5 kmeans --features f.h5 --k 3
dcrun 1 knn --features f.h5 --k 5 --out knn.h5 >/dev/null
check_refused notes.txt knn --features f.h5 --k 5
check_refused notes.txt scan --features f.h5 --knn knn.h5 --clusters 3 --epochs 2
check_refused notes.txt eval --pred km.h5 --labels f.h5
dcrun 1 eval --pred km.h5 --labels f.h5 --out scores.json >/dev/null
dcrun 1 eval --pred km.h5 --labels f.h5 --out scores.json >/dev/null || fail "eval refused to replace its own scores.json"
# An input is a distclust output too: --out naming it (with or without
# --force) is refused, naming both, and the input is left as it was (these
# once replaced their own input).
dcrun 1 gmm --features f.h5 --k 2 --out gm.h5 >/dev/null
before=$(md5sum f.h5 km.h5 knn.h5 | md5sum)
for cmd in "kmeans --features f.h5 --k 3 --out f.h5" "knn --features f.h5 --k 5 --out f.h5 --force" \
           "gmm --features f.h5 --k 2 --out f.h5" "scan --features f.h5 --knn knn.h5 --clusters 3 --out knn.h5" \
           "embed --features f.h5 --knn knn.h5 --out f.h5" "eval --labels f.h5 --pred km.h5 --out km.h5" \
           "assign --features f.h5 --reference f.h5 --kmeans km.h5 --out f.h5" \
           "assign --features f.h5 --reference f.h5 --gmm gm.h5 --out as.h5 --csv gm.h5"; do
  if dcrun 2 $cmd >apart.txt 2>&1; then fail "$cmd: accepted"; fi
  grep -Eq "output (f|km|knn|gm).h5 is the input (f|km|knn|gm).h5: writing it would replace or delete that input" apart.txt ||
    { cat apart.txt; fail "$cmd: unclear refusal"; }
done
[[ $(md5sum f.h5 km.h5 knn.h5 | md5sum) == "$before" ]] || fail "an input was changed"
# bench extract's timed run writes --out (features.h5 by default) under the same rule.
dcrun 1 synth images --classes 2 --per-class 4 --size 16 --out imgs >/dev/null
before=$(md5sum notes.txt | cut -d' ' -f1)
if dcrun 1 bench extract --source imgs --backbone pixels --pixels-size 8 --iters 1 --out notes.txt >refuse.txt 2>&1; then
  fail "bench extract replaced notes.txt"
fi
grep -q "notes.txt exists and is not a distclust output: pass --force" refuse.txt || { cat refuse.txt; fail "bench extract: unclear refusal"; }
[[ $(md5sum notes.txt | cut -d' ' -f1) == "$before" ]] || fail "bench extract changed notes.txt"
dcrun 1 bench extract --source imgs --backbone pixels --pixels-size 8 --iters 1 --out bx.h5 >/dev/null || fail "bench extract"
dcrun 1 bench extract --source imgs --backbone pixels --pixels-size 8 --iters 1 --out bx.h5 >/dev/null ||
  fail "bench extract refused to replace its own output"
# bench --json: it replaced any file (the bench's own features, its model,
# notes.txt) after the whole run. Checked first; its own result is replaced.
before=$(md5sum f.h5 notes.txt | md5sum)
for args in "kmeans --features f.h5 --k 3 --iters 2 --no-sgemm --json f.h5|--json f.h5 is also a file the benchmark reads" \
            "knn --n 300 --d 4 --json notes.txt|--json notes.txt exists and is not a bench knn result distclust wrote" \
            "extract --source imgs --backbone pixels --pixels-size 8 --iters 1 --out bx2.h5 --json bx2.h5|--json bx2.h5 is also a file the benchmark reads or writes"; do
  if dcrun 1 bench ${args%%|*} >bj.txt 2>&1; then fail "bench ${args%%|*} accepted"; fi
  grep -qF -- "${args#*|}" bj.txt || { cat bj.txt; fail "bench ${args%%|*}: unclear"; }
done
[[ $(md5sum f.h5 notes.txt | md5sum) == "$before" ]] || fail "bench --json changed an input"
dcrun 1 bench knn --n 300 --d 4 --json bk.json >/dev/null && dcrun 1 bench knn --n 300 --d 4 --json bk.json >/dev/null ||
  fail "bench knn refused to replace its own --json"
$PY -c "import json; assert json.load(open('bk.json'))['bench'] == 'knn'"
# A result of the versions before the head ({"n": ...) is ours too.
echo '{"n": 300, "d": 4, "k": 20, "ranks": 1}' >old-bench.json
dcrun 1 bench knn --n 300 --d 4 --json old-bench.json >/dev/null 2>&1 || fail "bench refused its older result file"
dcrun 1 kmeans --features f.h5 --k 3 --out notes.txt --force >/dev/null || fail "--force did not replace"
$PY -c "import h5py; h5py.File('notes.txt')['centroids']"
# Another command's output is ours, but not this command's to replace:
# kmeans --out over an extraction replaced the features without a word.
dcrun 1 synth features --n 300 --d 8 --k 3 --out feat2.h5 >/dev/null
for c in "kmeans|features|kmeans --features f.h5 --k 3" "knn|features|knn --features f.h5 --k 5" \
         "synth features|kmeans|synth features --n 50 --d 4 --k 2"; do
  IFS='|' read -r cmd have args <<<"$c"
  out=$([[ $have == features ]] && echo feat2.h5 || echo km.h5)
  before=$(md5sum <"$out")
  if dcrun 1 $args --out "$out" >kind.txt 2>&1; then fail "$cmd replaced $out ($have) without --force"; fi
  grep -q "$cmd: $out is a distclust $have.*which $cmd does not write: pass --force to replace it" kind.txt ||
    { cat kind.txt; fail "$cmd over a $have output: unclear refusal"; }
  [[ $(md5sum <"$out") == "$before" ]] || fail "$cmd changed $out"
done
dcrun 1 kmeans --features f.h5 --k 3 --out feat2.h5 --force >/dev/null || fail "kmeans --force over another kind"
[[ $($PY -c "import h5py; print(h5py.File('feat2.h5','r').attrs['stage'].decode())") == kmeans ]] || fail "--force did not replace"
pass "overwrite rule: own outputs replaced, others refused without --force"

# The same for output folders: report over an export, export over a report,
# either over synthetic images (all three replaced the other's folder
# without a word: a folder with a .config_hash counted as the command's own).
dcrun 1 synth images --classes 2 --per-class 3 --size 16 --out simgs >/dev/null
dcrun 1 extract --source simgs --backbone pixels --pixels-size 8 --out sx.h5 >/dev/null
dcrun 1 kmeans --features sx.h5 --k 2 --out skm.h5 >/dev/null
dcrun 1 report --features sx.h5 --pred skm.h5 --out rep >/dev/null || fail "report"
dcrun 1 report --features sx.h5 --pred skm.h5 --out rep >/dev/null || fail "report refused to replace its own folder"
dcrun 1 export --features sx.h5 --pred skm.h5 --out exp >/dev/null || fail "export"
cp -r simgs simgs2
for c in "report|export|exp" "export|report|rep" "report|synth images|simgs2" "export|synth images|simgs2" \
         "synth images|report|rep"; do
  IFS='|' read -r cmd have out <<<"$c"
  args="--features sx.h5 --pred skm.h5"; [[ $cmd == "synth images" ]] && args="--classes 2 --per-class 2 --size 16"
  before=$(find "$out" -type f | sort | xargs md5sum | md5sum)
  if dcrun 1 $cmd $args --out "$out" >fkind.txt 2>&1; then fail "$cmd replaced the $have folder $out without --force"; fi
  grep -q "$cmd: $out is a distclust $have folder, which $cmd does not write: pass --force to replace it" fkind.txt ||
    { cat fkind.txt; fail "$cmd over a $have folder: unclear refusal"; }
  [[ $(find "$out" -type f | sort | xargs md5sum | md5sum) == "$before" ]] || fail "$cmd changed $out"
done
dcrun 1 report --features sx.h5 --pred skm.h5 --out exp --force >/dev/null || fail "report --force over an export"
[[ -f exp/index.html && $(cat exp/.output_kind) == report ]] || fail "report --force did not replace the export"
pass "overwrite rule: an output folder of another command refused without --force"
# A device, FIFO or socket is never replaced, --force or not: an output
# renamed over it replaced it with a plain file (as root: /dev/null).
mkfifo fifo
specials=(fifo:"a named pipe (FIFO)")
mknod -m 666 devnull c 1 3 2>/dev/null && specials+=(devnull:"a character device")  # root only
for sp in "${specials[@]}"; do
  out=${sp%%:*}
  for cmd in "kmeans --features f.h5 --k 3 --out $out" "export --features f.h5 --pred km.h5 --out $out" \
             "assign --features f.h5 --reference f.h5 --kmeans km.h5 --out as2.h5 --csv $out"; do
    if dcrun 1 $cmd --force >special.txt 2>&1; then fail "$cmd --force: accepted"; fi
    grep -qF "$out is ${sp#*:}, which an output would replace" special.txt || { cat special.txt; fail "$cmd: unclear"; }
  done
  [[ ! -f $out && -e $out ]] || fail "$out was replaced"
done
pass "devices and FIFOs refused as outputs, --force too (${#specials[@]} kinds)"
# A folder where a stage writes a file: said as such (the rule advised
# --force, which then failed on the folder).
mkdir -p adir
for cmd in "kmeans --features f.h5 --k 3" "synth features --n 10"; do
  if dcrun 1 $cmd --out adir >adir.txt 2>&1; then fail "$cmd --out adir accepted"; fi
  grep -q "output adir is a directory, expected a file name" adir.txt && ! grep -q -- "--force" adir.txt ||
    { cat adir.txt; fail "$cmd --out a folder: not said, or --force advised"; }
done
pass "a folder at a file output: said, no --force advised"
