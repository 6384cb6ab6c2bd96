#include "cli/context.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "cli/sections.h"
#include "kernels/blas.h"
#include "kernels/compute_env.h"
#include "kernels/compute_target.h"
#include "distclust/log.h"
#include "pipeline/stage_table.h"

namespace distclust::cli {

const std::vector<std::string>& all_sections() {
  static const std::vector<std::string> s = [] {
    std::vector<std::string> v = {"runtime", "run"};
    for (const auto& name : stage_names()) v.push_back(name);
    for (const char* other : {"synth_features", "bench_kmeans", "bench_knn", "bench_extract"}) v.push_back(other);
    return v;
  }();
  return s;
}

void add_common(CLI::App* app, CommandLine& cl) {
  app->add_option("--config", cl.config_path, "YAML config file (sections map to each stage's parameters)")
      ->type_name("PATH")
      ->group("Config");
  app->add_option("--set", cl.sets, "override: section.key=value (repeatable; bare key = this command's section)")
      ->type_name("KEY=VALUE")
      ->group("Config");
  cl.flags.add(app, "runtime", cl.runtime);
}

/// Ranks sharing a GPU share its memory: the LibTorch kernels' default
/// budget (40% of the GPU) is divided among them, or together they would
/// ask for 40% each and run out of memory.
void share_gpu_memory(const std::vector<std::string>& keys, int rank) {
  const int n = ranks_on_same_gpu(keys, rank);
  set_ranks_on_device(n);
  if (n > 1)
    log::info("compute: ", n, " ranks compute on ", compute_target().device, " (", keys[size_t(rank)],
              "): each kernel's default memory budget is 40% of the GPU / ", n);
}

/// comm auto on GPUs: the device buffers' collectives (k-means sums, SCAN
/// gradients, ring blocks) go over NCCL when every rank computes on a GPU
/// of its own. All ranks decide together (one rank without a GPU keeps MPI
/// for all: NCCL's set-up is collective); ranks sharing a GPU keep MPI
/// (NCCL refuses two ranks on one device). GPUs are told apart by host and
/// PCI bus id: counting visible devices said "shared" whenever
/// launch/distclust-rank or Slurm gave each rank one GPU of its own.
void upgrade_to_nccl(Context& ctx, const std::vector<std::string>& keys) {
  if (ctx.runtime.comm != "auto" || ctx.comm->name() != "mpi" || !nccl_built()) return;
  const ComputeTarget& t = compute_target();
  const int device = t.device_index();
  if (std::any_of(keys.begin(), keys.end(), [](const std::string& k) { return k.empty(); })) return;
  if (!one_gpu_per_rank(keys)) {
    log::info("comm: mpi (runtime.comm auto: ranks share a GPU, which NCCL refuses)");
    return;
  }
  ctx.comm = make_communicator(CommParams{"nccl", device});
  log::info("comm: nccl (runtime.comm auto: every rank computes on its own GPU)");
}

Context make_context(CommandLine& cl, const std::string& default_section, bool uses_blas) {
  Context ctx;
  ctx.config = Config::load(cl.config_path);
  for (const auto& s : cl.sets) ctx.config.add_override(s, default_section);
  ctx.config.check_sections(all_sections());
  // Every section's keys, not only those the command reads (the README:
  // an unknown key is an error; a typo elsewhere was silently ignored).
  each_section([&](auto params, const std::string& section, const std::string&) {
    ctx.config.check_keys(section, field_names(params));
  });
  ctx.runtime = RuntimeParams{};
  ctx.config.apply_yaml("runtime", ctx.runtime);
  cl.flags.apply("runtime", ctx.runtime);
  ctx.config.apply_overrides("runtime", ctx.runtime);
  ctx.runtime.validate();
  ctx.resolved.add("runtime", ctx.runtime);
  // comm nccl is made once the compute target says which GPU its buffers
  // are on (runtime.device cuda:N); MPI until then.
  ctx.comm = make_communicator(CommParams{ctx.runtime.comm == "nccl" ? "mpi" : ctx.runtime.comm});
  log::set_identity(ctx.comm->rank(), ctx.comm->size());
  ensure_open_files();
  if (!ctx.runtime.log_dir.empty()) log::open_rank_file(ctx.runtime.log_dir);
  // Test hook: make one rank fail, to check that the whole job ends.
  if (const char* r = std::getenv("DISTCLUST_TEST_FAIL_RANK"); r && std::atoi(r) == ctx.comm->rank())
    throw Error(fmt("injected failure (DISTCLUST_TEST_FAIL_RANK) on ", where()));
  int threads = configure_threads(ctx.runtime.threads, ctx.comm->local_size(), cl.report_bad_env);
  set_compute_target(ctx.runtime, ctx.comm->local_rank());
  const std::vector<std::string> keys = gather_gpu_keys(*ctx.comm, compute_target().device_index());
  share_gpu_memory(keys, ctx.comm->rank());
  if (ctx.runtime.comm == "nccl") {
    ctx.comm = make_communicator(CommParams{"nccl", compute_target().device_index()});
  }
  upgrade_to_nccl(ctx, keys);
  // A decision about the BLAS kernels is worth a line on the terminal; the
  // rest of the environment only in the logs.
  const std::string env = fmt(compute_env::summary(), "; comm=", ctx.comm->name(), " ranks=", ctx.comm->size(),
                              " threads/rank=", threads, " (from ", compute_threads_from(), "); compute ", compute_target().describe());
  if (compute_env::blas_decision_made())
    log::info(env);
  else
    log::debug(env);
  // ulimit -v (a login shell's, which Slurm propagates): past it OpenBLAS
  // retries its per-thread buffers for ever and the job stalls, where the
  // batch system's memory limit (a cgroup) would end it with a reason.
  // Every rank's (a limit may be set on some nodes only): the smallest, said once.
  const double as = address_space_limit_bytes();
  const double smallest = -ctx.comm->max(-(as > 0 ? as : 1e300));
  if (smallest < 1e300 && ctx.comm->rank() == 0)
    log::warn(as > 0 && as == smallest ? "this process's" : "a rank's", " address space is limited to ",
              smallest / double(1 << 30), " GiB (ulimit -v): OpenBLAS and LibTorch reserve address space per thread; ",
              "lift it (ulimit -v unlimited) and let the batch system's memory limit (Slurm --mem) hold the job");
  // Under the limit, OpenBLAS's buffers are mapped now, while the process is
  // small: mapped later, one that did not fit was retried for ever (kmeans
  // of 200,000 x 64 under 0.76 GiB stalled in blas_memory_alloc). Refused by
  // name here when they cannot fit at all; a rank alone ends the job.
  // Commands that never call OpenBLAS (env, the one a user runs to see
  // why; extract, whose PCA is Eigen's) are not held to its buffers.
  if (as > 0 && uses_blas) {
    require_memory(blas::buffers_need(threads),
                   fmt("OpenBLAS's work buffers and the threads that use them (", threads, " compute threads x ",
                       blas::kBufferBytes / (1 << 20), " MiB",
                       threads > 1 ? fmt(", and ", blas::kThreadBytes / (1 << 20), " MiB of heap for each thread "
                                         "beyond the first")
                                   : std::string(),
                       "; runtime.threads sets the threads)"));
    log::debug("OpenBLAS buffers mapped under ulimit -v: ", blas::map_buffers(threads) / (1 << 20), " MiB");
  }
  return ctx;
}

}  // namespace distclust::cli
