#include "eval/eval.h"

#include <cstdio>
#include <fstream>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "distclust/log.h"
#include "eval/metrics.h"

namespace distclust {

void EvalParams::validate() const {
  require(!pred.empty(), "eval.pred: no predictions file given (--pred kmeans.h5)");
  require(!labels.empty(), "eval.labels: no labels file given (--labels features.h5)");
}

std::string run_eval(const EvalParams& p, Communicator& comm) {
  std::string json;
  int64_t ok = 1;
  std::string err;
  if (comm.rank() == 0) {
    try {
      LocalCommunicator self;
      H5Reader pr(p.pred, self), lr(p.labels, self);
      require(lr.has("/labels"), p.labels, ": no /labels dataset, so there is nothing to score against");
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
        std::ofstream f(p.out);
        require(static_cast<bool>(f), "eval: cannot write ", p.out);
        f << json << "\n";
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

}  // namespace distclust
