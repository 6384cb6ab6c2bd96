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

void add_env_command(CLI::App& app) {
  static CommandLine cl;
  auto* cmd = app.add_subcommand("env", "Print the compute environment: BLAS library and core type, what distclust "
                                        "changed or checked in it, threads per rank, compute device, LibTorch and GPUs");
  add_common(cmd, cl);
  cmd->callback([] {
    Context ctx = make_context(cl, "runtime");
    if (ctx.comm->rank() != 0) return;
    std::printf("given:       %s\n", compute_env::given().c_str());
    std::printf("%s\n", compute_env::summary().c_str());
    std::printf("BLAS:        %s\n", blas::describe().c_str());
    std::printf("CPU:         AVX-512 %s, AVX2 %s\n", __builtin_cpu_supports("avx512f") ? "yes" : "no",
                __builtin_cpu_supports("avx2") ? "yes" : "no");
    std::printf("threads:     %d OpenMP threads per rank (from %s) x %d ranks; OpenBLAS: one thread per call\n",
                compute_threads(), compute_threads_from(), ctx.comm->size());
    int all = 0;
    const int flushing = compute_env::threads_flushing_denormals(&all);
    std::printf("denormals:   flushed to zero (FTZ/DAZ) on %d of %d OpenMP threads\n", flushing, all);
    std::printf("comm:        %s, %d rank(s)\n", ctx.comm->name().c_str(), ctx.comm->size());
    // A bad value is reported, not fatal: `env` is where a user looks first.
    try {
      const double beat = heartbeat_timeout_seconds();
      if (beat > 0)
        std::printf("heartbeat:   with several ranks, a rank silent for %g s (stopped) ends the job "
                    "(DISTCLUST_HEARTBEAT_TIMEOUT)\n", beat);
      else
        std::printf("heartbeat:   off (DISTCLUST_HEARTBEAT_TIMEOUT=0): a stopped rank holds the others\n");
    } catch (const Error& e) {
      std::printf("heartbeat:   %s: a job with several ranks is refused\n", e.what());
    }
    try {
      const double wait = collective_timeout_seconds();
      if (wait > 0)
        std::printf("collectives: with several ranks, a call waiting %g s for the others (a stuck rank) ends the "
                    "job (%s)\n", wait, collective_timeout_variable());
      else
        std::printf("collectives: no time limit (%s=0): a stuck rank holds the others\n", collective_timeout_variable());
    } catch (const Error& e) {
      std::printf("collectives: %s: a job with several ranks is refused\n", e.what());
    }
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
