// `distclust bench extract`: extract images/s against the forward-only and
// decode-only rates of the same model and images (extract_bench.h).
#include <cstdio>

#include "cli/bench_output.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "kernels/compute_env.h"
#include "extract/extract_bench.h"
#include "distclust/log.h"
#include "distclust/runtime.h"

namespace distclust::cli {

void add_bench_extract_command(CLI::App& app) {
  CLI::App* bench = app.get_subcommand("bench");  // made by add_bench_commands
  static CommandLine cl;
  static ExtractParams edefaults;
  static BenchExtractParams bdefaults;
  auto* cmd = bench->add_subcommand(
      "extract",
      "Time extract against its limits: forward-only and decode+preprocess-only rates, same model/images; the timed "
      "extract run writes --out (replaced only if distclust wrote it, or with --force; never resumed)");
  add_common(cmd, cl);
  cl.flags.add(cmd, "extract", edefaults);
  cl.flags.add(cmd, "bench_extract", bdefaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "bench_extract", /*uses_blas=*/false);
    ExtractParams p;
    resolve(ctx, cl, "extract", p);
    BenchExtractParams b;
    resolve(ctx, cl, "bench_extract", b);
    require_bench_json_path("extract", b.json, {p.backbone, p.source, p.out}, *ctx.comm);
    BenchExtractResult r = bench_extract(p, b, *ctx.comm, load_torchscript_backbone);
    if (ctx.comm->rank() != 0) return;
    const double limit = std::min(r.forward, r.decode_all_cores);
    std::printf("bench extract: %lld images, %s\n", (long long)r.images, r.backbone.c_str());
    std::printf("  %-44s %10.1f images/s\n", fmt("(a) forward only, ", r.model_threads, " threads").c_str(), r.forward);
    std::printf("  %-44s %10.1f images/s\n", fmt("(b) decode+preprocess only, ", r.cores, " threads").c_str(),
                r.decode_all_cores);
    std::printf("  %-44s %10.1f images/s\n", fmt("    decode+preprocess, ", r.decode_threads, " threads").c_str(),
                r.decode_pipeline);
    std::printf("  %-44s %10.1f images/s (with model load and file set-up: %.1f)\n",
                fmt("extract, ", r.decode_threads, " decode + ", r.model_threads, " model threads").c_str(),
                r.extract, r.extract_wall);
    std::printf("  extract / min(a, b) = %.1f / %.1f = %.3f   peak RSS %.0f MiB\n", r.extract, limit, r.ratio,
                r.peak_rss_bytes / 1048576.0);
    print_bench_result(r.json(), b.json);
  });
}

}  // namespace distclust::cli
