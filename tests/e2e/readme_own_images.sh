#!/usr/bin/env bash
# README.md, "Cluster your own images": every ```bash block between the
# own-images markers, run in order as a newcomer would, in a fresh HOME,
# with three substitutions a test needs: the build block is skipped (this
# test runs from that build; building again here would relink the binary
# other tests are running), IMAGES is ../shared/data/cifar10-test1k, and the
# backbone is exported with --weights none (no network in CI). Then the
# outputs the section promises are checked, and the scores (random weights:
# only that they exist and are in range).
source "$(dirname "$0")/lib.sh"
readme="$DC_SOURCE/README.md"
SHARED=$DC_SOURCE/../shared
sed -n '/<!-- own-images:begin -->/,/<!-- own-images:end -->/p' "$readme" > section.md
[[ -s section.md ]] || fail "README.md has no own-images markers"
$PY - section.md <<'PY' > blocks.txt
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
assert len(blocks) >= 4, f"expected at least 4 bash blocks, found {len(blocks)}"
for b in blocks:
    print(b.rstrip("\n"))
    print("#--- end of block")
PY
grep -q "cmake --install build" blocks.txt || fail "the section does not install"
export HOME=$PWD/home; mkdir -p "$HOME"
build=$(dirname "$(dirname "$(dirname "$DC")")")  # build/src/cli/distclust -> build
{
  echo "set -euo pipefail"
  # Block 1: the build is this test's own; install from it.
  sed -e '/tools\/setup-debian.sh/d' -e "s|cmake --install build|cmake --install '$build'|" blocks.txt |
    sed -e "s|--weights DEFAULT|--weights none|" -e "s|^IMAGES=~/my-images|IMAGES='$SHARED/data/cifar10-test1k'|" \
      -e "s|^NEW=~/new-images|NEW='$SHARED/data/cifar10-test1k/cat'|"
} > section.sh
grep -q "IMAGES='$SHARED" section.sh || fail "the section no longer sets IMAGES=~/my-images"
grep -q "NEW='$SHARED" section.sh || fail "the section no longer sets NEW=~/new-images"
bash section.sh > section.log 2>&1 || { tail -30 section.log; fail "a README command failed"; }
[[ -x $HOME/.local/bin/distclust && -e $HOME/.local/lib/distclust/libdistclust_torch.so ]] || fail "install incomplete"
[[ -e models/resnet18.pt && -e models/resnet18.json ]] || fail "no backbone exported"
grep -q "extract: .*images/s" my-run/logs/rank-0.log 2>/dev/null || grep -q "images/s" section.log || fail "no extraction summary"
rows=$(($(wc -l < my-run/export/assignments.csv) - 1))
[[ $rows == 1000 ]] || fail "assignments.csv has $rows rows, not 1000"
# Step 5: the cats assigned to the run's clusters, as the run clustered them
# (they are rows of the run too).
n_new=$(ls "$SHARED/data/cifar10-test1k/cat" | wc -l)
[[ $(($(wc -l < new.csv) - 1)) == "$n_new" ]] || fail "new.csv has not $n_new rows"
$PY - <<'PY' || fail "assign of the README's new images disagrees with the run"
import csv
run = {r['path']: r['cluster'] for r in csv.DictReader(open('my-run/export/assignments.csv'))}
new = list(csv.DictReader(open('new.csv')))
assert all(run[r['path']] == r['cluster'] for r in new), 'clusters differ'
PY
acc=$(json_get my-run/scores.json acc)
ge "$acc" 0.1 || fail "ACC $acc below chance"
grep -q "ACC [0-9]\.[0-9]\{3,9\}  NMI" section.log || { grep -i scores section.log; fail "summary scores not printed as 0.xxx"; }
pass "README own-images section: installed, exported a backbone, ran the job (ACC $acc with random weights)"
