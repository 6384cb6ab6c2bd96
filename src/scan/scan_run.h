// Internal to src/scan: what the phases of one SCAN run share. scan.cpp runs
// the phases in order: load the inputs (scan_data.cpp), train the heads
// (scan_train.cpp), keep the best head, self-label it (scan_selflabel.cpp),
// assign every row with the gate and the collapse check, pick prototypes
// (scan_finish.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "scan/scan.h"
#include "scan/scan_compute.h"
#include "scan/scan_heads.h"
#include "scan/scan_rows.h"
#include "scan/scan_state.h"
#include "scan/scan_step.h"

namespace distclust {

/// The inputs of a run, read and checked once.
struct ScanData {
  int64_t n = 0, d = 0;              ///< N x D of the features
  RowRange own;                      ///< this rank's rows
  int64_t k_file = 0;                ///< neighbours per row in knn.h5
  int64_t kuse = 0;                  ///< neighbours drawn from (the first kuse)
  int64_t n_valid = 0;               ///< valid rows (all ranks)
  std::vector<int64_t> nbr;          ///< [own rows x kuse] valid neighbours (global rows), first count[i] used
  std::vector<int32_t> nbr_count;    ///< [own rows]
  std::vector<int64_t> my_rows;      ///< local indices of this rank's valid rows, ascending
  int64_t lonely = 0;                ///< valid rows without a valid neighbour (all ranks)
  bool replicate = true;             ///< every rank holds every feature row
  ScanRows rows;                     ///< where any feature row is found
  ScanInputs inputs;                 ///< identities stored with outputs and checkpoints

  int64_t local_rows() const { return own.size(); }
};

/// Reads features.h5 and knn.h5, checks that they belong together, builds
/// the neighbour lists and places the feature rows (collective).
ScanData load_scan_data(const ScanParams& p, Communicator& comm);

/// One run: its inputs, checkpointable state and result.
struct ScanRun {
  const ScanParams& p;
  Communicator& comm;
  ScanData data;
  ScanState st;
  ScanResult res;
  std::string ckpt;             ///< "" = no checkpoints
  int64_t epochs_here = 0;      ///< epochs (both phases) run by this process, for the fault hook
  int epochs = 0;               ///< SCAN epochs to run: p.epochs, extended to reach p.min_steps
  int64_t steps_per_epoch = 0;  ///< ceil(valid rows / batch), the same for any rank count

  /// Saves the state with the parameters and Adam moments of c, stored
  /// into h on the way (collective).
  void save(ScanHeads& h, HeadsCompute& c);
};

/// The head with the lowest loss among loss [H] that are finite, ties to the
/// lower head; -1 when none is (a diverged head is never kept).
inline int lowest_finite(const double* loss, int H) {
  int best = -1;
  for (int h = 0; h < H; ++h)
    if (std::isfinite(loss[h]) && (best < 0 || loss[h] < loss[best])) best = h;
  return best;
}

/// SCAN epochs from st.next_epoch (phase 0), all heads (collective).
void train_epochs(ScanRun& r, ScanHeads& heads);

/// Self-labelling of the kept head `one` (collective); fills res.assign_scan.
void self_label(ScanRun& r, ScanHeads& one);

/// Final probabilities, assignment, cluster sizes and collapse check, with
/// the neighbour gate on self-labelling's moves (collective).
void final_assignment(ScanRun& r, ScanHeads& one);

/// The most confident rows of each cluster (collective).
void pick_prototypes(ScanRun& r);

/// The health checks of the finished run into res.warnings, each logged
/// loudly on rank 0 (scan_health.cpp). Every rank computes the same list.
void check_health(ScanRun& r);

/// Bytes a rank's training run holds for its heads (beyond the data): the
/// weights, gradients and Adam's two moments (4 copies: all ScanHeads'
/// own check counts), the checkpoint state's copy of the weights and both
/// moments (3), on several ranks the gradient allreduce's buffers (2), a
/// step's hidden activations and their gradients (anchors and neighbours,
/// every head), and the kept head's prediction chunks (up to 4096 rows).
/// Measured (/usr/bin/time -v): hidden=65536, 10 heads, D=64, 2000 rows,
/// batch 16, one rank: 2.18 GiB peak (0.06 before any data), this estimate
/// 2.0 GiB; the 4 copies alone said 0.73 GiB, and a job they passed at
/// hidden=1e6 was OOM-killed at 23.5 GiB (now refused: 30.5 GiB).
double scan_memory_bytes(const ScanParams& p, int64_t d, int64_t local_rows, int ranks);

/// The kept head's softmax for all valid local rows into prob [own rows x C]
/// (0 for invalid ones), in chunks of the same rows whatever the caller.
void predict_all(HeadsCompute& h, const ScanData& data, std::vector<float>& prob);
/// Arg-max cluster of each valid local row of prob [own rows x C] (-1 for invalid rows).
std::vector<int64_t> argmax_rows(const ScanData& data, const std::vector<float>& prob, int64_t c);

}  // namespace distclust
