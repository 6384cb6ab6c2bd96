// The stage table: every stage of the pipeline, in pipeline order, listed
// once. Subcommands (cli/main.cpp), `distclust run` (run.h), the known
// config sections (cli/context.cpp) and the config reference
// (cli/cmd_config.cpp) all iterate over it. Adding a stage: write its
// StageDef (core/stage.h) in its folder and add it here.
#pragma once

#include <string>
#include <vector>

#include "assign/assign.h"
#include "embed/embed_stage.h"
#include "eval/eval.h"
#include "export/export.h"
#include "extract/extract_stage.h"
#include "gmm/gmm_stage.h"
#include "kmeans/kmeans_stage.h"
#include "knn/knn_stage.h"
#include "report/report.h"
#include "scan/scan_stage.h"
#include "synth/synth_stage.h"

namespace distclust {

/// Calls f(def) for each stage's StageDef, in pipeline order.
template <class F>
void for_each_stage(F&& f) {
  f(synth_images_stage());
  f(extract_stage());
  f(kmeans_stage());
  f(gmm_stage());
  f(knn_stage());
  f(embed_stage());  // after knn: its graph. Before scan; stages that read its layout in a run follow run.stages' order
  f(scan_stage());
  f(eval_stage());
  f(export_stage());  // before report: the report links the export's CSV and folders
  f(report_stage());
  f(assign_stage());
}

/// The stage names, in pipeline order.
inline std::vector<std::string> stage_names() {
  std::vector<std::string> names;
  for_each_stage([&](const auto& def) { names.push_back(def.name); });
  return names;
}

}  // namespace distclust
