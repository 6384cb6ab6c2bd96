#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/fault.h"
#include "distclust/error.h"
#include "kernels/compute_target.h"
#include "distclust/log.h"
#include "kmeans/kmeans_file.h"
#include "kmeans/kmeans_sweep.h"
#include "distclust/runtime.h"
#include "kmeans/kmeans_stage.h"
#include "extract/row_centre.h"
#include "distclust/search.h"

namespace distclust {
namespace {

/// The checkpoint of one K of a sweep: beside the stage's, one per K.
std::string sweep_checkpoint(const std::string& ckpt, int k) { return ckpt.empty() ? ckpt : fmt(ckpt, ".k", k); }

/// Every K's checkpoint beside `ckpt` (any sweep's K list): CKPT.kK files.
std::vector<std::string> sweep_checkpoints(const std::string& ckpt) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path dir = fs::path(ckpt).parent_path().empty() ? fs::path(".") : fs::path(ckpt).parent_path();
  const std::string prefix = fs::path(ckpt).filename().string() + ".k";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

/// k-means at each K of p.sweep; returns the fit at the K of best sampled
/// silhouette. Each K checkpoints as a single fit does (ckpt.kK, kept until
/// the sweep's output is written): a killed sweep resumes inside the K it
/// was fitting, and a finished K costs one assignment pass and its
/// silhouette on resume, so the result is the uninterrupted one.
KMeansResult run_sweep(FeatureBlock& b, const KMeansParams& p, Communicator& comm, SearchKernel& kernel,
                       KMeansSweep& sweep, const std::string& ckpt, const std::string& hash) {
  const std::vector<int> ks = parse_sweep("kmeans.sweep", p.sweep);
  // Every K checked before the first fit: --k 3,301 on 300 rows fitted K=3,
  // then failed on 301, leaving K=3's checkpoint behind.
  const int64_t n_valid = count_valid(b, comm);
  for (int k : ks)
    require(k <= n_valid, "kmeans: sweep K=", k, " exceeds the number of valid rows (", n_valid, " of ", b.n_total, ")");
  KMeansResult best;
  double best_sil = -2;
  sweep.sample = p.sweep_sample;
  sweep.valid_rows = n_valid;
  int64_t done = 0;
  for (int k : ks) {
    const auto t0 = std::chrono::steady_clock::now();
    KMeansParams q = p;
    q.k = k;
    q.sweep.clear();
    KMeansResult r = kmeans(b, q, comm, kernel, sweep_checkpoint(ckpt, k), fmt(hash, "/k=", k));
    const double sil = sampled_silhouette(b, r.assign, p.sweep_sample, uint64_t(p.seed), comm);
    sweep.k.push_back(k);
    sweep.inertia.push_back(r.final_inertia);
    sweep.silhouette.push_back(sil);
    const std::string rows = sweep_rows_text(p.sweep_sample, n_valid);
    log::info("kmeans sweep: K=", k, ": inertia ", r.final_inertia, ", silhouette ", sil, " (", rows, "), ",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
    if (sil > best_sil) best_sil = sil, best = std::move(r), sweep.suggested_k = k;  // ties: the smaller K
    fault_point("DISTCLUST_FAULT_AFTER_SWEEP_KS", ++done, &comm);
  }
  log::info("kmeans sweep: suggested K=", sweep.suggested_k, " (best silhouette ", best_sil,
            "); its fit is the one written");
  return best;
}

double run_kmeans_stage(const KMeansParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "kmeans: no input given (--features features.h5)");
  auto t0 = std::chrono::steady_clock::now();
  FeatureBlock b = read_features(p.features, comm);
  check_finite(b, p.features, comm, p.spherical ? "" : "kmeans");
  // L2 distances of rows far from the origin (extract/row_centre.h); the
  // checkpoints of uncentred rows are not resumed (their own key).
  if (!p.spherical) centre_far_rows(b, comm, "kmeans");
  const std::string key = b.centre.empty() ? cfg.hash : cfg.hash + ";centred";
  // `--k 20 --sweep 5:50` (or a config's k beside a sweep): the sweep picks K.
  if (!p.sweep.empty() && p.k != KMeansParams{}.k)
    log::warn_once("kmeans.k=", p.k, " is ignored: kmeans.sweep ", p.sweep, " chooses K (its best silhouette)");
  log::info("kmeans: ", p.features, ": ", b.n_total, " x ", b.d, ", ", p.sweep.empty() ? fmt("k=", p.k) : "K sweep " + p.sweep, ", ", comm.size(), " ranks x ",
            compute_threads(), " threads");
  auto kernel = make_search({p.tile_rows, p.tile_k});
  std::string ckpt = p.checkpoint ? checkpoint_path(p.out) : "";
  KMeansSweep sweep;
  KMeansResult r = p.sweep.empty() ? kmeans(b, p, comm, *kernel, ckpt, key)
                                    : run_sweep(b, p, comm, *kernel, sweep, ckpt, key);
  write_kmeans(p.out, comm, b, rows_identity(p.features, comm), r, cfg.yaml, cfg.hash, p.sweep.empty() ? nullptr : &sweep);
  if (!ckpt.empty() && comm.rank() == 0) remove_checkpoints(kmeans_stage(), p.out);  // and every K's of a sweep
  std::vector<int64_t> sizes(size_t(r.k), 0);
  for (auto a : r.assign)
    if (a >= 0) ++sizes[a];
  comm.allreduce_sum(sizes.data(), sizes.size());
  auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
  // No split can fill a cluster when the data has fewer distinct rows than k.
  // The sizes are global: said once, by rank 0 (every rank said it).
  if (const auto empty = std::count(sizes.begin(), sizes.end(), int64_t(0)); empty > 0 && comm.rank() == 0)
    log::warn("kmeans: ", empty, " of ", r.k, " clusters are empty (the data may hold fewer distinct rows than k=",
              r.k, ")");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("kmeans: wrote ", p.out, ": inertia ", r.final_inertia, " after ", r.iterations, " iterations (restart ",
            r.best_restart, "), cluster sizes ", *mn, "..", *mx, ", ", r.empty_splits, " empty-cluster splits, ", secs,
            " s");
  return r.final_inertia;
}

}  // namespace

const StageDef<KMeansParams>& kmeans_stage() {
  static const StageDef<KMeansParams> def{
      "kmeans",
      {"kmeans"},
      "Distributed k-means on a features file -> kmeans.h5",
      "kmeans.h5",
      {"features", "out", "checkpoint", "init_centroids", "force"},
      [](KMeansParams& p, const RunLayout& w) {
        p.features = w.cluster_features();
        p.out = w.file("kmeans.h5");
      },
      [](const KMeansParams& p) { return p.out; },
      [](const KMeansParams& p) { return std::vector<std::string>{p.features, p.init_centroids}; },
      nullptr,
      nullptr,
      [](const KMeansParams& p, Communicator& comm, const StageConfig& cfg) {
        run_kmeans_stage(p, comm, cfg);
        return StageOutcome{};
      },
      /*precheck=*/nullptr,
      /*compute_hashed=*/true,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/[](const std::string& out) {
        std::vector<std::string> files = sweep_checkpoints(checkpoint_path(out));
        files.push_back(checkpoint_path(out));
        return files;
      }};
  return def;
}

}  // namespace distclust
