// `distclust env`: the compute environment this process runs under: the
// BLAS/OpenMP variables as given, what distclust changed and checked
// (kernels/compute_env.h), the OpenBLAS library and core type, threads, the
// compute target (runtime.device) and what the LibTorch plugin can do.
#include <cstdio>

#include "cli/commands.h"
#include "cli/context.h"
#include "comm/collective_watch.h"
#include "comm/heartbeat.h"
#include "kernels/blas.h"
#include "kernels/compute_env.h"
#include "kernels/compute_target.h"
#include "distclust/error.h"

namespace distclust::cli {
namespace {

/// One line for a time limit read from the environment: `said(seconds)`, or
/// the error of a bad value, reported rather than fatal: `env` is where a
/// user looks first.
template <class Said>
void print_limit(const char* label, double (*seconds)(), Said said) {
  std::string text;
  try {
    text = said(seconds());
  } catch (const Error& e) {
    text = fmt(e.what(), ": a job with several ranks is refused");
  }
  std::printf("%-13s%s\n", label, text.c_str());
}

}  // namespace

void add_env_command(CLI::App& app) {
  static CommandLine cl;
  auto* cmd = app.add_subcommand("env", "Print the compute environment: BLAS library and core type, what distclust "
                                        "changed or checked in it, threads per rank, compute device, LibTorch and GPUs");
  add_common(cmd, cl);
  cmd->callback([] {
    cl.report_bad_env = true;
    Context ctx = make_context(cl, "runtime", /*uses_blas=*/false);
    if (ctx.comm->rank() != 0) return;
    std::printf("given:       %s\n", compute_env::given().c_str());
    std::printf("%s\n", compute_env::summary().c_str());
    std::printf("BLAS:        %s\n", blas::describe().c_str());
    std::printf("CPU:         AVX-512 %s, AVX2 %s\n", __builtin_cpu_supports("avx512f") ? "yes" : "no",
                __builtin_cpu_supports("avx2") ? "yes" : "no");
    std::printf("threads:     %d OpenMP threads per rank (from %s) x %d ranks; OpenBLAS: one thread per call\n",
                compute_threads(), compute_threads_from(), ctx.comm->size());
    if (!compute_threads_problem().empty())
      std::printf("             not counted: %s: every other command refuses to start\n",
                  compute_threads_problem().c_str());
    int all = 0;
    const int flushing = compute_env::threads_flushing_denormals(&all);
    std::printf("denormals:   flushed to zero (FTZ/DAZ) on %d of %d OpenMP threads\n", flushing, all);
    std::printf("comm:        %s, %d rank(s)\n", ctx.comm->name().c_str(), ctx.comm->size());
    print_limit("heartbeat:", heartbeat_timeout_seconds, [](double s) {
      return s > 0 ? fmt("with several ranks, a rank silent for ", s, " s (stopped) ends the job "
                         "(DISTCLUST_HEARTBEAT_TIMEOUT)")
                   : std::string("off (DISTCLUST_HEARTBEAT_TIMEOUT=0): a stopped rank holds the others");
    });
    print_limit("collectives:", collective_timeout_seconds, [](double s) {
      return s > 0 ? fmt("with several ranks, a call waiting ", s, " s for the others (a stuck rank) ends the job (",
                         collective_timeout_variable(), ")")
                   : fmt("no time limit (", collective_timeout_variable(), "=0): a stuck rank holds the others");
    });
    std::printf("compute:     %s (runtime.device=%s, kernels=%s)\n", compute_target().describe().c_str(),
                ctx.runtime.device.c_str(), ctx.runtime.kernels.c_str());
    // Loading the plugin costs ~0.4 s, which `env` may spend: what LibTorch
    // can do here is what a user checking a GPU build wants to see.
    try {
      const TorchInfo t = torch_info();
      std::printf("LibTorch:    %s, CUDA %s, %d GPU(s) visible%s%s\n", t.version.c_str(),
                  t.cuda_built ? "built" : "not built", t.cuda_devices, t.devices.empty() ? "" : ": ",
                  t.devices.c_str());
    } catch (const Error& e) {
      std::printf("LibTorch:    plugin not loaded: %s\n", e.what());
    }
  });
}

}  // namespace distclust::cli
