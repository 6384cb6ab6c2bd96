// Distributed Gaussian mixture (EM). Each rank holds its row block and
// computes the responsibilities of its own rows; the sufficient statistics
// (N_k, sum_k r (x - mu_k), sum_k r (x - mu_k)(x - mu_k)^T, and the
// log-likelihood) travel in one allreduce per iteration. Bit-identical for
// any rank and thread count by construction: a row's responsibilities depend
// only on the row and the (replicated) parameters, and every sum is exact
// (fixed-point int64, gmm_stats.h), so its order does not matter; the k-means
// initialisation is bit-identical already (kmeans.h).
// Model: sklearn.mixture.GaussianMixture (same updates, init and stopping
// rule, so the two can be compared on the same start: tests/e2e/gmm_vs_sklearn.sh).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// Parameters of `distclust gmm` (YAML section `gmm`).
struct GMMParams {
  std::string features = "";      ///< input features.h5 (low-dimensional: an embedding, a PCA)
  std::string out = "gmm.h5";     ///< output file (written as OUT.tmp, renamed when whole)
  int k = 10;                     ///< mixture components
  std::string covariance = "full";  ///< full | diag
  /// Added to every covariance's diagonal, relative to the lower median of
  /// the columns' variances (scikit-learn's reg_covar = reg x that
  /// variance; the absolute value is stored as the attribute reg_covar).
  /// Relative, so that a fit does not change when the features are scaled;
  /// a median, so that one far-out value or wide column does not decide it.
  double reg = 1e-6;
  int iters = 100;                ///< maximum EM iterations per restart
  double tol = 1e-3;              ///< stop when the mean log-likelihood per row changes by less (absolute; 0 = never)
  int restarts = 1;               ///< independent fits; the highest final log-likelihood is kept
  int64_t seed = 1;               ///< random seed (restart r's k-means init is keyed by (seed, r))
  int init_iters = 10;            ///< Lloyd iterations of the k-means initialisation (0: nearest init centroid only)
  std::string init_centroids = "";  ///< initialise from these centroids (a kmeans.h5 /centroids [k x D]) instead of k-means++
  bool checkpoint = true;         ///< save state to OUT.ckpt after iterations (at most ~10% of the time) and resume from it
  bool force = false;             ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)

  template <class V> void visit(V& v) {
    v("features", features, "input features.h5 (low-dimensional, e.g. an embedding)");
    v("out", out, "output gmm.h5");
    v("k", k, "number of mixture components");
    v("covariance", covariance, "covariance type: full|diag");
    v("reg", reg, "added to covariance diagonals, times the lower median column variance (sklearn reg_covar = reg x variance)");
    v("iters", iters, "maximum EM iterations per restart");
    v("tol", tol, "stop when the mean log-likelihood per row changes by less (0 = run all iterations)");
    v("restarts", restarts, "independent fits; highest final log-likelihood kept");
    v("seed", seed, "random seed (k-means init keyed by seed and restart: the same result for any rank count)");
    v("init_iters", init_iters, "Lloyd iterations of the k-means initialisation (0 = nearest initial centroid)");
    v("init_centroids", init_centroids, "initialise from a kmeans.h5's /centroids (k x D) instead of k-means++");
    v("checkpoint", checkpoint, "checkpoint to OUT.ckpt after each iteration (fast ones: as often as keeps saving under ~10% of the time) and resume from it");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// A mixture's parameters (replicated on every rank).
struct GMMParamsFit {
  int64_t k = 0, d = 0;
  bool full = true;
  std::vector<double> weights;      ///< [k], sum 1
  std::vector<double> means;        ///< [k x d]
  std::vector<double> covariances;  ///< [k x d x d] (full) or [k x d] (diag), regularisation included
};

/// What gmm() returns on every rank.
struct GMMResult {
  GMMParamsFit model;
  std::vector<float> probabilities;    ///< [local rows x k] responsibilities, 0 for invalid rows
  std::vector<int64_t> assign;         ///< [local rows] argmax, -1 for invalid rows
  std::vector<float> confidence;       ///< [local rows] largest responsibility, 0 for invalid rows
  std::vector<double> log_likelihood;  ///< mean log-likelihood per row at each iteration of the kept restart
  std::vector<double> restart_log_likelihood;  ///< final mean log-likelihood of each restart
  double final_log_likelihood = 0;     ///< mean log-likelihood per valid row of the returned model
  double reg_covar = 0;                ///< the absolute regularisation added to the diagonals
  int64_t n_valid = 0;
  int best_restart = 0;
  int iterations = 0;                  ///< EM iterations of the kept restart
  bool converged = false;              ///< the kept restart stopped by tol
  int64_t empty_components = 0;        ///< component updates skipped for lack of rows (all restarts)
  bool resumed = false;
  std::vector<double> iter_seconds;    ///< wall time of each EM iteration run here (all restarts)

  /// Free parameters: k-1 weights, k d means, k d(d+1)/2 (full) or k d (diag) covariances.
  double n_parameters() const;
  /// -2 N loglik + n_parameters ln N (sklearn's bic(): lower is better).
  double bic() const;
  /// -2 N loglik + 2 n_parameters.
  double aic() const;
};

/// Fits the mixture on each rank's block (collective). ckpt_path: "" = no
/// checkpoints; params_hash identifies a compatible checkpoint.
GMMResult gmm(FeatureBlock& data, const GMMParams& p, Communicator& comm, const std::string& ckpt_path = "",
              const std::string& params_hash = "");

}  // namespace distclust
