#include "eval/eval.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "comm/local_comm.h"
#include "comm/root.h"
#include "core/json.h"
#include "core/stop_note.h"
#include "distclust/error.h"
#include "eval/score_text.h"
#include "io/rows_identity.h"
#include "io/h5store.h"
#include "io/row_columns.h"
#include "io/input_watch.h"
#include "io/text_file.h"
#include "distclust/log.h"
#include "eval/metrics.h"

namespace distclust {

void EvalParams::validate() const {
  require(!pred.empty(), "eval.pred: no predictions file given (--pred kmeans.h5)");
  require(!labels.empty(), "eval.labels: no labels file given (--labels features.h5)");
  parse_methods(compare, "eval.compare");
}

std::vector<std::pair<std::string, std::string>> parse_methods(const std::string& list, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while (at < list.size()) {
    size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(at, end - at);
    const size_t eq = item.find('=');
    require(eq != std::string::npos && eq > 0 && eq + 1 < item.size(), where, ": '", item,
            "' is not NAME=FILE (e.g. kmeans=run/kmeans.h5)");
    const std::string name = item.substr(0, eq);
    for (const auto& m : out) require(m.first != name, where, ": method '", name, "' given twice");
    out.emplace_back(name, item.substr(eq + 1));
    at = end + 1;
  }
  return out;
}

namespace {

/// /assign of a predictions file, checked against the label count.
std::vector<int64_t> read_assign(const std::string& path, size_t rows, const std::string& labels) {
  LocalCommunicator self;
  H5Reader pr(path, self);
  const DatasetInfo ai = pr.info("/assign");
  require(ai.integer() && ai.shape.size() == 1, path, ": /assign is ", ai.describe(),
          ": expected one integer cluster number per row (a float would be truncated)");
  auto pred = pr.read_all<int64_t>("/assign");
  require(pred.size() == rows, path, ": /assign has ", pred.size(), " rows but ", labels, ": /labels has ", rows);
  require_codes(pred, path + ": /assign", kClusterRule);
  // A file that declares its clusters (kmeans.h5's centroids, scan.h5's
  // and gmm.h5's probabilities) and assigns a row to none of them is
  // damaged: report and export refuse it too (report/clustering.cpp), and
  // its scores would count a cluster that is not.
  if (const int64_t k = declared_clusters(pr); k > 0)
    for (size_t i = 0; i < pred.size(); ++i)
      require(pred[i] < k, path, ": /assign[", i, "] = ", pred[i], " but the file declares ", k, " clusters");
  // Labels in a features file: it must hold the rows the predictions were
  // made from (a labels-only file is not judged: io/rows_identity.h).
  require_same_rows(path, labels, "eval");
  return pred;
}

/// The scores as the members of a JSON object (no braces).
std::string score_members(const Scores& s) {
  char num[128];
  std::snprintf(num, sizeof(num), "\"acc\": %.17g, \"nmi\": %.17g, \"ari\": %.17g", s.acc, s.nmi, s.ari);
  return fmt(num, ", \"n\": ", s.n, ", \"clusters\": ", s.clusters, ", \"classes\": ", s.classes,
             ", \"acc_mapping\": \"", s.many_to_one ? "many-to-one" : "hungarian", "\"");
}

}  // namespace

std::string run_eval(const EvalParams& p, Communicator& comm, const std::string& hash) {
  std::string json;
  int64_t ok = 1;
  std::string err;
  if (comm.rank() == 0) {
    try {
      LocalCommunicator self;
      H5Reader lr(p.labels, self);
      require(lr.has("/labels"), p.labels, ": no /labels dataset, so there is nothing to score against");
      // As every stage reads it (io/row_columns.h): integers, [N] or [N x 1].
      auto truth = read_all_labels(lr);
      // -1 is "unknown"; another negative number was dropped silently as one.
      require_codes(truth, p.labels + ": /labels", kLabelRule);
      require(std::any_of(truth.begin(), truth.end(), [](int64_t v) { return v >= 0; }), p.labels,
              ": /labels has no known class (all ", truth.size(), " rows are -1): nothing to score "
              "(a folder without class subfolders gives no labels)");
      Scores s = score(truth, read_assign(p.pred, truth.size(), p.labels));
      // Each method side by side, in the order given (the top-level keys stay --pred's).
      std::string methods, lines;
      for (const auto& [name, file] : parse_methods(p.compare, "eval.compare")) {
        const Scores m = file == p.pred ? s : score(truth, read_assign(file, truth.size(), p.labels));
        methods += fmt(methods.empty() ? "" : ", ", json::quote(name), ": {", score_members(m), ", \"pred\": ",
                       json::quote(file), "}");
        char head[64];
        std::snprintf(head, sizeof head, "  %-8s ", name.c_str());
        lines += fmt(head, "ACC ", score_text(m.acc, 4), "  NMI ", score_text(m.nmi, 4), "  ARI ", score_text(m.ari, 4),
                     "  (", m.clusters, " clusters)\n");
      }
      json = fmt("{", score_members(s), methods.empty() ? "" : ", \"methods\": {" + methods + "}", "}");
      if (p.json) {
        std::printf("%s\n", json.c_str());
      } else {
        std::printf("ACC %s  NMI %s  ARI %s  (%lld labelled rows, %d clusters, %d classes, ACC by %s)\n",
                    score_text(s.acc, 4).c_str(), score_text(s.nmi, 4).c_str(), score_text(s.ari, 4).c_str(),
                    static_cast<long long>(s.n), s.clusters, s.classes,
                    s.many_to_one ? "many-to-one majority" : "Hungarian matching");
        if (!lines.empty()) std::printf("side by side:\n%s", lines.c_str());
      }
      std::fflush(stdout);
      if (!p.out.empty()) {
        // The file also names the config hash it was made with (`run` reads it back).
        const std::string text = hash.empty() ? json : json.substr(0, json.size() - 1) + ", \"config_hash\": \"" + hash + "\"}";
        // An input replaced while eval ran (io/input_watch.h).
        if (const std::string changed = changed_inputs_here(); !changed.empty())
          throw Error(fmt(changed, "; ", p.out, " was not written (run the stage again)"));
        write_text_file(p.out, text + "\n");
        stop_note_committed(p.out);  // a stop now is after it (until the next stage starts)
      }
    } catch (const Error& e) {
      ok = 0;
      err = e.what();
    }
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (!ok) {
    if (comm.rank() == 0) throw Error(err);
    throw EchoError("eval failed on rank 0");
  }
  return json;
}

const StageDef<EvalParams>& eval_stage() {
  static const StageDef<EvalParams> def{
      "eval",
      {"eval"},
      "Score predictions against labels: ACC (Hungarian one-to-one matching; with more clusters than classes, "
      "each cluster's majority class: acc_mapping says which), NMI, ARI",
      "scores.json",
      {"pred", "labels", "out", "json", "compare", "force"},
      [](EvalParams& p, const RunLayout& w) {
        p.pred = w.predictions();
        p.labels = w.features();
        p.out = w.file("scores.json");
        p.json = false;
        p.compare = w.clusterings();
      },
      [](const EvalParams& p) { return p.out; },
      [](const EvalParams& p) {
        std::vector<std::string> in{p.pred, p.labels};
        for (const auto& m : parse_methods(p.compare, "eval.compare")) in.push_back(m.second);
        return in;
      },
      nullptr,
      [](const EvalParams& p, Communicator& comm) {
        // A run on unlabelled images has nothing to score: not an error there.
        int64_t labelled = 0;
        run_on_root(comm, "reading the labels", [&] {
          LocalCommunicator self;
          H5Reader r(p.labels, self);
          for (int64_t l : read_all_labels(r)) labelled |= l >= 0;
        });
        comm.broadcast(&labelled, sizeof(labelled), 0);
        return labelled ? std::string() : p.labels + " has no labels, nothing to score";
      },
      [](const EvalParams& p, Communicator& comm, const StageConfig& cfg) {
        run_eval(p, comm, cfg.hash);
        return StageOutcome{};
      },
      nullptr,  // precheck
      false,    // compute_hashed
      true,     // out_optional: without --out eval prints its scores only
      nullptr,  // optional_inputs
      nullptr,  // checkpoints
      false};   // uses_blas
  return def;
}

}  // namespace distclust
