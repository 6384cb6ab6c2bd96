#include "kernels/torch_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "distclust/error.h"

#ifndef DISTCLUST_TORCH_PLUGIN
#define DISTCLUST_TORCH_PLUGIN ""
#endif

namespace distclust {
namespace {

constexpr const char* kPluginName = "libdistclust_torch.so";

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string p(buf, size_t(n));
  return p.substr(0, p.rfind('/'));
}

std::vector<std::string> candidates() {
  if (const char* env = std::getenv("DISTCLUST_TORCH_PLUGIN"); env && *env) return {env};
  std::vector<std::string> c;
  const std::string dir = exe_dir();
  if (!dir.empty()) {
    c.push_back(dir + "/" + kPluginName);
    c.push_back(dir + "/../lib/distclust/" + kPluginName);
  }
  if (*DISTCLUST_TORCH_PLUGIN) c.push_back(DISTCLUST_TORCH_PLUGIN);
  return c;
}

/// The first candidate that opens; the reasons the others did not.
void* open_plugin(std::string& tried) {
  for (const std::string& path : candidates()) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    const char* e = dlerror();
    tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
  }
  return nullptr;
}

std::mutex mu;
void* handle = nullptr;  // the open plugin, under mu

}  // namespace

bool torch_plugin_opened() {
  std::lock_guard<std::mutex> lock(mu);
  return handle != nullptr;
}

void* torch_plugin_symbol(const char* name) {
  std::lock_guard<std::mutex> lock(mu);
  std::string tried;
  if (!handle) handle = open_plugin(tried);
  if (!handle)
    throw Error(fmt("LibTorch backbones and kernels need the plugin ", kPluginName,
                    " (built with distclust; set DISTCLUST_TORCH_PLUGIN to its path). Tried:", tried));
  if (void* f = dlsym(handle, name)) return f;
  throw Error(fmt("the LibTorch plugin has no entry point ", name, " (a plugin from another distclust build? "
                  "set DISTCLUST_TORCH_PLUGIN to this build's ", kPluginName, ")"));
}

}  // namespace distclust
