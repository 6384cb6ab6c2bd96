// The LibTorch plugin, libdistclust_torch.so: every translation unit that
// includes LibTorch is built into it (the TorchScript backbone, the LibTorch
// search kernel, the LibTorch SCAN trainer) and opened with dlopen on first
// use. Linked into the binary, LibTorch's static initialisers would cost
// every command and rank ~0.4 s at start-up; as a plugin only the commands
// that use it pay. Its entry points are extern "C" functions named
// distclust_torch_*_vN (kernels/torch_abi.h lists them).
#pragma once

#include <string>

namespace distclust {

/// The plugin's entry point `name`; opens the plugin on first use. Throws,
/// naming every path tried and why it failed, when there is no plugin or
/// no such entry point. Where it looks: $DISTCLUST_TORCH_PLUGIN, beside the
/// executable, ../lib/distclust/ from it (an install), the build tree.
void* torch_plugin_symbol(const char* name);

/// Whether this process has opened the plugin (it stays open: a later
/// DISTCLUST_TORCH_PLUGIN changes nothing).
bool torch_plugin_opened();

/// Typed form: F is the entry point's function pointer type.
template <class F> F torch_plugin_function(const char* name) {
  return reinterpret_cast<F>(torch_plugin_symbol(name));
}

}  // namespace distclust
