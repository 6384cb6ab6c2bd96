#include "gmm/gmm_stage.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "distclust/log.h"
#include "io/rows_identity.h"
#include "distclust/runtime.h"
#include "gmm/gmm_file.h"

namespace distclust {
namespace {

StageOutcome run_gmm_stage(const GMMParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "gmm: no input given (--features features.h5)");
  const auto t0 = std::chrono::steady_clock::now();
  FeatureBlock b = read_features(p.features, comm);
  check_finite(b, p.features, comm, "gmm");
  log::info("gmm: ", p.features, ": ", b.n_total, " x ", b.d, ", k=", p.k, ", ", p.covariance, " covariances, ",
            comm.size(), " ranks x ", compute_threads(), " threads");
  const std::string ckpt = p.checkpoint ? checkpoint_path(p.out) : "";
  // ";reg=median": checkpoints of the earlier reg scale are not resumed.
  GMMResult r = gmm(b, p, comm, ckpt, cfg.hash + ";reg=median");
  write_gmm(p.out, comm, b, rows_identity(p.features, comm), r, p, cfg.yaml, cfg.hash);
  if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
  std::vector<int64_t> sizes(size_t(r.model.k), 0);
  for (auto a : r.assign)
    if (a >= 0) ++sizes[a];
  comm.allreduce_sum(sizes.data(), sizes.size());
  auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
  // A component no row chose: the data may not have K groups, or reg (the
  // reg_covar written) is large for some cluster's spread. Said once, by rank 0.
  if (const auto empty = std::count(sizes.begin(), sizes.end(), int64_t(0)); empty > 0 && comm.rank() == 0)
    log::warn("gmm: ", empty, " of ", r.model.k, " components are the most probable for no row (reg_covar ",
              r.reg_covar, " is added to every variance: lower gmm.reg if clusters are tighter than that)");
  double per_iter = 0;
  for (double s : r.iter_seconds) per_iter += s / double(r.iter_seconds.size());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("gmm: wrote ", p.out, ": mean log-likelihood ", r.final_log_likelihood, ", BIC ", r.bic(), " after ",
            r.iterations, " iterations (restart ", r.best_restart, r.converged ? ", converged" : ", iteration limit",
            "), cluster sizes ", *mn, "..", *mx, ", ", per_iter, " s/iteration, ", secs, " s");
  StageOutcome o;
  o.summary.push_back(fmt("gmm: mean log-likelihood ", r.final_log_likelihood, ", BIC ", r.bic(), ", ",
                          r.iterations, " iterations"));
  return o;
}

}  // namespace

const StageDef<GMMParams>& gmm_stage() {
  static const StageDef<GMMParams> def{
      "gmm",
      {"gmm"},
      "Gaussian mixture (EM across ranks) on a low-dimensional features file -> gmm.h5",
      "gmm.h5",
      {"features", "out", "checkpoint", "init_centroids", "force"},
      [](GMMParams& p, const RunLayout& w) {
        p.features = w.cluster_features();  // the embedding when the run embeds before gmm
        p.out = w.file("gmm.h5");
      },
      [](const GMMParams& p) { return p.out; },
      [](const GMMParams& p) { return std::vector<std::string>{p.features, p.init_centroids}; },
      nullptr,
      nullptr,
      run_gmm_stage,
      /*precheck=*/nullptr,
      /*compute_hashed=*/true,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/[](const std::string& out) { return std::vector<std::string>{checkpoint_path(out)}; }};
  return def;
}

}  // namespace distclust
