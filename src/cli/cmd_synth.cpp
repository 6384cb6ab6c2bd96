// `distclust synth features`: a Gaussian mixture on the unit sphere as a
// features file, for demos, tests and benchmarks. (`synth images` is a
// stage: synth/synth_stage.h.)
#include "cli/commands.h"
#include "cli/context.h"
#include "distclust/log.h"
#include "io/output_lock.h"
#include "io/replace_rule.h"
#include "synth/synth_features.h"

namespace distclust::cli {

void add_synth_commands(CLI::App& app) {
  auto* synth = app.add_subcommand("synth", "Generate synthetic data (features or images)");
  synth->require_subcommand(1);
  static CommandLine cl;
  static SynthFeaturesParams defaults;
  auto* feat = synth->add_subcommand("features", "Gaussian mixture on the unit sphere -> features.h5 with /labels");
  add_common(feat, cl);
  cl.flags.add(feat, "synth_features", defaults);
  feat->callback([] {
    Context ctx = make_context(cl, "synth_features", /*uses_blas=*/false);
    SynthFeaturesParams p;
    resolve(ctx, cl, "synth_features", p);
    // The rules every stage's output follows (pipeline/stage_config.h's run_stage).
    require_output_name("synth_features.out", p.out);
    require_not_directory(p.out);
    OutputLock::require_no_run_in(p.out, *ctx.comm);
    OutputLock lock(OutputLock::path_for(p.out), "output " + p.out, *ctx.comm);
    require_replaceable("synth features", p.out, p.force, *ctx.comm);
    FeatureBlock b = synth_features(p, ctx.comm->rank(), ctx.comm->size());
    write_features(p.out, *ctx.comm, b, p.half,
                   {{"backbone", "synthetic"}, {"config_hash", config_hash(p, {"out", "force"}, "")},
                    {"params", ctx.resolved.yaml()}});
    log::info("synth features: wrote ", p.out, " (", p.n, " x ", p.d, ", ", p.k, " classes, noise ", p.noise, ")");
  });
}

}  // namespace distclust::cli
