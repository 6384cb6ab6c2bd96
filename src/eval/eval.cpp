#include "eval/eval.h"

#include <cstdio>
#include <fstream>

#include "comm/local_comm.h"
#include "comm/root.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "io/text_file.h"
#include "distclust/log.h"
#include "eval/metrics.h"

namespace distclust {

void EvalParams::validate() const {
  require(!pred.empty(), "eval.pred: no predictions file given (--pred kmeans.h5)");
  require(!labels.empty(), "eval.labels: no labels file given (--labels features.h5)");
}

std::string run_eval(const EvalParams& p, Communicator& comm, const std::string& hash) {
  std::string json;
  int64_t ok = 1;
  std::string err;
  if (comm.rank() == 0) {
    try {
      LocalCommunicator self;
      H5Reader pr(p.pred, self), lr(p.labels, self);
      require(lr.has("/labels"), p.labels, ": no /labels dataset, so there is nothing to score against");
      const DatasetInfo ai = pr.info("/assign");
      require(ai.integer() && ai.shape.size() == 1, p.pred, ": /assign is ", ai.describe(),
              ": expected one integer cluster number per row (a float would be truncated)");
      auto pred = pr.read_all<int64_t>("/assign");
      auto truth = lr.read_all<int64_t>("/labels");
      require(pred.size() == truth.size(), p.pred, ": /assign has ", pred.size(), " rows but ", p.labels,
              ": /labels has ", truth.size());
      Scores s = score(truth, pred);
      char num[128];
      std::snprintf(num, sizeof(num), "\"acc\": %.17g, \"nmi\": %.17g, \"ari\": %.17g", s.acc, s.nmi, s.ari);
      json = fmt("{", num, ", \"n\": ", s.n,
                 ", \"clusters\": ", s.clusters, ", \"classes\": ", s.classes,
                 ", \"acc_mapping\": \"", s.many_to_one ? "many-to-one" : "hungarian", "\"}");
      if (p.json) {
        std::printf("%s\n", json.c_str());
      } else {
        std::printf("ACC %.4f  NMI %.4f  ARI %.4f  (%lld labelled rows, %d clusters, %d classes, ACC by %s)\n",
                    s.acc, s.nmi, s.ari, static_cast<long long>(s.n), s.clusters, s.classes,
                    s.many_to_one ? "many-to-one majority" : "Hungarian matching");
      }
      std::fflush(stdout);
      if (!p.out.empty()) {
        // The file also names the config hash it was made with (`run` reads it back).
        const std::string text = hash.empty() ? json : json.substr(0, json.size() - 1) + ", \"config_hash\": \"" + hash + "\"}";
        write_text_file(p.out, text + "\n");
      }
    } catch (const Error& e) {
      ok = 0;
      err = e.what();
    }
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (!ok) {
    if (comm.rank() == 0) throw Error(err);
    throw Error("eval failed on rank 0");
  }
  return json;
}

const StageDef<EvalParams>& eval_stage() {
  static const StageDef<EvalParams> def{
      "eval",
      {"eval"},
      "Score predictions (ACC by Hungarian matching, NMI, ARI) against labels",
      "scores.json",
      {"pred", "labels", "out", "json", "force"},
      [](EvalParams& p, const RunLayout& w) {
        p.pred = w.predictions();
        p.labels = w.features();
        p.out = w.file("scores.json");
        p.json = false;
      },
      [](const EvalParams& p) { return p.out; },
      [](const EvalParams& p) { return std::vector<std::string>{p.pred, p.labels}; },
      nullptr,
      [](const EvalParams& p, Communicator& comm) {
        // A run on unlabelled images has nothing to score: not an error there.
        int64_t labelled = 0;
        run_on_root(comm, "reading the labels", [&] {
          LocalCommunicator self;
          H5Reader r(p.labels, self);
          if (r.has("/labels"))
            for (int64_t l : r.read_all<int64_t>("/labels")) labelled |= l >= 0;
        });
        comm.broadcast(&labelled, sizeof(labelled), 0);
        return labelled ? std::string() : p.labels + " has no labels, nothing to score";
      },
      [](const EvalParams& p, Communicator& comm, const StageConfig& cfg) {
        run_eval(p, comm, cfg.hash);
        return StageOutcome{};
      }};
  return def;
}

}  // namespace distclust
