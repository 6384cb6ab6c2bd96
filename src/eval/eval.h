// `distclust eval`: scores of a clustering (kmeans.h5 or scan.h5 /assign)
// against the labels of a features file; with --compare, of several
// clusterings side by side (scores.json "methods": one object per method,
// the top-level keys stay those of --pred).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/stage.h"
#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust eval` (YAML section `eval`).
struct EvalParams {
  std::string pred = "";    ///< predictions file with /assign [N] (kmeans.h5, scan.h5)
  std::string labels = "";  ///< features.h5 holding /labels [N] (-1 = unknown, ignored)
  bool json = false;        ///< print the scores as one JSON object instead of a table
  std::string out = "";     ///< also write the JSON to this file
  /// Clusterings scored side by side, "NAME=FILE,NAME=FILE" (each file with
  /// /assign [N]); scores.json gets "methods": {"NAME": {acc, nmi, ari, ...}}.
  /// A run lists every clustering it makes (RunLayout::clusterings()).
  std::string compare = "";
  bool force = false;       ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)
  template <class V> void visit(V& v) {
    v("pred", pred, "predictions file with /assign (kmeans.h5, scan.h5)");
    v("labels", labels, "features file with /labels");
    v("json", json, "print scores as JSON");
    v("out", out, "write the JSON scores to this file too");
    v("compare", compare,
      "clusterings scored side by side with --pred (still needed: its scores come first), NAME=FILE,... (scores.json: methods; a run: each clustering it makes)");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// A list of methods "NAME=FILE,NAME=FILE" as (name, file) pairs, in order;
/// throws naming `where` on an entry without '=', an empty name or file, or
/// a name given twice. "" = none.
std::vector<std::pair<std::string, std::string>> parse_methods(const std::string& list, const std::string& where);

/// Runs eval on rank 0 (others wait); returns the JSON text. hash: the
/// config hash written into p.out beside the scores.
std::string run_eval(const EvalParams& p, Communicator& comm, const std::string& hash = "");

/// The eval stage (core/stage.h).
const StageDef<EvalParams>& eval_stage();

}  // namespace distclust
