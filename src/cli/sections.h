// Every config section with its params struct, in pipeline order: what
// `distclust config` prints and what every command checks a config's keys
// against (cli/context.cpp).
#pragma once

#include <string>
#include <type_traits>

#include "cli/bench_params.h"
#include "distclust/runtime.h"
#include "extract/extract_bench.h"
#include "pipeline/run.h"
#include "pipeline/stage_table.h"
#include "synth/synth_features.h"

namespace distclust::cli {

/// f(Params{}, section, "the commands that read it") for every section.
template <class F>
void each_section(F&& f) {
  f(RuntimeParams{}, "runtime", "every command");
  f(RunParams{}, "run", "`distclust run`");
  for_each_stage([&](const auto& def) {
    std::string cmd;
    for (const auto& c : def.command) cmd += " " + c;
    f(typename std::decay_t<decltype(def)>::Params{}, def.name,
      "`distclust" + cmd + "`; the run stage " + def.name + (def.name == "extract" ? "; `distclust bench extract`" : ""));
  });
  f(SynthFeaturesParams{}, "synth_features", "`distclust synth features`");
  f(BenchKMeansParams{}, "bench_kmeans", "`distclust bench kmeans`");
  f(BenchKnnParams{}, "bench_knn", "`distclust bench knn`");
  f(BenchExtractParams{}, "bench_extract", "`distclust bench extract`");
}

}  // namespace distclust::cli
