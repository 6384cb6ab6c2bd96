// The embed stage: features.h5 + knn.h5 -> embed.h5 (embed.h).
#pragma once

#include "core/stage.h"
#include "embed/embed.h"

namespace distclust {

const StageDef<EmbedParams>& embed_stage();

}  // namespace distclust
