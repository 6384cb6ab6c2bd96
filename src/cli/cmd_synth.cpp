// `distclust synth features|images`: generated data for demos, tests, benches.
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/context.h"
#include "distclust/log.h"
#include "synth/synth_features.h"
#include "synth/synth_images.h"

namespace distclust::cli {

void add_synth_commands(CLI::App& app) {
  auto* synth = app.add_subcommand("synth", "Generate synthetic data (features or images)");
  synth->require_subcommand(1);

  static CommandLine fcl;
  static SynthFeaturesParams fdefaults;
  auto* feat = synth->add_subcommand("features", "Gaussian mixture on the unit sphere -> features.h5 with /labels");
  add_common(feat, fcl);
  fcl.flags.add(feat, "synth_features", fdefaults);
  feat->callback([] {
    Context ctx = make_context(fcl, "synth_features", {"runtime", "synth_features"});
    SynthFeaturesParams p;
    resolve(ctx, fcl, "synth_features", p);
    FeatureBlock b = synth_features(p, ctx.comm->rank(), ctx.comm->size());
    write_features(p.out, *ctx.comm, b, p.half,
                   {{"backbone", "synthetic"}, {"config_hash", ctx.resolved.hash("synth_features")},
                    {"params", ctx.resolved.yaml()}});
    log::info("synth features: wrote ", p.out, " (", p.n, " x ", p.d, ", ", p.k, " classes, noise ", p.noise, ")");
  });

  static CommandLine icl;
  static SynthImagesParams idefaults;
  auto* img = synth->add_subcommand("images", "Procedural PNG images in class folders (visually distinct classes)");
  add_common(img, icl);
  icl.flags.add(img, "synth_images", idefaults);
  img->callback([] {
    Context ctx = make_context(icl, "synth_images", {"runtime", "synth_images"});
    SynthImagesParams p;
    resolve(ctx, icl, "synth_images", p);
    const int64_t total = int64_t(p.classes) * p.per_class;
    RowRange mine = row_block(total, ctx.comm->rank(), ctx.comm->size());
    int64_t written = ctx.comm->sum(synth_images(p, mine.begin, mine.end));
    log::info("synth images: wrote ", written, " PNGs (", p.classes, " classes x ", p.per_class, ", ", p.size, "x",
              p.size, ") to ", p.out);
  });
}

}  // namespace distclust::cli
