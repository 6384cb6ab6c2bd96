#!/usr/bin/env bash
# The compute environment at start (kernels/compute_env.h): kernels distclust
# switches to are checked against a double-precision sgemm before use, and a
# preset is kept when they disagree; the decision is printed either way.
# DISTCLUST_OPENBLAS_CORETYPE forces a switch on any CPU (the AVX-512 drop
# needs such a CPU); DISTCLUST_TEST_BLAS_CHECK=fail makes the check disagree.
source "$(dirname "$0")/lib.sh"
core() { grep -o 'core [A-Za-z0-9]*' "$1" | head -1 | cut -d' ' -f2; }

# Switch accepted: the forced kernels agree with the reference and are used.
OPENBLAS_CORETYPE=Haswell DISTCLUST_OPENBLAS_CORETYPE=Sandybridge "$DC" env >ok.txt 2>&1 || { cat ok.txt; fail "env"; }
grep -q "the Sandybridge kernels agree with a double-precision sgemm" ok.txt || { cat ok.txt; fail "check not reported"; }
[[ $(core ok.txt) == Sandybridge ]] || { cat ok.txt; fail "forced kernels not in use"; }
pass "switch checked and taken: $(grep -o 'max relative error [0-9.e-]*' ok.txt | head -1)"

# Switch refused: the check disagrees, the preset stays, the log says why.
OPENBLAS_CORETYPE=Haswell DISTCLUST_OPENBLAS_CORETYPE=Sandybridge DISTCLUST_TEST_BLAS_CHECK=fail \
  "$DC" env >bad.txt 2>&1 || { cat bad.txt; fail "env with a failing check"; }
grep -q "kept OPENBLAS_CORETYPE=Haswell: the Sandybridge kernels distclust would switch to disagree" bad.txt ||
  { cat bad.txt; fail "kept preset not reported"; }
[[ $(core bad.txt) == Haswell ]] || { cat bad.txt; fail "preset not restored"; }
# A stage logs the decision too (info line on rank 0), and runs on the preset's kernels.
OPENBLAS_CORETYPE=Haswell DISTCLUST_OPENBLAS_CORETYPE=Sandybridge DISTCLUST_TEST_BLAS_CHECK=fail \
  "$DC" synth features --n 100 --d 4 --k 2 --out f.h5 >stage.txt 2>&1 || { cat stage.txt; fail "stage"; }
grep -q "kept OPENBLAS_CORETYPE=Haswell" stage.txt || { cat stage.txt; fail "decision not in the stage's log"; }
pass "disagreeing kernels refused, preset kept and named"

# Kernels that suit the CPU whatever OpenBLAS picks or the machine presets:
# OpenBLAS 0.3.21 does not know a Sapphire Rapids and took Prescott (SSE3)
# kernels, and a preset Haswell was removed into the same fallback: k-means
# ran at 62 GFLOP/s where SkylakeX kernels give 253 (bench/RESULTS.md).
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
if has avx512f avx512cd avx512bw avx512dq avx512vl; then good="SkylakeX|Cooperlake|SapphireRapids"
elif has avx2 fma; then good="Haswell|Zen|SkylakeX|Cooperlake|SapphireRapids"
else good=""; fi
if [[ -n $good ]]; then
  env -u OPENBLAS_CORETYPE "$DC" env >own.txt 2>&1 || { cat own.txt; fail "env without a preset"; }
  [[ $(core own.txt) =~ ^($good)$ ]] || { cat own.txt; fail "kernels $(core own.txt) do not suit this CPU ($good)"; }
  if [[ $good == SkylakeX* ]]; then
    OPENBLAS_CORETYPE=Haswell "$DC" env >hsw.txt 2>&1 || { cat hsw.txt; fail "env with Haswell preset"; }
    [[ $(core hsw.txt) =~ ^($good)$ ]] || { cat hsw.txt; fail "a Haswell preset on an AVX-512 CPU left $(core hsw.txt) kernels"; }
    grep -q "OPENBLAS_CORETYPE=Haswell replaced by SkylakeX" hsw.txt || { cat hsw.txt; fail "the replacement is not said"; }
  fi
  pass "kernels suit the CPU: $(core own.txt) without a preset$([[ -e hsw.txt ]] && echo ", $(core hsw.txt) for a Haswell preset")"
fi

# A core type distclust does not know is left as given (it was removed as
# if it were pre-AVX-512, "its kernels use AVX2 at most").
OPENBLAS_CORETYPE=Foo "$DC" env >foo.txt 2>&1 || { cat foo.txt; fail "env with an unknown core type"; }
! grep -q "OPENBLAS_CORETYPE=Foo removed" foo.txt || { cat foo.txt; fail "an unknown core type was removed"; }
# No switch asked for: no check, kernels as given.
DISTCLUST_KEEP_ENV=1 OPENBLAS_CORETYPE=Haswell "$DC" env >keep.txt 2>&1
grep -q "kept as given" keep.txt && [[ $(core keep.txt) == Haswell ]] || { cat keep.txt; fail "KEEP_ENV"; }
# Denormals are flushed on every thread (main sets FTZ/DAZ before any thread
# starts; threads inherit it). Without it SCAN's sgemm slowed 30x on an
# AVX-512 machine once operands fell below 1.2e-38 (bench/RESULTS-scan.md).
for t in 1 2 3; do
  "$DC" env --threads $t >ftz.txt 2>&1
  grep -q "denormals:   flushed to zero (FTZ/DAZ) on $t of $t OpenMP threads" ftz.txt || { cat ftz.txt; fail "denormals not flushed on every thread ($t)"; }
