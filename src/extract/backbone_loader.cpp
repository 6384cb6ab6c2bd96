// load_torchscript_backbone: opens the LibTorch plugin (libdistclust_torch.so)
// on first use. Linking LibTorch into the binary would cost every command
// (kmeans, eval, ...) ~0.4 s of LibTorch's static initialisers per process
// and rank; as a plugin only a TorchScript extract pays it.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "extract/backbone.h"
#include "distclust/error.h"

#ifndef DISTCLUST_TORCH_PLUGIN
#define DISTCLUST_TORCH_PLUGIN ""
#endif

namespace distclust {
namespace {

constexpr const char* kPluginName = "libdistclust_torch.so";
using Factory = Backbone* (*)(const TorchScriptSpec*, std::string*);

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string p(buf, size_t(n));
  return p.substr(0, p.rfind('/'));
}

// Where the plugin may be: $DISTCLUST_TORCH_PLUGIN, beside the executable,
// ../lib/distclust/ from it (an install), the build tree's path.
std::vector<std::string> candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("DISTCLUST_TORCH_PLUGIN"); env && *env) return {env};
  const std::string dir = exe_dir();
  if (!dir.empty()) {
    c.push_back(dir + "/" + kPluginName);
    c.push_back(dir + "/../lib/distclust/" + kPluginName);
  }
  if (*DISTCLUST_TORCH_PLUGIN) c.push_back(DISTCLUST_TORCH_PLUGIN);
  return c;
}

Factory open_plugin() {
  std::string tried;
  for (const std::string& path : candidates()) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
      continue;
    }
    auto f = reinterpret_cast<Factory>(dlsym(h, "distclust_torchscript_backbone_v1"));
    if (f) return f;
    tried += "\n  " + path + ": no distclust_torchscript_backbone_v1 in it";
  }
  throw Error(fmt("TorchScript backbones need the LibTorch plugin ", kPluginName,
                  " (built with distclust; set DISTCLUST_TORCH_PLUGIN to its path). Tried:", tried));
}

}  // namespace

std::unique_ptr<Backbone> load_torchscript_backbone(const TorchScriptSpec& spec) {
  static std::mutex mu;
  static Factory factory = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!factory) factory = open_plugin();
  }
  std::string error;
  Backbone* b = factory(&spec, &error);
  if (!b) throw Error(error);
  return std::unique_ptr<Backbone>(b);
}

}  // namespace distclust
