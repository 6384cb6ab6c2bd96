#!/usr/bin/env bash
# Users who are not root, in a group's shared folder (audit W): permission
# bits count for them, and no earlier test saw them (the suite runs as root).
# Needs root to switch users (setpriv); skipped otherwise.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] && command -v setpriv >/dev/null || { echo "SKIP: needs root and setpriv to act as other users"; exit 77; }
A="setpriv --reuid=65534 --regid=4242 --clear-groups --"  # two users of group 4242
B="setpriv --reuid=1 --regid=4242 --clear-groups --"
$A "$DC" --version >/dev/null 2>&1 || { echo "SKIP: $DC is not reachable for another user"; exit 77; }
MR="timeout 60 $DC_MPIEXEC"  # the other users need no --allow-run-as-root (it is harmless)
mkdir shared && chgrp 4242 shared && chmod 2775 shared && cd shared
umask 002
"$DC" -q synth features --n 600 --d 8 --k 3 --out f.h5 && chmod 644 f.h5

# A's job killed (as an OOM kill does) leaves its lock; B takes it over. The
# lock was 0644 whatever the umask, and B got "Permission denied" on every
# retry. Under umask 022 (lock 0644) B takes it over all the same: the
# folder is the group's, and nobody holds the lock.
for mask in 002 022; do
  rm -f k.h5*
  (umask $mask; DISTCLUST_FAULT_AFTER_ITER=1 $A timeout 60 "$DC" kmeans --features f.h5 --k 3 --tol 0 --out k.h5 >a.txt 2>&1) && fail "the fault point did not kill A's job"
  [[ -e k.h5.lock ]] || { cat a.txt; fail "umask $mask: no lock left by the killed job"; }
  [[ $mask != 002 || $(stat -c %a k.h5.lock) == 664 ]] || fail "umask 002: the lock is $(stat -c %a k.h5.lock)"
  $B timeout 60 "$DC" kmeans --features f.h5 --k 3 --tol 0 --out k.h5 >b.txt 2>&1 || { cat b.txt; fail "umask $mask: B could not take over A's stale lock"; }
  [[ -f k.h5 && ! -e k.h5.lock ]] || fail "umask $mask: no output, or the lock left"
done
pass "a killed job's lock is taken over by another user of the group (umask 002 and 022)"
# A lock that is held stays held, whoever asks.
$A timeout 60 "$DC" kmeans --features f.h5 --k 3 --tol 0 --iters 100000 --restarts 50 --out h.h5 >held.txt 2>&1 &
job=$!
for _ in $(seq 100); do [[ -e h.h5.lock ]] && break; sleep 0.1; done
rc=0; $B timeout 60 "$DC" kmeans --features f.h5 --k 3 --out h.h5 >b2.txt 2>&1 || rc=$?
kill $job 2>/dev/null; wait $job 2>/dev/null || true
[[ $rc -ne 0 ]] && grep -q "h.h5 is being written by pid" b2.txt || { cat b2.txt; fail "a held lock was taken over"; }
pass "a held lock is not taken over"
# Two jobs taking over one stale foreign lock at once: B opens the old lock,
# A takes it over (unlink, new lock), then B's flock on the old file
# succeeded and B unlinked A's live lock: both ran, one resumed the other's
# checkpoint. strace holds B between its open and its flock (its second
# flock: the first is HDF5's on the input).
if command -v strace >/dev/null; then
  rm -f r.h5*; printf 'otherhost 99999\n' > r.h5.lock; chmod 644 r.h5.lock
  R="kmeans --features f.h5 --k 3 --tol 0 --iters 20000 --restarts 3 --out r.h5"
  timeout 120 strace -f -qq -o /dev/null -e trace=flock -e inject=flock:delay_enter=1500000:when=2 $B "$DC" $R >rb.txt 2>&1 &
  jb=$!
  sleep 0.5
  rc=0; $A timeout 120 "$DC" $R >ra.txt 2>&1 || rc=$?
  wait $jb && rcb=0 || rcb=$?
  [[ $rc -eq 0 ]] || { cat ra.txt rb.txt; fail "racing takeover: the first job failed (rc $rc)"; }
  [[ $rcb -ne 0 ]] && grep -q "r.h5 is being written by pid" rb.txt || { cat ra.txt rb.txt; fail "racing takeover: the second job ran too (rc $rcb)"; }
  ! grep -q "resuming" ra.txt rb.txt || { cat ra.txt rb.txt; fail "racing takeover: a job resumed the other's checkpoint"; }
  pass "two jobs taking over one stale lock: one runs, the other is told the output is being written"
else
  echo "SKIP (this case): no strace to hold a job between its open and its flock"
