// SCAN clustering across ranks (`distclust scan`): clustering heads trained on
// frozen features so that each row and a neighbour drawn from the kNN graph
// get the same cluster, with an entropy term against collapse; then optional
// self-labelling (Van Gansbeke et al., "SCAN: Learning to Classify Images
// without Labels", ECCV 2020).
//
// Data parallel, P-independent by construction:
//  - every random draw is keyed by (seed, epoch, global row): the batch of a
//    row in an epoch is key_hash(seed, epoch, row) % n_batches, its neighbour
//    is drawn from its own k neighbours the same way; heads are initialised
//    from keyed draws, identical on every rank;
//  - per step each rank runs the heads on its own rows of the global batch;
//    the batch-mean prediction (entropy term) and the gradients are summed
//    over ranks (one small and one parameter-sized allreduce), then every rank
//    applies the same Adam update.
// Results of P = 1, 2, 3 ranks therefore differ only by floating-point
// reduction order; repeated runs with the same P are bit-identical.
//
// Neighbour features live on other ranks: they are either replicated on every
// rank (when N*D*4 bytes fit memory_budget) or the rows drawn for an epoch are
// fetched from their owners at the start of the epoch (alltoallv).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust scan` (YAML section `scan`).
struct ScanParams {
  std::string features = "";        ///< input features.h5
  std::string knn = "";             ///< input knn.h5 built from the same features
  std::string out = "scan.h5";      ///< output file (written as OUT.tmp, renamed when whole)
  int clusters = 10;                ///< C, clusters (head outputs)
  int heads = 10;                   ///< H, heads trained together; the lowest-loss one is kept
  /// linear (D -> C) | mlp (D -> hidden -> ReLU -> C). mlp by default: on
  /// pixel features (MNIST, PCA 50) it wins by 12..21 points of ACC
  /// (0.80..0.84 against 0.62..0.68, 3 seeds; issue 16 saw the same on
  /// 60,000 digits and on clothing), while on features a backbone learnt on
  /// the very classes (CIFAR-10 test1k, ResNet-20 trained on CIFAR-10) the
  /// linear head is ahead by only 0.1..2.4 points (bench/RESULTS-scan.md,
  /// "Default head"). The mlp costs about hidden / C times the linear
  /// head's compute a row (50x at D = 512, C = 10): choose linear for
  /// features known to be linearly separable, or when time matters.
  std::string head = "mlp";
  int hidden = 512;                 ///< mlp: hidden width (128 lost 0..11 points on MNIST pixels)
  int epochs = 60;                  ///< SCAN epochs (one pass over the valid rows each)
  /// Fewest optimiser steps SCAN takes, whatever `epochs` says: an epoch is
  /// ceil(valid rows / batch) steps, so 60 epochs of 200 images are 60
  /// steps, far too few (mean confidence 0.21, cluster sizes 2..64). When
  /// epochs x steps an epoch falls short, the epochs are extended to
  /// ceil(min_steps / steps an epoch) (logged; scan.h5 `epochs_run`,
  /// `steps`). 0 = exactly `epochs`. The default: bench/RESULTS-scan.md,
  /// "Small folders".
  int64_t min_steps = 500;
  int batch = 256;                  ///< global batch (anchors per step, all ranks together)
  double lr = 0.01;                 ///< Adam learning rate
  /// Adam weight decay (L2 added to the gradient, as torch.optim.Adam);
  /// -1 = auto: 1e-3 / clusters (1e-4 at C = 10, SCAN's setting). Adam
  /// normalises the sum of loss gradient and decay, and the loss gradient
  /// of each output weight shrinks like 1/C: with 1e-4 at C = 1000 the decay
  /// wins, the heads shrink to uniform outputs within one epoch (a
  /// stationary point) and every row lands in one cluster
  /// (bench/RESULTS-scan.md, "Weight decay and C").
  double weight_decay = -1;
  /// The weight decay used: weight_decay, or the auto value for `clusters`.
  double effective_weight_decay() const { return weight_decay >= 0 ? weight_decay : 1e-3 / clusters; }
  double entropy_weight = 5.0;      ///< weight of the entropy of the batch-mean prediction
  int neighbours = 0;               ///< draw from the first this many neighbours of knn.h5 (0 = all k)
  bool normalize = true;            ///< L2-normalise feature rows before training
  bool self_label = false;          ///< after SCAN, self-label the kept head with its confident rows
  double threshold = 0.99;          ///< self-labelling: top probability above which a row is confident
  int self_label_epochs = 10;       ///< self-labelling epochs
  double self_label_lr = 1e-4;      ///< self-labelling Adam learning rate (no weight decay)
  bool self_label_gate = true;      ///< keep a self-labelling move only where the row's neighbours support it (scan_gate.h)
  int prototypes = 10;              ///< rows per cluster in /prototypes (highest confidence first)
  int64_t seed = 1;                 ///< seed of initialisation, batches and neighbour draws
  std::string neighbour_features = "auto"; ///< auto | replicate | exchange (how neighbour rows reach a rank)
  double memory_budget = 2.0;       ///< GiB per rank for replicated features (auto: replicate when N*D*4 fits)
  bool checkpoint = true;           ///< checkpoint each epoch (every few when min_steps extends them) to OUT.ckpt and resume from it
  bool force = false;               ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)

  template <class V> void visit(V& v) {
    v("features", features, "input features.h5");
    v("knn", knn, "input knn.h5 (from the same features)");
    v("out", out, "output scan.h5");
    v("clusters", clusters, "number of clusters C");
    v("heads", heads, "heads trained together (lowest final loss kept)");
    v("head", head, "head type: linear|mlp (mlp: better on features that are not linearly separable)");
    v("hidden", hidden, "mlp head: hidden width");
    v("epochs", epochs, "SCAN epochs");
    v("min_steps", min_steps, "fewest optimiser steps: epochs are extended until at least this many run (0 = off)");
    v("batch", batch, "global batch size (anchors per step over all ranks)");
    v("lr", lr, "Adam learning rate");
    v("weight_decay", weight_decay, "Adam weight decay (-1 = auto: 1e-3 / clusters)");
    v("entropy_weight", entropy_weight, "weight of the entropy term (against collapse)");
    v("neighbours", neighbours, "draw neighbours from the first this many of knn.h5 (0 = all)");
    v("normalize", normalize, "L2-normalise feature rows before training");
    v("self_label", self_label, "self-label the kept head after SCAN");
    v("threshold", threshold, "self-labelling confidence threshold");
    v("self_label_epochs", self_label_epochs, "self-labelling epochs");
    v("self_label_lr", self_label_lr, "self-labelling Adam learning rate (no weight decay)");
    v("self_label_gate", self_label_gate,
      "keep a self-labelling move of a row only where at least as many of its neighbours have the new SCAN cluster as the old");
    v("prototypes", prototypes, "top-confidence rows per cluster written to /prototypes");
    v("seed", seed, "random seed (init, batches, neighbour draws)");
    v("neighbour_features", neighbour_features, "auto|replicate|exchange: how neighbour rows reach each rank");
    v("memory_budget", memory_budget, "GiB per rank allowed for replicating all features (auto mode)");
    v("checkpoint", checkpoint, "checkpoint each epoch (every few when min_steps extends them) to OUT.ckpt and resume from it");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// What SCAN returns on every rank.
struct ScanResult {
  int64_t n_total = 0;                ///< N
  int64_t clusters = 0;               ///< C
  RowRange rows;                      ///< this rank's rows
  int kept_head = 0;                  ///< head kept (lowest total loss in the last epoch)
  std::vector<float> probabilities;   ///< [local rows x C] of the kept head (0 for invalid rows); rows whose
                                      ///< self-labelling move the gate turned down: the SCAN head's
  std::vector<int64_t> assign;        ///< [local rows], -1 for invalid rows
  std::vector<int64_t> assign_scan;   ///< [local rows] before self-labelling (empty when it was not asked for)
  int64_t self_label_moved = 0;       ///< rows whose cluster self-labelling changed (after the neighbour gate)
  int64_t self_label_proposed = 0;    ///< rows the self-labelled head moved, before the neighbour gate
  int64_t self_label_rejected = 0;    ///< of those, moves the neighbour gate turned down (kept their SCAN prediction)
  std::vector<float> confidence;      ///< [local rows] top probability (0 for invalid rows)
  std::vector<double> loss;           ///< [epochs x heads] total loss (consistency - w * entropy), mean over steps
  std::vector<double> consistency;    ///< [epochs x heads]
  std::vector<double> entropy;        ///< [epochs x heads] entropy of the batch-mean prediction, mean over steps
  std::vector<double> self_label_loss;    ///< [self-label epochs run] class-balanced cross-entropy
  std::vector<int64_t> self_label_confident;  ///< [self-label epochs run] confident rows at each epoch's start
  std::vector<int64_t> cluster_sizes; ///< [C] rows per cluster (all ranks)
  std::vector<int64_t> prototypes;    ///< [C x prototypes] global rows, best first, -1 padded
  int64_t n_valid = 0;                ///< valid rows
  bool collapse = false;              ///< kept head puts > half the rows (C = 2: > 3/4) in one cluster or leaves one empty
  std::string collapse_note;          ///< why (empty when no collapse)
  int64_t epochs_run = 0;             ///< SCAN epochs: `epochs`, or more to reach `min_steps`
  int64_t steps_per_epoch = 0;        ///< ceil(valid rows / batch)
  int64_t steps = 0;                  ///< SCAN optimiser steps taken (all epochs, also those before a resume)
  double mean_confidence = 0;         ///< mean top probability over valid rows
  /// The health checks of the finished training (scan_health.h), one
  /// sentence each ("loss still falling: ..."); empty when healthy.
  std::vector<std::string> warnings;
  bool self_labelled = false;         ///< self-labelling ran (at least one epoch, some row confident)
  std::string self_label_note;        ///< what self-labelling did or why it was skipped
  std::string neighbour_mode;         ///< replicate | exchange
  bool resumed = false;               ///< started from a checkpoint
  std::vector<double> epoch_seconds;  ///< wall time of each epoch run here (SCAN and self-label)
  int64_t rows_no_neighbour = 0;      ///< valid rows without a valid neighbour (paired with themselves)
  std::vector<float> head;            ///< the kept head's parameters (scan_heads.h layout, one head), final
  std::vector<float> head_scan;       ///< the kept head before self-labelling, when the neighbour gate used it
  int64_t d = 0;                      ///< D, the heads' input width
};

/// Input identity stored with outputs and checkpoints.
struct ScanInputs {
  std::string features_hash;  ///< features.h5 identity: its config_hash, or size and mtime (io/output_identity.h)
  std::string knn_hash;       ///< knn.h5 config_hash attribute ("" if absent)
};

/// Runs SCAN (and self-labelling when asked) on the files named in p
/// (collective). ckpt_path: "" = no checkpoints; params_hash identifies a
/// compatible checkpoint. Throws Error on bad input (mismatched files, C < 2,
/// C > valid rows, no valid rows), naming the values.
ScanResult scan(const ScanParams& p, Communicator& comm, const std::string& ckpt_path = "",
                const std::string& params_hash = "", ScanInputs* inputs = nullptr);

}  // namespace distclust
