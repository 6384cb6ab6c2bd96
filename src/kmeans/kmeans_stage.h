// The kmeans stage: features.h5 -> kmeans.h5 (kmeans.h, kmeans_file.h).
#pragma once

#include "core/stage.h"
#include "kmeans/kmeans.h"

namespace distclust {

const StageDef<KMeansParams>& kmeans_stage();

}  // namespace distclust