fi
# A folder this user may not write: not "No such file" (the takeover path).
mkdir -p ro && cp f.h5 ro/ && chmod 755 ro
rc=0; $A timeout 60 "$DC" kmeans --features ro/f.h5 --k 3 --out ro/k.h5 >ro.txt 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q "cannot create the lock ro/k.h5.lock for output ro/k.h5: Permission denied" ro.txt || { cat ro.txt; fail "read-only folder: rc $rc"; }
pass "an output folder the user may not write: Permission denied"

# Text outputs follow the umask as the HDF5 files do (they were always 0644).
rm -rf rep ex s.json
$A "$DC" -q eval --pred k.h5 --labels f.h5 --out s.json >/dev/null
$A "$DC" -q export --features f.h5 --pred k.h5 --out ex
for f in s.json ex/.config_hash k.h5; do [[ $(stat -c %a $f) == 664 ]] || fail "umask 002: $f is $(stat -c %a $f)"; done
# A colleague's stale text NAME.tmp is replaced (it was truncated in place: denied).
(umask 022; $A touch s2.json.tmp)
$B "$DC" -q eval --pred k.h5 --labels f.h5 --out s2.json >/dev/null || fail "another user's stale s2.json.tmp was not replaced"
pass "text outputs follow the umask; a stale NAME.tmp of another user is replaced"

# Unreadable inputs give the system's reason: an HDF5 file read "is not an
# HDF5 file" after HDF5's error stack, a config file "YAML error at line 0".
cp f.h5 secret.h5 && chmod 000 secret.h5
printf 'kmeans:\n  k: 3\n' > c.yaml && chmod 000 c.yaml
for cmd in "kmeans --features secret.h5 --k 3 --out x.h5" "eval --pred secret.h5 --labels f.h5 --out x.json" \
           "export --features f.h5 --pred secret.h5 --out xe" "kmeans --config c.yaml --features f.h5 --out x.h5"; do
  rc=0; $A timeout 60 "$DC" $cmd >u.txt 2>&1 || rc=$?
  [[ $rc -eq 1 ]] && grep -Eq "ERROR: .*(secret.h5|c.yaml) cannot be opened: Permission denied" u.txt && ! grep -q HDF5-DIAG u.txt ||
    { cat u.txt; fail "$cmd: rc $rc, reason not given"; }
done
pass "unreadable HDF5 inputs and config: 'Permission denied', no HDF5 error stack"

# report: an image folder the user may not enter is not "file not found".
"$DC" -q synth images --classes 2 --per-class 6 --size 16 --out img
"$DC" -q extract --source img --backbone pixels --out fi.h5 && "$DC" -q kmeans --features fi.h5 --k 2 --out ki.h5
chmod 700 img/$(ls img | head -1)
$A "$DC" report --features fi.h5 --pred ki.h5 --out rep --map none >r.txt 2>&1 || { cat r.txt; fail "report"; }
grep -q "6 of 12 images could not be read.*Permission denied" r.txt || { cat r.txt; fail "report: the unreadable folder's reason"; }
pass "report: an unreadable image folder says Permission denied"

# A stale NAME.tmp another user owns in a sticky folder: said by name on any
# rank count (2 ranks said only MPI-IO's "invalid access mode").
mkdir sticky && chmod 1777 sticky && cp f.h5 sticky/ && touch sticky/k.h5.tmp
for np in 1 2; do
  rc=0; $A $MR -n $np "$DC" kmeans --features sticky/f.h5 --k 3 --out sticky/k.h5 --no-checkpoint >st.txt 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] && grep -q "cannot replace sticky/k.h5.tmp (left by an earlier job, owner uid 0): Operation not permitted" st.txt ||
    { cat st.txt; fail "$np ranks: a stale k.h5.tmp of another user: rc $rc"; }
done
echo stale > sticky/s3.json.tmp
rc=0; $A timeout 60 "$DC" eval --pred k.h5 --labels f.h5 --out sticky/s3.json >st.txt 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q "cannot replace sticky/s3.json.tmp (left by an earlier job, owner uid 0): Operation not permitted" st.txt ||
  { cat st.txt; fail "a text output's stale .tmp of another user: rc $rc"; }
pass "another user's stale NAME.tmp in a sticky folder: said by name (HDF5 on 1 and 2 ranks, text)"

# A malformed DISTCLUST_PROGRESS_SECONDS turned progress off without a word.
DISTCLUST_PROGRESS_SECONDS=abc "$DC" kmeans --features f.h5 --k 3 --out p.h5 --force >p.txt 2>&1 || { cat p.txt; fail "progress abc"; }
grep -q "DISTCLUST_PROGRESS_SECONDS='abc' is not a number of seconds >= 0: using 10" p.txt || { cat p.txt; fail "progress abc: not said"; }
pass "a malformed DISTCLUST_PROGRESS_SECONDS is said"
