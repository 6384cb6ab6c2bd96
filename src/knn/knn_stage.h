// The knn stage: features.h5 -> knn.h5 (knn.h).
#pragma once

#include "core/stage.h"
#include "knn/knn.h"

namespace distclust {

const StageDef<KnnParams>& knn_stage();

}  // namespace distclust
