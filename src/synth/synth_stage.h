// The synth_images stage (`distclust synth images`; first in the demo job).
#pragma once

#include "core/stage.h"
#include "synth/synth_images.h"

namespace distclust {

const StageDef<SynthImagesParams>& synth_images_stage();

}  // namespace distclust
