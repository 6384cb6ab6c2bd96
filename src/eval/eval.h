// `distclust eval`: scores of a clustering (kmeans.h5 or scan.h5 /assign)
// against the labels of a features file.
#pragma once

#include <string>

#include "core/stage.h"
#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust eval` (YAML section `eval`).
struct EvalParams {
  std::string pred = "";    ///< predictions file with /assign [N] (kmeans.h5, scan.h5)
  std::string labels = "";  ///< features.h5 holding /labels [N] (-1 = unknown, ignored)
  bool json = false;        ///< print the scores as one JSON object instead of a table
  std::string out = "";     ///< also write the JSON to this file
  bool force = false;       ///< replace an existing --out that distclust did not write (io/replace_rule.h)
  template <class V> void visit(V& v) {
    v("pred", pred, "predictions file with /assign (kmeans.h5, scan.h5)");
    v("labels", labels, "features file with /labels");
    v("json", json, "print scores as JSON");
    v("out", out, "write the JSON scores to this file too");
    v("force", force, "replace an existing --out that distclust did not write");
  }
  void validate() const;
};

/// Runs eval on rank 0 (others wait); returns the JSON text. hash: the
/// config hash written into p.out beside the scores.
std::string run_eval(const EvalParams& p, Communicator& comm, const std::string& hash = "");

/// The eval stage (core/stage.h).
const StageDef<EvalParams>& eval_stage();

}  // namespace distclust
