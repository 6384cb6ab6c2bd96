#!/usr/bin/env bash
# runtime.kernels torch on CPU tensors (the LibTorch search kernel and
# k-means step that a GPU runs) against the default OpenBLAS kernels:
# kmeans on 2 ranks gives the same assignments, centroids and inertia as on
# 1 rank with OpenBLAS; the exact kNN graph on 2 ranks (its ring in the
# kernel's device blocks) is identical.
source "$(dirname "$0")/lib.sh"
dcrun 1 synth features --n 6000 --d 32 --k 8 --noise 0.3 --seed 5 --out f.h5
dcrun 1 kmeans --features f.h5 --k 8 --restarts 2 --seed 3 --out cpu.h5
dcrun 2 kmeans --features f.h5 --k 8 --restarts 2 --seed 3 --device cpu --kernels torch --out torch.h5 --log-dir logs \
  2>stderr.txt
# The device step's scatter_reduce_ made LibTorch print "in beta" on every rank's stderr, under -q too.
! grep -q "in beta" stderr.txt || fail "LibTorch's beta warning reached stderr: $(grep 'in beta' stderr.txt | head -c 300)"
grep -q "compute: cpu (LibTorch)" logs/rank-1.log || fail "rank 1 did not compute with LibTorch: $(head -c 600 logs/rank-1.log)"
dcrun 1 knn --features f.h5 --k 10 --out knn_cpu.h5
dcrun 2 knn --features f.h5 --k 10 --kernels torch --out knn_torch.h5 --log-dir knn_logs
# The ring's blocks travel in the kernel's device blocks (CPU tensors here, a GPU's memory with NCCL).
grep -q "knn ring: blocks travel in torch:cpu" knn_logs/rank-1.log ||
  fail "the kNN ring did not use the kernel's device blocks: $(grep -i 'knn' knn_logs/rank-1.log | head -c 600)"
# What a GPU would copy over per use: nothing. Each rank's own rows are held
# and the other's block is searched where it was received.
for r in 0 1; do
  grep -q "r$r .*knn exact: kernel time (torch:cpu fp32): .*; 2 calls, 0 MB of rows not held;" knn_logs/rank-$r.log ||
    fail "rank $r's kNN kernel read rows it did not hold: $(grep 'kernel time' knn_logs/rank-$r.log)"
done
# k-means holds the shard: only the 8 x 32 centroids (1,024 bytes) are
# read per iteration.
for r in 0 1; do
  line=$(grep 'kmeans: kernel time (torch' logs/rank-$r.log) || fail "no k-means kernel time on rank $r"
  [[ $line =~ \;\ ([0-9]+)\ calls,\ ([0-9.e+-]+)\ MB\ of\ rows\ not\ held ]] || fail "rank $r: $line"
  $PY -c "import sys; c, mb = int(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(mb - c * 1024e-6) > 1e-9)" \
    "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" || fail "rank $r's k-means read more than its centroids: $line"
done
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("cpu.h5", "r"), h5py.File("torch.h5", "r")
assert np.array_equal(a["assign"][:], b["assign"][:]), "assignments differ"
assert np.array_equal(a["centroids"][:], b["centroids"][:]), "centroids differ (same assignments: exact sums)"
fa, fb = a.attrs["final_inertia"], b.attrs["final_inertia"]
assert abs(fa - fb) <= 1e-6 * fa, (fa, fb)
a, b = h5py.File("knn_cpu.h5", "r"), h5py.File("knn_torch.h5", "r")
assert np.array_equal(a["indices"][:], b["indices"][:]), "kNN graphs differ"
assert np.array_equal(a["similarities"][:], b["similarities"][:]), "kNN similarities differ"
print("final inertia", fa, fb)
PY
pass "kernels torch = OpenBLAS (kmeans np 2 vs 1, exact kNN np 2 vs 1)"
# runtime.storage bf16: the k-means shard held in bf16 (half the bytes).
# Well-separated data keeps every assignment; the centroids are means of
# rounded rows, so close to, not equal to, the fp32 ones.
dcrun 2 kmeans --features f.h5 --k 8 --restarts 2 --seed 3 --kernels torch --storage bf16 --out half.h5 --log-dir half_logs
grep -q "compute: cpu (LibTorch, rows held in bf16)" half_logs/rank-0.log || fail "storage bf16 not in the compute line: $(grep -m3 compute half_logs/rank-0.log)"
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("cpu.h5", "r"), h5py.File("half.h5", "r")
assert np.array_equal(a["assign"][:], b["assign"][:]), "bf16 storage changed assignments of well-separated data"
d = np.abs(a["centroids"][:] - b["centroids"][:]).max()
assert 0 < d < 1e-2, f"centroid difference {d}: expected bf16 rounding (0 < d < 1e-2)"
print("bf16 storage: same assignments, centroids within", d)
PY
pass "storage bf16: same k-means assignments, centroids within bf16 rounding"

# runtime.precision/storage change the numbers, so they are in the config
# hash of kmeans, knn, scan, gmm and assign: a run with bf16 rows and then
# fp32 rows skipped the second as up to date (the file kept bf16's numbers),
# and a bf16 checkpoint was resumed by an fp32 run (a mix of both).
mkdir -p w && cp f.h5 w/features.h5
R=(run --set run.workdir=w --set run.stages=kmeans --set kmeans.k=8 --set kmeans.seed=3)
dcrun 1 "${R[@]}" --set runtime.kernels=torch --set runtime.storage=bf16 >r1.txt 2>&1 || { cat r1.txt; fail "run bf16"; }
dcrun 1 "${R[@]}" >r2.txt 2>&1 || { cat r2.txt; fail "run fp32"; }
! grep -q "kmeans: skipped (up to date)" r2.txt || { cat r2.txt; fail "fp32 after bf16: skipped as up to date"; }
dcrun 1 "${R[@]}" --set runtime.kernels=torch >r3.txt 2>&1 || { cat r3.txt; fail "run torch fp32"; }
grep -q "kmeans: skipped (up to date)" r3.txt || { cat r3.txt; fail "torch fp32 after OpenBLAS: not up to date (same numbers)"; }
if DISTCLUST_FAULT_AFTER_ITER=3 "$DC" kmeans --features f.h5 --k 8 --tol 0 --kernels torch --storage bf16 --out ck.h5 >/dev/null 2>&1; then
  fail "the fault did not stop kmeans"
fi
[[ -e ck.h5.ckpt ]] || fail "no checkpoint"
dcrun 1 kmeans --features f.h5 --k 8 --tol 0 --out ck.h5 >ck.txt 2>&1 || { cat ck.txt; fail "fp32 after a bf16 checkpoint"; }
grep -q "ignoring checkpoint ck.h5.ckpt: made with other parameters" ck.txt || { cat ck.txt; fail "a bf16 checkpoint resumed in fp32"; }
pass "precision/storage in the config hash: a bf16 run is not up to date for fp32, nor its checkpoint resumed"

# With OpenBLAS kernels precision and storage do nothing: said, not silent.
dcrun 1 kmeans --features f.h5 --k 8 --storage bf16 --out ob.h5 >ob.txt 2>&1 || { cat ob.txt; fail "kmeans --storage bf16 on OpenBLAS"; }
grep -q "runtime.precision=fp32 and runtime.storage=bf16 are for LibTorch kernels: ignored with OpenBLAS" ob.txt ||
  { cat ob.txt; fail "storage on OpenBLAS not said to be ignored"; }
pass "precision/storage with OpenBLAS kernels: said to be ignored"
