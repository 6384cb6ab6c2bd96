#!/usr/bin/env bash
# Features files written by other tools (h5py), as a user's own pipeline
# makes them: each case gives the right result or a clear error naming the
# file and dataset (an audit found these read wrongly or unclearly).
source "$(dirname "$0")/lib.sh"
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(3)
C = rng.normal(size=(4, 16)) * 6
y = np.repeat(np.arange(4), 150)
X = (C[y] + rng.normal(size=(600, 16))).astype(np.float32)
def write(name, **extra):
    with h5py.File(name, "w") as f:
        f["features"] = extra.pop("features", X)
        for k, v in extra.items():
            f[k] = v
write("float_labels.h5", labels=y + 0.5)                        # export/report/embed truncated 3.5 -> 3
write("col_labels.h5", labels=y.reshape(-1, 1).astype(np.int16))  # numpy column vector: fine
v = np.ones(600, np.int8); v[:10] = -1                          # README: only 0 marks an invalid row
write("valid_neg.h5", labels=y, valid=v)
write("big64.h5", features=np.where(np.arange(16) == 3, 1e300, X.astype(np.float64)))
with h5py.File("dangling.h5", "w") as f:
    f["features_real"] = X
    f["features"] = h5py.SoftLink("/nowhere")
for i in range(2):
    with h5py.File(f"part{i}.h5", "w") as f:
        f["x"] = X[i * 300:(i + 1) * 300]
lay = h5py.VirtualLayout(shape=(600, 16), dtype=np.float32)
for i in range(2):
    lay[i * 300:(i + 1) * 300] = h5py.VirtualSource(f"part{i}.h5", "x", shape=(300, 16))
with h5py.File("vds.h5", "w") as f:
    f.create_virtual_dataset("features", lay, fillvalue=0)
write("ids_dangling.h5", labels=y, ids=h5py.SoftLink("/nowhere"))  # report/export read /ids as strings
write("ids_group.h5", labels=y)
with h5py.File("ids_group.h5", "a") as f:
    f.create_group("ids")
# Another file's image paths (one more than rows): export and report linked
# each row to another image; shorter lists were refused.
write("ids_long.h5", labels=y, ids=np.array([b"img/%04d.png" % i for i in range(601)]))
write("labels_u64.h5", labels=y.astype(np.uint64) + np.uint64(2**63))  # became one class (INT64_MAX)
with h5py.File("wide.h5", "w") as f:                           # 60 rows x 20000 dims
    f["features"] = rng.normal(size=(60, 20000)).astype(np.float32)
PY
n=0
check() {  # check NP "expected message" args...: fails, says it, writes nothing
  local np=$1 msg=$2; shift 2
  n=$((n + 1))
  rm -rf out.h5 outdir
  if dcrun "$np" "$@" >out.txt 2>&1; then cat out.txt; fail "case $n ($*) succeeded"; fi
  grep -qF -- "$msg" out.txt || { cat out.txt; fail "case $n ($*): message lacks '$msg'"; }
  [[ ! -e out.h5 && ! -e outdir ]] || fail "case $n ($*) left its output"
  echo "ok $n: $(grep -F -- "$msg" out.txt | head -1 | sed 's/^.*ERROR: //')"
}
dcrun 1 kmeans --features col_labels.h5 --k 4 --out km.h5 >/dev/null || fail "kmeans on col_labels.h5"
for np in 1 2; do
  check $np "float_labels.h5: /labels is 600 float64: expected integers (one class per row" \
    export --features float_labels.h5 --pred km.h5 --out outdir
  check $np "float_labels.h5: /labels is 600 float64: expected integers" kmeans --features float_labels.h5 --k 4 --out out.h5
  check $np "vds.h5: /features is a virtual dataset (HDF5 VDS), which distclust does not read" \
    kmeans --features vds.h5 --k 4 --out out.h5
  check $np "dangling.h5: /features cannot be opened as a dataset (a soft or external link to nothing" \
    kmeans --features dangling.h5 --k 4 --out out.h5
  # A bare failed H5Dopen2 named neither the file nor /ids.
  check $np "ids_dangling.h5: /ids cannot be opened as a dataset" \
    report --features ids_dangling.h5 --pred km.h5 --map none --out outdir
  check $np "ids_group.h5: /ids cannot be opened as a dataset" export --features ids_group.h5 --pred km.h5 --out outdir
  check $np "big64.h5: /features row 0 holds 1e+300, beyond float32's range" kmeans --features big64.h5 --k 4 --out out.h5
done
dcrun 1 kmeans --features ids_long.h5 --k 4 --out km_long.h5 >/dev/null || fail "kmeans on ids_long.h5"
for cmd in "export --features ids_long.h5 --pred km_long.h5 --out outdir" \
           "report --features ids_long.h5 --pred km_long.h5 --map none --out outdir"; do
  check 2 "ids_long.h5: /ids holds 601 strings for the 600 rows of /features: expected one per row" $cmd
