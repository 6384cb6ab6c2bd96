// Was the SCAN training good enough to trust? Checks of a finished run that
// need no labels, each a loud warning (log, scan.h5 `warnings`, the run's
// summary, the report's warning box) rather than an error: the clustering
// is written either way. Thresholds and why: bench/RESULTS-scan.md,
// "Health checks".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

/// The thresholds (the README's SCAN section quotes them).
struct ScanHealthLimits {
  /// Loss still falling: the kept head's mean total loss over the last
  /// tenth of the epochs (at least one epoch) is lower than over the tenth
  /// before by more than this share of its whole fall (first epoch to the
  /// last tenth). A finished run has flattened out: its last tenth moves the
  /// loss by well under 1% of the fall.
  double late_fall = 0.05;
  /// Mean top probability over the valid rows below this: most rows sit
  /// between clusters (a trained SCAN head is near one-hot: 0.9 and more).
  double min_confidence = 0.5;
  /// Largest cluster over smallest above this (SCAN's entropy term pulls
  /// towards equal sizes, so a factor of 10 is an unfinished run or data
  /// that unbalanced).
  double size_ratio = 10;
};

/// The measured figures and the warnings they raise.
struct ScanHealth {
  double late_fall = 0;         ///< fall over the last tenth / whole fall (0 when the loss did not fall; NaN: < 2 epochs)
  int64_t late_epochs = 0;      ///< epochs in the last tenth
  double mean_confidence = 0;   ///< mean top probability over the valid rows
  int64_t smallest = 0, largest = 0;
  std::vector<std::string> warnings;  ///< one sentence each, "what: figures: what to do"
};

/// kept_loss [epochs]: the kept head's total loss per epoch; sizes [C];
/// collapse_note: the collapse check's finding ("" when none), listed first.
ScanHealth scan_health(const std::vector<double>& kept_loss, double mean_confidence,
                       const std::vector<int64_t>& sizes, const std::string& collapse_note,
                       const ScanHealthLimits& lim = {});

}  // namespace distclust
