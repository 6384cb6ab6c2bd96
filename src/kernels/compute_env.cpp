#include "kernels/compute_env.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <setjmp.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "distclust/error.h"
#include "kernels/blas.h"

namespace distclust::compute_env {
namespace {

// Carried across the re-execution.
constexpr const char* kApplied = "DISTCLUST_ENV_APPLIED";  // the summary so far
constexpr const char* kVerify = "DISTCLUST_BLAS_VERIFY";   // check the switched kernels at the next start
constexpr const char* kPreset = "DISTCLUST_BLAS_PRESET";   // the core type to restore if they fail ("" = none)
constexpr const char* kGiven = "DISTCLUST_ENV_GIVEN";      // the variables as first given

std::string g_summary = "compute env: unchanged";
bool g_decision = false;

std::string env_or(const char* name, const char* dflt) {
  const char* v = std::getenv(name);
  return v ? v : dflt;
}

std::string given_now() {
  std::string s;
  for (const char* v : {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                        "OMP_WAIT_POLICY"})
    s += fmt(s.empty() ? "" : " ", v, "=", env_or(v, "unset"));
  return s;
}

bool cpu_has_avx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"); }

/// OpenBLAS core types whose kernels use AVX-512.
bool needs_avx512(const std::string& core) {
  for (const char* c : {"skylakex", "cooperlake", "sapphirerapids"})
    if (strcasecmp(core.c_str(), c) == 0) return true;
  return false;
}

/// OpenBLAS x86-64 core types whose kernels use AVX2 at most. A name in
/// neither list is left as given: nothing is known about its kernels.
bool pre_avx512(const std::string& core) {
  for (const char* c : {"haswell", "zen", "sandybridge", "nehalem", "core2", "penryn", "dunnington", "prescott",
                        "atom", "opteron", "opteron_sse3", "barcelona", "bobcat", "bulldozer", "piledriver",
                        "steamroller", "excavator", "katmai", "coppermine", "northwood", "banias", "athlon"})
    if (strcasecmp(core.c_str(), c) == 0) return true;
  return false;
}

/// The OpenBLAS core type whose sgemm suits this CPU best, of the ones every
/// OpenBLAS since 0.3.x knows: SkylakeX (AVX-512 F/CD/BW/DQ/VL), Haswell
/// (AVX2 + FMA), else "" (OpenBLAS' own choice).
std::string cpu_core() {
  if (cpu_has_avx512() && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

/// Core types weaker than `want` (cpu_core()): what OpenBLAS falls back to
/// on a CPU it does not know (0.3.21 takes a Sapphire Rapids for a Prescott,
/// SSE3: a quarter of the SkylakeX sgemm rate, measured). For Haswell: the
/// pre-AVX-512 types other than the AVX2 ones.
bool weaker_than(const std::string& core, const std::string& want) {
  if (want == "SkylakeX") return pre_avx512(core);
  return want == "Haswell" && pre_avx512(core) && strcasecmp(core.c_str(), "haswell") != 0 &&
         strcasecmp(core.c_str(), "zen") != 0;
}

[[noreturn]] void reexec(char** argv) {
  // Same pid, same argv: mpirun/srun still see the process they started.
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): there is no going back to a consistent state.
  std::fprintf(stderr, "distclust: cannot re-execute /proc/self/exe (%s)\n", std::strerror(errno));
  std::_Exit(70);
}

sigjmp_buf g_jump;
void on_fault(int) { siglongjmp(g_jump, 1); }

/// blas::check_sgemm, with an illegal instruction (kernels for a CPU this is
/// not) counted as a failed check instead of ending the process.
blas::Check guarded_check() {
  const bool perturb = env_or("DISTCLUST_TEST_BLAS_CHECK", "") == "fail";  // test hook
  struct sigaction sa{}, old_ill{}, old_segv{};
  sa.sa_handler = on_fault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGILL, &sa, &old_ill);
  sigaction(SIGSEGV, &sa, &old_segv);
  blas::Check c;
  if (sigsetjmp(g_jump, 1) == 0) {
    blas::single_thread();
    c = blas::check_sgemm(perturb);
  } else {
    c.ok = false;
    c.detail = "the kernels stopped on an illegal instruction or a bad access";
  }
  sigaction(SIGILL, &old_ill, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return c;
}

/// Second start, after kernels were switched: check them; restore the preset
/// (a third start) when they compute wrongly.
void verify(char** argv) {
  const std::string preset = env_or(kPreset, "");
  unsetenv(kVerify);
  unsetenv(kPreset);
  const std::string core = blas::core_name();
  const blas::Check c = guarded_check();
  g_decision = true;
  if (c.ok) {
    // A name OpenBLAS does not know is ignored by it, silently: say which
    // kernels run instead ("forced Bogus" then "the Cooperlake kernels").
    const std::string asked = env_or("OPENBLAS_CORETYPE", "");
    if (!asked.empty() && strcasecmp(asked.c_str(), core.c_str()) != 0)
      g_summary += fmt("; this OpenBLAS does not take OPENBLAS_CORETYPE=", asked, " and runs its ", core,
                       " kernels");
    g_summary += fmt("; the ", core, " kernels agree with a double-precision sgemm (max relative error ",
                     c.max_error, ")");
    setenv(kApplied, g_summary.c_str(), 1);
    return;
  }
  if (needs_avx512(preset) && !cpu_has_avx512()) {
    // The preset cannot run here either: carry on, loudly.
    g_summary += fmt("; WARNING: the ", core, " kernels DISAGREE with a double-precision sgemm (", c.detail,
                     ") and the preset cannot run on this CPU; results may be wrong: set OPENBLAS_CORETYPE to a "
                     "core type known to work here");
    setenv(kApplied, g_summary.c_str(), 1);
    return;
  }
  if (preset.empty())
    unsetenv("OPENBLAS_CORETYPE");
  else
    setenv("OPENBLAS_CORETYPE", preset.c_str(), 1);
  const std::string s = fmt("compute env: kept ", preset.empty() ? "OpenBLAS' own choice of kernels" : "OPENBLAS_CORETYPE=" + preset,
                            ": the ", core, " kernels distclust would switch to disagree with a double-precision sgemm (",
                            c.detail, c.max_error > 0 ? fmt(", max relative error ", c.max_error) : std::string(), ")");
  setenv(kApplied, s.c_str(), 1);
  reexec(argv);
}

}  // namespace

void prepare(int, char** argv) {
  if (env_or("DISTCLUST_KEEP_ENV", "") == "1") {
    g_summary = "compute env: kept as given (DISTCLUST_KEEP_ENV=1)";
    return;
  }
  if (const char* applied = std::getenv(kApplied)) {
    g_summary = applied;
    g_decision = std::strstr(applied, "OPENBLAS_CORETYPE") != nullptr;
    if (std::getenv(kVerify)) verify(argv);
    return;
  }
  setenv(kGiven, given_now().c_str(), 1);
  std::string changes;
  bool switched = false;  // OpenBLAS kernels other than the ones the environment asked for
  const std::string preset = env_or("OPENBLAS_CORETYPE", "");
  const char* forced = std::getenv("DISTCLUST_OPENBLAS_CORETYPE");
  if (forced && preset != forced) {
    setenv("OPENBLAS_CORETYPE", forced, 1);
    changes += fmt("OPENBLAS_CORETYPE=", forced, " (forced by DISTCLUST_OPENBLAS_CORETYPE)");
    switched = true;
  } else if (!forced && !preset.empty() &&
             (cpu_has_avx512() ? pre_avx512(preset) : needs_avx512(preset))) {
    // Replaced by the CPU's own type rather than removed: OpenBLAS' choice
    // on a CPU it does not know is Prescott (SSE3), slower still.
    const std::string want = cpu_core();
    if (want.empty() || strcasecmp(want.c_str(), preset.c_str()) == 0)
      unsetenv("OPENBLAS_CORETYPE");
    else
      setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
    const std::string now = want.empty() ? std::string(" removed") : " replaced by " + want;
    changes += cpu_has_avx512()
                   ? fmt("OPENBLAS_CORETYPE=", preset, now, " (the CPU has AVX-512; ", preset, " kernels use AVX2 at most)")
                   : fmt("OPENBLAS_CORETYPE=", preset, now, " (its kernels need AVX-512, which this CPU lacks)");
    switched = true;
  } else if (!forced && preset.empty()) {
    // OpenBLAS chose when it loaded (this process): kernels weaker than the
    // CPU mean it does not know the CPU.
    const std::string chose = blas::core_name(), want = cpu_core();
    if (!want.empty() && weaker_than(chose, want)) {
      setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
      changes += fmt("OPENBLAS_CORETYPE=", want, " (OpenBLAS chose ", chose, " kernels: it does not know this CPU, which has ",
                     want == "SkylakeX" ? "AVX-512" : "AVX2", ")");
      switched = true;
    }
  }
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changes += fmt(changes.empty() ? "" : "; ", "OMP_WAIT_POLICY=PASSIVE");
  }
  if (changes.empty()) {
    g_summary = "compute env: already suitable";
    return;
  }
  setenv(kApplied, ("compute env: " + changes).c_str(), 1);
  if (switched) {
    setenv(kVerify, "1", 1);
    setenv(kPreset, preset.c_str(), 1);
  }
  reexec(argv);
}

void flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}

int threads_flushing_denormals(int* of) {
  int n = 0, all = 0;
#pragma omp parallel reduction(+ : n, all)
  {
    ++all;
#if defined(__x86_64__) || defined(__i386__)
    n += (_mm_getcsr() & 0x8040) == 0x8040;
#endif
  }
  if (of) *of = all;
  return n;
}

std::string summary() { return g_summary; }
bool blas_decision_made() { return g_decision; }
std::string given() { return env_or(kGiven, given_now().c_str()); }

}  // namespace distclust::compute_env