done
# The compute target, communicator and LibTorch's abilities are shown.
"$DC" env >ct.txt 2>&1
grep -q "^comm:        local, 1 rank(s)" ct.txt || { cat ct.txt; fail "env: no comm line"; }
grep -q "^compute:     cpu (OpenBLAS) (runtime.device=auto, kernels=auto)" ct.txt || { cat ct.txt; fail "env: no compute line"; }
grep -qE "^LibTorch:    [0-9.]+, CUDA (built|not built), [0-9]+ GPU" ct.txt || { cat ct.txt; fail "env: no LibTorch line"; }
"$DC" env --device cpu --kernels torch >ct2.txt 2>&1
grep -q "^compute:     cpu (LibTorch)" ct2.txt || { cat ct2.txt; fail "env: kernels=torch not shown"; }
# Threads: a user's OMP_NUM_THREADS is honoured (first count of a nesting
# list), named as the source, also through the launcher; a bad one refused.
OMP_NUM_THREADS=1,1 "$DC" env >th.txt 2>&1
grep -q "^threads:     1 OpenMP threads per rank (from OMP_NUM_THREADS)" th.txt || { cat th.txt; fail "OMP_NUM_THREADS ignored"; }
"$DC" env --threads 2 >th2.txt 2>&1
grep -q "^threads:     2 OpenMP threads per rank (from runtime.threads)" th2.txt || { cat th2.txt; fail "runtime.threads"; }
OMP_NUM_THREADS=1 $DC_MPIEXEC -n 2 -x OMP_NUM_THREADS "$DC_SOURCE/launch/distclust-rank" "$DC" env >th3.txt 2>&1 ||
  { cat th3.txt; fail "env under distclust-rank"; }
grep -q "^threads:     1 OpenMP threads per rank (from DISTCLUST_THREADS) x 2 ranks" th3.txt ||
  { cat th3.txt; fail "distclust-rank overrode OMP_NUM_THREADS"; }
set +e; OMP_NUM_THREADS=lots "$DC" kmeans --features none.h5 --out k.h5 >th4.txt 2>&1; rc=$?; set -e
[[ $rc == 1 ]] && grep -q "ERROR: OMP_NUM_THREADS='lots' is not a thread count" th4.txt && [[ ! -e k.h5 ]] ||
  { cat th4.txt; fail "bad OMP_NUM_THREADS not refused"; }
# ... but `env`, where a user looks first, reports it and shows the rest.
cores=$(nproc)
OMP_NUM_THREADS=lots "$DC" env >th4e.txt 2>&1 || { cat th4e.txt; fail "env stopped on a bad OMP_NUM_THREADS"; }
grep -q "^threads:     $cores OpenMP threads per rank (from cores)" th4e.txt &&
  grep -q "^             not counted: OMP_NUM_THREADS='lots' is not a thread count .*: every other command refuses" th4e.txt &&
  grep -q "^LibTorch:" th4e.txt || { cat th4e.txt; fail "env: bad OMP_NUM_THREADS not reported"; }
DISTCLUST_THREADS=0 OMP_NUM_THREADS=1 "$DC" env >th4d.txt 2>&1 || { cat th4d.txt; fail "env: bad DISTCLUST_THREADS"; }
grep -q "^threads:     1 OpenMP threads per rank (from OMP_NUM_THREADS)" th4d.txt &&
  grep -q "not counted: DISTCLUST_THREADS='0' is not a thread count" th4d.txt || { cat th4d.txt; fail "env: bad DISTCLUST_THREADS"; }
# An explicit --threads does not read them; OpenMP's blanks are allowed.
OMP_NUM_THREADS=lots "$DC" env --threads 2 >th5.txt 2>&1 || { cat th5.txt; fail "--threads 2 with a bad OMP_NUM_THREADS"; }
OMP_NUM_THREADS=" 1 " "$DC" env >th6.txt 2>&1 && grep -q "^threads:     1 OpenMP threads per rank (from OMP_NUM_THREADS)" th6.txt ||
  { cat th6.txt; fail "OMP_NUM_THREADS=' 1 '"; }
# A core type OpenBLAS does not know is ignored by it: said, with the kernels it runs.
DISTCLUST_OPENBLAS_CORETYPE=Bogus "$DC" env >bogus.txt 2>&1 || { cat bogus.txt; fail "env with a bogus core type"; }
grep -q "this OpenBLAS does not take OPENBLAS_CORETYPE=Bogus and runs its [A-Za-z0-9]* kernels" bogus.txt ||
  { cat bogus.txt; fail "an unknown forced core type not said"; }
DISTCLUST_OPENBLAS_CORETYPE=Sandybridge "$DC" env >sb.txt 2>&1 && ! grep -q "does not take" sb.txt ||
  { cat sb.txt; fail "a known core type said to be unknown"; }
pass "blas env"
