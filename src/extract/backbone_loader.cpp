// load_torchscript_backbone: the TorchScript backbone lives in the LibTorch
// plugin (kernels/torch_plugin.h), opened on first use.
#include "extract/backbone.h"
#include "distclust/error.h"
#include "kernels/torch_plugin.h"

namespace distclust {

std::unique_ptr<Backbone> load_torchscript_backbone(const TorchScriptSpec& spec) {
  using Factory = Backbone* (*)(const TorchScriptSpec*, std::string*);
  auto factory = torch_plugin_function<Factory>("distclust_torchscript_backbone_v1");
  std::string error;
  Backbone* b = factory(&spec, &error);
  if (!b) throw Error(error);
  return std::unique_ptr<Backbone>(b);
}

}  // namespace distclust
