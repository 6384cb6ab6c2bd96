// SCAN checkpoint: the state after an epoch, enough to continue and end with
// the same scan.h5 as a run that never stopped (every draw is keyed by
// (seed, epoch, row), so the parameters, Adam state and epoch say it all).
// Written by rank 0 as PATH.tmp then renamed (a checkpoint that exists is
// whole); read by rank 0 and broadcast.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

struct ScanState {
  std::string key;                   ///< params hash + input identity: must match to resume
  int phase = 0;                     ///< 0 = SCAN epochs, 1 = self-labelling epochs
  int next_epoch = 0;                ///< next epoch of that phase
  std::vector<float> params, m, v;   ///< phase 0: all heads; phase 1: the kept head
  int64_t adam_step = 0;
  int kept_head = -1;                ///< chosen after SCAN (phase 1)
  int heads = 0;                     ///< H (columns of the histories)
  std::vector<double> loss, consistency, entropy;  ///< [epochs done x H]
  std::vector<float> scan_head;      ///< phase 1: the kept head's parameters before self-labelling
  std::vector<double> sl_loss;       ///< self-label loss per epoch done
  std::vector<int64_t> sl_confident; ///< confident rows per self-label epoch done
};

void save_scan_state(const std::string& path, const ScanState& s, Communicator& comm);
/// Returns false (and leaves s alone) when there is no checkpoint or its key
/// differs (logged). Collective.
bool load_scan_state(const std::string& path, const std::string& key, ScanState& s, Communicator& comm);

}  // namespace distclust
