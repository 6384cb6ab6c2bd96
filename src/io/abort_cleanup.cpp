#include "io/abort_cleanup.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace distclust {
namespace {

/// Fixed storage, since a signal handler may read it at any moment: slots
/// are taken and freed under `mu` (the handler only reads).
struct Slot {
  std::atomic<bool> used{false};
  char path[4096] = {0};
};
constexpr int kSlots = 8;
Slot slots[kSlots];
std::mutex mu;

}  // namespace

void remove_at_abnormal_end(const std::string& path, bool on) {
  std::lock_guard<std::mutex> lock(mu);
  for (Slot& s : slots) {
    if (on && !s.used.load() && path.size() < sizeof(s.path)) {
      std::memcpy(s.path, path.c_str(), path.size() + 1);
      s.used.store(true);
      return;
    }
    if (!on && s.used.load() && path == s.path) {
      s.used.store(false);
      return;
    }
  }
}

void remove_registered_files() noexcept {
  for (Slot& s : slots)
    if (s.used.load()) ::unlink(s.path);
}

}  // namespace distclust