done
check 2 "labels_u64.h5: /labels row 0 holds 9223372036854775808, beyond the int64 range" \
  kmeans --features labels_u64.h5 --k 4 --out out.h5
check 1 "labels_u64.h5: /labels row 0 holds 9223372036854775808, beyond the int64 range" \
  eval --labels labels_u64.h5 --pred km.h5 --out out.h5
# A truncated file is said as HDF5 says it, not as one being written (the
# message's "sblock" matched a search for "lock").
$PY -c "import shutil, os; shutil.copy('col_labels.h5', 'trunc.h5'); os.truncate('trunc.h5', os.path.getsize('trunc.h5') // 2)"
check 1 "truncated file" kmeans --features trunc.h5 --k 4 --out out.h5
! grep -q "another process may be writing it" out.txt || { cat out.txt; fail "a truncated file said to be being written"; }
# eval reads [N x 1] labels as every stage does (it refused them).
dcrun 1 eval --labels col_labels.h5 --pred km.h5 >ev.txt 2>&1 || { cat ev.txt; fail "eval with [N x 1] labels"; }
$PY -c "
import h5py
with h5py.File('col_assign.h5', 'w') as f: f['assign'] = h5py.File('km.h5')['assign'][:].reshape(-1, 1)"
check 1 "col_assign.h5: /assign is 600 x 1 int64: expected one cluster number per row, [600]" \
  export --features col_labels.h5 --pred col_assign.h5 --out outdir
dcrun 1 report --features col_labels.h5 --pred km.h5 --map none --out rep >/dev/null 2>&1 || fail "report with [N x 1] labels"
pass "$n foreign files refused by name; [N x 1] labels read"

# An int8 /valid of -1 is valid (nonzero), as the README says; it became 0.
dcrun 1 kmeans --features valid_neg.h5 --k 4 --out kv.h5 >kv.txt 2>&1 || { cat kv.txt; fail "kmeans valid_neg"; }
$PY -c "
import h5py, numpy as np
a = h5py.File('kv.h5')['assign'][:]
assert (a >= 0).all(), 'rows with /valid = -1 were taken as invalid: %d' % (a < 0).sum()"
pass "/valid: nonzero is valid (int8 -1 included)"

# A file another process is writing: refused on 1 rank (HDF5's lock) and
# now on 2 (MPI-IO takes no lock: its unwritten rows were clustered as 0).
$PY - <<'PY' &
import h5py, numpy as np, time, os
with h5py.File("writing.h5", "w") as f:
    d = f.create_dataset("features", (600, 16), "f4")
    d[:300] = np.random.default_rng(1).normal(size=(300, 16))
    f.flush()
    open("writing.ready", "w").close()
    while not os.path.exists("writing.done"):
        time.sleep(0.1)
PY
writer=$!
for _ in $(seq 100); do [[ -e writing.ready ]] && break; sleep 0.1; done
for np in 1 2; do
  check $np "writing.h5" kmeans --features writing.h5 --k 4 --out out.h5
  grep -q "writing.h5 cannot be opened for reading: another process may be writing it" out.txt ||
    { cat out.txt; fail "$np ranks: cause not said"; }
done
touch writing.done; wait $writer
dcrun 2 kmeans --features writing.h5 --k 4 --out kw.h5 >/dev/null 2>&1 || fail "the closed file was refused"
pass "a file open for writing elsewhere: refused on 1 and 2 ranks; read once closed"

# 60 rows x 20000 dims: gmm diag held an unused D x D matrix (3.2 GB), embed
# and report's map a D x D PCA (9.5 GB): both now fit in 2 GB.
dcrun 1 knn --features wide.h5 --k 5 --out wk.h5 >/dev/null 2>&1 || fail "knn wide"
(ulimit -v 2000000; export DISTCLUST_THREADS=2  # the buffers per thread fit whatever the cores
 "$DC" gmm --features wide.h5 --k 2 --covariance diag --iters 3 --out wg.h5 >wg.txt 2>&1 || { cat wg.txt; exit 1; }
 "$DC" embed --features wide.h5 --knn wk.h5 --dim 2 --epochs 20 --out we.h5 >we.txt 2>&1 || { cat we.txt; exit 1; }
) || fail "gmm diag / embed at D=20000 within 2 GB"
grep -q "initial layout from a random projection of the rows (D = 20000" we.txt || { cat we.txt; fail "embed init not said"; }
pass "D=20000: gmm diag and embed fit in 2 GB"

