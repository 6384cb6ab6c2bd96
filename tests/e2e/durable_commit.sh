#!/usr/bin/env bash
# An output's name comes after its data: the file (NAME.tmp) is synced
# before it is renamed to NAME, and its folder after, for HDF5 outputs,
# checkpoints and text outputs; an output folder's file system is synced
# (syncfs) before the folder is renamed. rename() after close()
# orders nothing on the disk: after a power loss NAME could hold zeros,
# and "NAME exists, so it is whole" would be false (a checkpoint zeroed in
# part was resumed and changed SCAN's answer). A sync that fails (EIO, or
# a full disk an NFS server reports only then) fails the job: nothing is
# committed. Needs strace (tools/setup-debian.sh --test installs it).
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "SKIP: no strace"; exit 77; }
dcrun 1 synth features --n 3000 --d 8 --k 4 --seed 2 --out f.h5 >/dev/null

# in_order LOG TMP OUT: strace LOG shows TMP opened and synced, then
# renamed to OUT, then a sync of OUT's folder (a later fsync call).
in_order() {
  $PY - "$@" <<'PY' || fail "$2 -> $3: not synced before its rename, or its folder not after"
import re, sys
log, tmp, out = sys.argv[1:]
lines = open(log).read().splitlines()
ren = [i for i, l in enumerate(lines) if re.search(r'rename(at2?)?\(.*"%s".*"%s"' % (re.escape(tmp), re.escape(out)), l)]
assert ren, "no rename of %s" % tmp
r = ren[-1]
opens = [(i, m.group(1)) for i, l in enumerate(lines[:r])
         for m in [re.search(r'openat\(.*"%s", [^)]*\) = (\d+)' % re.escape(tmp), l)] if m]
assert opens, "%s never opened" % tmp
o, fd = opens[-1]  # the last open before the rename: the sync's own
synced = any(re.search(r'fsync\(%s\)\s+= 0' % fd, l) for l in lines[o + 1:r])
assert synced, "no fsync of %s before line %d" % (tmp, r)
# The folder: an fsync of an fd opened on a directory, after the rename.
after = lines[r + 1:]
dirfds = [(i, m.group(1)) for i, l in enumerate(after)
          for m in [re.search(r'openat\(.*O_DIRECTORY[^)]*\) = (\d+)', l)] if m]
assert any(re.search(r'fsync\(%s\)\s+= 0' % fd, l) for i, fd in dirfds for l in after[i + 1:i + 4]), \
    "no folder sync after the rename of %s" % tmp
PY
}
trace() { strace -f -qq -o "$1" -e trace=openat,fsync,syncfs,rename,renameat,renameat2 "${@:2}" >/dev/null 2>&1; }

trace km.trace "$DC" kmeans --features f.h5 --k 4 --out km.h5 || fail "kmeans under strace"
in_order km.trace km.h5.tmp km.h5
in_order km.trace km.h5.ckpt.tmp km.h5.ckpt
trace ev.trace "$DC" eval --pred km.h5 --labels f.h5 --json --out s.json || fail "eval under strace"
in_order ev.trace s.json.tmp s.json
# An output folder (export: a CSV written by a stream, links): one syncfs
# of its file system before ex.tmp becomes ex.
trace ex.trace "$DC" export --features f.h5 --pred km.h5 --out ex || fail "export under strace"
$PY - ex.trace <<'PY' || fail "export: no syncfs before ex.tmp became ex"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
r = max(i for i, l in enumerate(lines) if re.search(r'rename(at2?)?\(.*"ex\.tmp".*"ex"', l))
assert any(re.search(r'syncfs\(\d+\)\s+= 0', l) for l in lines[:r])
PY
pass "HDF5 output, checkpoint, text output and output folder synced before their rename, folders after"

# A sync that fails: the job fails with the cause, nothing is committed.
set +e
strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO "$DC" kmeans --features f.h5 --k 4 \
  --no-checkpoint --out bad.h5 >bad.txt 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || { cat bad.txt; fail "a failed sync: exit 0"; }
grep -q "syncing bad.h5.tmp failed: Input/output error; bad.h5 was not written" bad.txt || { cat bad.txt; fail "a failed sync: message"; }
[[ ! -e bad.h5 && ! -e bad.h5.tmp ]] || fail "a failed sync left bad.h5 or bad.h5.tmp"
pass "a failed sync (EIO) fails the job by name and commits nothing"
