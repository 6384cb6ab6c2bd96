#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "distclust/log.h"
#include "distclust/runtime.h"
#include "embed/embed_stage.h"
#include "io/h5store.h"
#include "io/output_identity.h"

namespace distclust {
namespace {

/// knn.h5 records the identity of the features it was built from.
void check_knn_belongs(const EmbedParams& p, Communicator& comm) {
  std::string built, now;
  {
    H5Reader r(p.knn, comm);
    if (r.has_attr("features_config_hash")) built = r.attr_string("features_config_hash");
  }
  if (comm.rank() == 0) now = file_identity(p.features);
  comm.broadcast(now, 0);
  require(built.empty() || now.empty() || built == now, "embed: ", p.knn, " was built from features ", built, " but ",
          p.features, " is now ", now, ": the files do not belong together (rebuild ", p.knn, ")");
}

StageOutcome run_embed_stage(const EmbedParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "embed: no features given (--features features.h5)");
  require(!p.knn.empty(), "embed: no kNN graph given (--knn knn.h5, from `distclust knn`)");
  const auto t0 = std::chrono::steady_clock::now();
  check_knn_belongs(p, comm);
  FeatureBlock b = read_features(p.features, comm);
  check_finite(b, p.features, comm);
  // Every rank holds the whole layout twice at a checkpoint (the snapshot and the state).
  require_memory(2.0 * double(b.n_total) * p.dim * 4.0 + double(b.n_total),
                 fmt("embed: the layout of ", b.n_total, " rows x ", p.dim, " on every rank"));
  const std::vector<uint8_t> valid_all = comm.allgather(b.valid);
  FuzzyGraph g = read_fuzzy_graph(p.knn, b.n_total, b.rows, b.valid, comm);
  const int64_t edges = comm.sum(int64_t(g.cols.size()));
  log::info("embed: ", p.features, " (", b.n_total, " x ", b.d, ") with ", p.knn, " (k=", g.k, ", ", g.metric,
            "): ", edges / 2, " symmetric edges, ", p.dim, "-D, ", comm.size(), " ranks x ", compute_threads(),
            " threads");
  std::vector<float> y = pca_init(b, p.dim, g.metric == "cosine", uint64_t(p.seed), comm);
  std::vector<float>().swap(b.x);  // only labels, valid and rows are written back: memory N x D + the graph
  const double t_prep = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string ckpt = p.checkpoint_every > 0 ? checkpoint_path(p.out) : "";
  const double per_epoch = embed_layout(g, p, valid_all, y, comm, ckpt, cfg.hash);
  write_embedding(p.out, p.features, b, y, p.dim, cfg.yaml, cfg.hash, comm);
  if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("embed: wrote ", p.out, ": ", embed_epochs(p, b.n_total), " epochs, ", per_epoch,
            " s per epoch, graph and init ", t_prep, " s, ", secs, " s in all");
  return StageOutcome{{fmt("embed: ", b.n_total, " rows to ", p.dim, "-D, ", per_epoch, " s per epoch")}};
}

}  // namespace

const StageDef<EmbedParams>& embed_stage() {
  static const StageDef<EmbedParams> def{
      "embed",
      {"embed"},
      "UMAP-style embedding of the kNN graph across ranks -> embed.h5 (a features file)",
      "embed.h5",
      {"features", "knn", "out", "checkpoint_every", "force"},
      [](EmbedParams& p, const RunLayout& w) {
        p.features = w.features();
        p.knn = w.output_or("knn", "knn.h5");
        p.out = w.file("embed.h5");
      },
      [](const EmbedParams& p) { return p.out; },
      [](const EmbedParams& p) { return std::vector<std::string>{p.features, p.knn}; },
      nullptr,
      nullptr,
      run_embed_stage,
      /*precheck=*/nullptr,
      /*compute_hashed=*/false,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/[](const std::string& out) { return std::vector<std::string>{checkpoint_path(out)}; },
      /*uses_blas=*/false};
  return def;
}

}  // namespace distclust