# Parts never written, and damaged metadata: not zeros or "absent".
$PY - <<'PY'
import h5py, numpy as np, struct
X = np.random.default_rng(5).normal(size=(600, 8)).astype(np.float32)
with h5py.File("half_written.h5", "w") as f:   # a writer that died after 3 of 6 chunks
    f.create_dataset("features", (600, 8), dtype="f4", chunks=(100, 8))[:300] = X[:300]
with h5py.File("never_written.h5", "w") as f:  # contiguous, created and never written
    f.create_dataset("features", (600, 8), dtype="f4")
with h5py.File("lzf.h5", "w") as f:            # h5py's own filter, which libhdf5 lacks
    f.create_dataset("features", data=X, chunks=(100, 8), compression="lzf")
with h5py.File("valid_ok.h5", "w") as f:
    f["features"] = X
    v = np.ones(600, np.uint8); v[:10] = 0
    f["valid"] = v
# One flipped byte: the name offset of the /valid link in the root group's
# symbol table node. HDF5 sees the damage (h5py: "unable to offset into local
# heap data block"); reading it as "no /valid" clustered the 10 invalid rows.
d = bytearray(open("valid_ok.h5", "rb").read())
h = d.find(b"HEAP"); seg = struct.unpack_from("<Q", d, h + 24)[0]
s = d.find(b"SNOD")
for i in range(struct.unpack_from("<H", d, s + 6)[0]):
    e = s + 8 + 40 * i; off = struct.unpack_from("<Q", d, e)[0]
    if d[seg + off: seg + off + 6] == b"valid\0":
        d[e + 2] ^= 0xFF
open("valid_damaged.h5", "wb").write(d)
PY
for np_ in 1 3; do
  for c in "half_written.h5|holds 3 of its 6 chunks: part of it was never written" \
           "never_written.h5|/features was never written (no storage is allocated: it would read as zeros" \
           "valid_damaged.h5|in valid_damaged.h5 failed: unable to get link info" \
           "lzf.h5|/features is compressed with HDF5 filter 32000 (lzf, from h5py), which this HDF5 cannot decode"; do
    set +e; timeout 60 $DC_MPIEXEC -n $np_ "$DC" kmeans --features "${c%%|*}" --k 3 --out km_bad.h5 >bad.txt 2>&1; rc=$?; set -e
    [[ $rc -ne 0 ]] || fail "${c%%|*} on $np_ ranks: accepted"
    grep -q "${c#*|}" bad.txt || { cat bad.txt; fail "${c%%|*} on $np_ ranks: message"; }
    [[ ! -e km_bad.h5 ]] || fail "${c%%|*}: an output was written"
  done
done
"$DC" kmeans --features valid_ok.h5 --k 3 --out km_ok.h5 >/dev/null 2>&1 || fail "the undamaged file"
# A fill value the writer chose is content: /labels never written with
# fillvalue=-1 (all unknown), /valid chunked with fillvalue=1 (all valid).
$PY - <<'PY'
import h5py, numpy as np
X = np.random.default_rng(6).normal(size=(600, 8)).astype(np.float32)
with h5py.File("filled.h5", "w") as f:
    f["features"] = X
    f.create_dataset("labels", (600,), dtype="i8", fillvalue=-1)
    f.create_dataset("valid", (600,), dtype="u1", chunks=(200,), fillvalue=1)
PY
"$DC" kmeans --features filled.h5 --k 3 --out km_filled.h5 >filled.txt 2>&1 || { cat filled.txt; fail "user fill values refused"; }
$PY -c "import h5py; a = h5py.File('km_filled.h5', 'r')['assign'][:]; assert (a >= 0).all(), 'a row left out'"
pass "unwritten chunks, unallocated storage, a damaged link and an unknown filter are refused by name (1 and 3 ranks)"
# Class folders whose names are not UTF-8 (Latin-1 "caf\xe9", "caf\xe8"):
# both became "caf\ufffd", one name for two classes in the report and CSV.
"$DC" synth images --classes 2 --per-class 4 --size 16 --out lat1 >/dev/null
$PY - <<'PY'
import os
os.rename(b"lat1/class_00", b"lat1/caf\xe9"); os.rename(b"lat1/class_01", b"lat1/caf\xe8")
PY
"$DC" extract --source lat1 --backbone pixels --pixels-size 8 --out lat1.h5 >lat1.txt 2>&1 || { cat lat1.txt; fail "Latin-1 class folders"; }
$PY -c "
import h5py, json
names = json.loads(h5py.File('lat1.h5', 'r').attrs['class_names'])
assert sorted(names) == ['caf\\\\xE8', 'caf\\\\xE9'], names" || fail "Latin-1 class names not kept apart"
pass "Latin-1 class folder names kept apart: caf\\xE8, caf\\xE9"
