// k-means checkpoint: the state after an iteration, enough to continue and
// end with the same result as a run that never stopped. Written by rank 0 as
// PATH.tmp then renamed (a checkpoint that exists is whole); read by rank 0
// and broadcast.
#pragma once
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

struct KMeansState {
  std::string params_hash;          // must match to resume
  int restart = 0;                  // restart in progress
  int next_iter = 0;                // next Lloyd iteration of that restart
  bool finished = false;            // restart converged/ran out: only its final pass is left
  std::vector<float> centroids;     // [k x d] current (empty: restart not initialised)
  std::vector<double> history;      // inertia per iteration of this restart
  int best_restart = -1;            // best finished restart so far
  double best_inertia = 0;          // its final inertia
  std::vector<float> best_centroids;
  std::vector<double> best_history;
  int64_t empty_splits = 0;
};

void save_kmeans_state(const std::string& path, const KMeansState& s, Communicator& comm);
/// Returns false (and leaves s alone) when there is no checkpoint or its hash
/// differs (logged). Collective.
bool load_kmeans_state(const std::string& path, const std::string& hash, int64_t k, int64_t d,
                       KMeansState& s, Communicator& comm);

}  // namespace distclust
