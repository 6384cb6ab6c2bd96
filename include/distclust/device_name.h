// Device names as users write them (runtime.device, extract.device):
// auto|cpu|cuda|cuda:N. Header-only because the LibTorch plugin checks them
// too and must not call into distclust_core.
#pragma once

#include <string>

namespace distclust {

/// N of "cuda:N" for N of 1..4 digits (a node has far fewer GPUs; more
/// digits would overflow an int and silently pick another GPU); -1 for
/// anything else, "cuda" included.
inline int cuda_device_number(const std::string& name) {
  if (name.size() < 6 || name.size() > 9 || name.compare(0, 5, "cuda:") != 0) return -1;
  int n = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    n = n * 10 + (name[i] - '0');
  }
  return n;
}

/// True for auto|cpu|cuda|cuda:N as above.
inline bool is_device_name(const std::string& name) {
  return name == "auto" || name == "cpu" || name == "cuda" || cuda_device_number(name) >= 0;
}

}  // namespace distclust
