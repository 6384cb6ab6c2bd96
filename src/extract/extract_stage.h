// The extract stage: images -> features.h5 (extract.h).
#pragma once

#include "core/stage.h"
#include "extract/extract.h"

namespace distclust {

const StageDef<ExtractParams>& extract_stage();

}  // namespace distclust
