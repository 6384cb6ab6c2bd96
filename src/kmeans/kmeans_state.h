// k-means checkpoint: the state after an iteration, enough to continue and
// end with the same result as a run that never stopped (io/state_file.h:
// written by rank 0 as PATH.tmp then renamed, read by rank 0 and broadcast).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

struct KMeansState {
  std::string params_hash;           ///< the stage's config hash: must match to resume
  int restart = 0;                   ///< restart in progress
  int next_iter = 0;                 ///< next Lloyd iteration of that restart
  bool finished = false;             ///< restart converged or ran out: only its final pass is left
  std::vector<float> centroids;      ///< [k x d] current (empty: restart not initialised)
  std::vector<double> history;       ///< inertia per iteration of this restart
  int best_restart = -1;             ///< best finished restart so far
  double best_inertia = 0;           ///< its final inertia
  std::vector<float> best_centroids; ///< [k x d] its centroids
  std::vector<double> best_history;  ///< its inertia per iteration
  int64_t empty_splits = 0;          ///< empty clusters re-seeded so far

  template <class V> void visit(V& v) {
    v("params_hash", params_hash);
    v("restart", restart);
    v("next_iter", next_iter);
    v("finished", finished);
    v("centroids", centroids);
    v("history", history);
    v("best_restart", best_restart);
    v("best_inertia", best_inertia);
    v("best_centroids", best_centroids);
    v("best_history", best_history);
    v("empty_splits", empty_splits);
  }
};

}  // namespace distclust
