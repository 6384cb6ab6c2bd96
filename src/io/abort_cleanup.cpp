#include "io/abort_cleanup.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace distclust {
namespace {

/// Fixed storage, since a signal handler may read it at any moment: slots
/// are taken and freed under `mu`; readers (a handler, the heartbeat's or
/// the full-disk watch's abort, on any thread) take no lock. `gen` is odd
/// while a slot changes: a reader copies the path and keeps it only when
/// `gen` was even and the same before and after, so a slot freed and
/// taken again for another path meanwhile is never unlinked half one name
/// and half the other.
struct Slot {
  std::atomic<unsigned> gen{0};
  std::atomic<bool> used{false};
  char path[4096] = {0};
};
constexpr int kSlots = 8;
Slot slots[kSlots];
std::mutex mu;

/// Runs `change` on s between two increments of s.gen (the writer side).
template <class F>
void change_slot(Slot& s, F change) {
  s.gen.fetch_add(1, std::memory_order_relaxed);
  // The odd count before any byte of the change (a release increment alone
  // orders what comes before it, not after: the new path could be seen
  // with the old, even count on ARM).
  std::atomic_thread_fence(std::memory_order_release);
  change();
  s.gen.fetch_add(1, std::memory_order_release);
}

}  // namespace

void remove_at_abnormal_end(const std::string& path, bool on) {
  std::lock_guard<std::mutex> lock(mu);
  for (Slot& s : slots) {
    if (on && !s.used.load() && path.size() < sizeof(s.path)) {
      change_slot(s, [&] {
        std::memcpy(s.path, path.c_str(), path.size() + 1);
        s.used.store(true);
      });
      return;
    }
    if (!on && s.used.load() && path == s.path) {
      change_slot(s, [&] { s.used.store(false); });
      return;
    }
  }
}

void remove_registered_files() noexcept {
  for (Slot& s : slots) {
    const unsigned before = s.gen.load(std::memory_order_acquire);
    if ((before & 1) != 0 || !s.used.load()) continue;
    char copy[sizeof(s.path)];
    std::memcpy(copy, s.path, sizeof(copy));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.gen.load(std::memory_order_relaxed) != before) continue;  // changed while copied
    copy[sizeof(copy) - 1] = 0;
    ::unlink(copy);
  }
}

}  // namespace distclust
