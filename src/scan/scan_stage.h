// The scan stage: features.h5 + knn.h5 -> scan.h5 (scan.h).
#pragma once

#include "core/stage.h"
#include "scan/scan.h"

namespace distclust {

const StageDef<ScanParams>& scan_stage();

}  // namespace distclust
