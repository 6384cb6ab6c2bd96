// The LibTorch element type named by runtime.precision or runtime.storage
// (plugin side: includes LibTorch), one mapping for the search kernel and
// the SCAN heads.
#pragma once

#include <torch/torch.h>

#include <string>

#include "distclust/error.h"

namespace distclust {

/// bf16 -> kBFloat16, fp16 -> kHalf, fp32 (and tf32 where tf32_ok: fp32
/// tensors) -> kFloat; anything else throws naming `setting` and the choices.
inline torch::ScalarType torch_type(const std::string& name, const char* setting, bool tf32_ok) {
  if (name == "bf16") return torch::kBFloat16;
  if (name == "fp16") return torch::kHalf;
  require(name == "fp32" || (tf32_ok && name == "tf32"), setting, ": '", name, "' is not one of ",
          tf32_ok ? "fp32|tf32|bf16|fp16" : "fp32|fp16|bf16");
  return torch::kFloat;
}

/// "fp32", "fp16" or "bf16" for a type torch_type() returns.
inline const char* torch_type_name(torch::ScalarType t) {
  return t == torch::kHalf ? "fp16" : t == torch::kBFloat16 ? "bf16" : "fp32";
}

}  // namespace distclust
