// `distclust run`: the whole job from one config (pipeline/run.h).
#include "cli/commands.h"
#include "cli/context.h"
#include "extract/extract.h"
#include "kmeans/kmeans.h"
#include "knn/knn.h"
#include "pipeline/run.h"
#include "scan/scan.h"

namespace distclust::cli {

namespace {

/// The keys a user sets most, with their true defaults (from the params
/// structs), and where the rest are.
std::string run_footer() {
  const ExtractParams e;
  const KMeansParams km;
  const KnnParams kn;
  const ScanParams sc;
  const RunParams r;
  auto row = [](const std::string& key, const std::string& type, const std::string& def, const std::string& doc) {
    std::string left = "  " + key + " " + type + (def.empty() ? "" : "=" + def);
    if (left.size() < 34) left.resize(34, ' ');
    return left + " " + doc + "\n";
  };
  return "\nKeys set most often (--set section.key=value, or in the --config YAML):\n" +
         row("extract.source", "PATH", e.source, "your images: a folder (class subfolders give labels), list, HDF5 or CIFAR file") +
         row("extract.backbone", "PATH", e.backbone, "TorchScript model (.pt + .json sidecar; tools/export_backbone.py) or 'pixels'") +
         row("extract.device", "TEXT", e.device, "auto|cpu|cuda") +
         row("kmeans.k", "INT", std::to_string(km.k), "k-means clusters") +
         row("scan.clusters", "INT", std::to_string(sc.clusters), "SCAN clusters") +
         row("scan.head", "TEXT", sc.head, "linear|mlp") +
         row("knn.mode", "TEXT", kn.mode, "exact|ivf (approximate, for millions of images)") +
         row("run.workdir", "PATH", r.workdir, "every output goes here") +
         "Every key with its default: `distclust config` (a YAML template) or README.md, \"Config reference\".\n"
         "Example:\n  distclust run --set extract.source=~/images --set extract.backbone=models/resnet18.pt \\\n"
         "    --set kmeans.k=20 --set scan.clusters=20 --set run.workdir=my-run\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  static CommandLine cl;
  static RunParams defaults;
  auto* cmd = app.add_subcommand("run", "The whole job from one config: extract -> kmeans -> knn -> scan -> eval -> export -> report");
  add_common(cmd, cl);
  cl.flags.add(cmd, "run", defaults);
  cmd->footer(run_footer());
  cmd->callback([] {
    Context ctx = make_context(cl, "run", /*uses_blas=*/true);
    RunParams rp;
    resolve(ctx, cl, "run", rp);
    run_pipeline(rp, ctx.config, ctx.runtime, *ctx.comm);
  });
}

}  // namespace distclust::cli
