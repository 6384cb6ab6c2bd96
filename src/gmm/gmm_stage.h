// The gmm stage: features.h5 -> gmm.h5 (gmm.h, gmm_file.h).
#pragma once

#include "core/stage.h"
#include "gmm/gmm.h"

namespace distclust {

const StageDef<GMMParams>& gmm_stage();

}  // namespace distclust
