// SCAN checkpoint: the state after an epoch, enough to continue and end with
// the same scan.h5 as a run that never stopped (every draw is keyed by
// (seed, epoch, row), so the parameters, Adam state and epoch say it all).
// Saved and loaded by io/state_file.h (rank 0 writes PATH.tmp then renames;
// rank 0 reads and broadcasts).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

struct ScanState {
  std::string key;                   ///< params hash + input identity: must match to resume
  int phase = 0;                     ///< 0 = SCAN epochs, 1 = self-labelling epochs
  int next_epoch = 0;                ///< next epoch of that phase
  std::vector<float> params, m, v;   ///< phase 0: all heads; phase 1: the kept head
  int64_t adam_step = 0;             ///< Adam steps taken
  int kept_head = -1;                ///< chosen after SCAN (phase 1)
  int heads = 0;                     ///< H (columns of the histories)
  int64_t scan_steps = 0;            ///< SCAN optimiser steps taken (phase 0)
  std::vector<double> loss, consistency, entropy;  ///< [epochs done x H]
  std::vector<float> scan_head;      ///< phase 1: the kept head's parameters before self-labelling
  std::vector<double> sl_loss;       ///< self-label loss per epoch done
  std::vector<int64_t> sl_confident; ///< confident rows per self-label epoch done

  template <class V> void visit(V& vis) {
    vis("key", key);
    vis("phase", phase);
    vis("next_epoch", next_epoch);
    vis("params", params);
    vis("adam_m", m);
    vis("adam_v", v);
    vis("adam_step", adam_step);
    vis("kept_head", kept_head);
    vis("heads", heads);
    vis("scan_steps", scan_steps);
    vis("loss", loss);
    vis("consistency", consistency);
    vis("entropy", entropy);
    vis("scan_head", scan_head);
    vis("self_label_loss", sl_loss);
    vis("self_label_confident", sl_confident);
  }
};

}  // namespace distclust
