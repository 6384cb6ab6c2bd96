// GMM checkpoint: the state after an EM iteration, enough to continue and
// end with the same gmm.h5 as a run that never stopped (io/state_file.h:
// written by rank 0 as PATH.tmp then renamed, read by rank 0 and broadcast).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

struct GMMState {
  std::string params_hash;             ///< the stage's config hash: must match to resume
  int restart = 0;                     ///< restart in progress
  int next_iter = 0;                   ///< next EM iteration of that restart
  bool finished = false;               ///< restart converged or ran out: only its final pass is left
  bool converged = false;              ///< it stopped by tol
  std::vector<double> weights;         ///< [k] current (empty: restart not initialised)
  std::vector<double> means;           ///< [k x d]
  std::vector<double> covariances;     ///< [k x d x d] or [k x d]
  std::vector<double> history;         ///< mean log-likelihood per iteration of this restart
  int best_restart = -1;               ///< best finished restart so far
  double best_loglik = 0;              ///< its final mean log-likelihood
  bool best_converged = false;         ///< it stopped by tol
  std::vector<double> best_weights;    ///< [k] of the best restart (as weights above)
  std::vector<double> best_means;      ///< [k x d]
  std::vector<double> best_covariances;  ///< [k x d x d] or [k x d]
  std::vector<double> best_history;    ///< its mean log-likelihood per iteration
  std::vector<double> restart_loglik;  ///< final mean log-likelihood of each finished restart
  int64_t empty_components = 0;        ///< component updates skipped so far

  template <class V> void visit(V& v) {
    v("params_hash", params_hash);
    v("restart", restart);
    v("next_iter", next_iter);
    v("finished", finished);
    v("converged", converged);
    v("weights", weights);
    v("means", means);
    v("covariances", covariances);
    v("history", history);
    v("best_restart", best_restart);
    v("best_loglik", best_loglik);
    v("best_converged", best_converged);
    v("best_weights", best_weights);
    v("best_means", best_means);
    v("best_covariances", best_covariances);
    v("best_history", best_history);
    v("restart_loglik", restart_loglik);
    v("empty_components", empty_components);
  }
};

}  // namespace distclust
