// The environment OpenBLAS and OpenMP read when they load, set before they
// do. OpenBLAS picks its kernels (OPENBLAS_CORETYPE) and libgomp its wait
// policy at load time, so distclust re-executes itself once (same pid, same
// argv: mpirun and srun still see the process they started) when it wants
// them otherwise:
//  - OMP_WAIT_POLICY=PASSIVE unless set (spinning OpenMP threads slow the
//    BLAS threads beside them);
//  - a preset OPENBLAS_CORETYPE of pre-AVX-512 kernels (Haswell, Zen, ...)
//    is replaced by SkylakeX when the CPU has AVX-512 (they run at half the
//    rate), and one that needs AVX-512 the CPU lacks (SkylakeX, ...) by
//    Haswell (AVX2 + FMA) or removed (its kernels die on an illegal
//    instruction): removed, OpenBLAS' own choice may be weaker still;
//  - none preset, but OpenBLAS chose kernels weaker than the CPU (it falls
//    back to Prescott on a CPU it does not know: 0.3.21 on a Sapphire
//    Rapids): OPENBLAS_CORETYPE=SkylakeX or Haswell as the CPU allows;
//  - DISTCLUST_OPENBLAS_CORETYPE=X forces core type X.
// An operator may have preset a core type because other kernels compute
// wrongly on that machine (older OpenBLAS builds did), so kernels distclust
// switches to are checked before use: a small sgemm against a
// double-precision reference (blas::check_sgemm, ~1 ms). When they
// disagree, distclust re-executes once more with the preset restored. The
// decision is one log line either way (summary()).
// DISTCLUST_KEEP_ENV=1 leaves the environment exactly as given.
#pragma once

#include <string>

namespace distclust::compute_env {

/// Call first in main(), before MPI_Init or any thread starts. May not return
/// (re-executes the program).
void prepare(int argc, char** argv);

/// Denormal floats flushed to zero (x86: MXCSR FTZ and DAZ), for this thread
/// and every thread it creates afterwards (they inherit the mode): called
/// first in main(). Why: an operand below 1.2e-38 (SCAN's softmax tails, a
/// weight decayed towards zero) costs the AVX-512 sgemm a microcode assist;
/// on the ImageNet-size rehearsal SCAN fell from 7 to 0.2 steps/s. Results
/// change only where a value would have been denormal.
void flush_denormals();
/// OpenMP threads of this process with denormals flushed, of all of them
/// (distclust env prints it: every one should be).
int threads_flushing_denormals(int* of);

/// What prepare() did, one line.
std::string summary();

/// True when prepare() changed or checked OPENBLAS_CORETYPE (worth an info
/// line in the log; otherwise the summary is a debug line).
bool blas_decision_made();

/// The BLAS/OpenMP variables as the process was started with them, before
/// any re-execution: "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 OMP_WAIT_POLICY=unset ...".
std::string given();

}  // namespace distclust::compute_env
