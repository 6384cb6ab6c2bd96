#include "comm/collective_watch.h"

#include <atomic>
#include <cstdlib>

#include "comm/watched_wait.h"

namespace distclust {
namespace {
// Entries and exits of outermost scopes, the threads inside one and those
// of them in a call that gives up by itself, in one word so the watcher
// reads them together: bits 32.. count the changes, bits 16..31 the
// self-timed threads, bits 0..15 the threads inside. Two threads may be
// inside at once (the kNN ring's pass-on thread beside the main one's
// visit): with one odd/even counter their two entries read as "outside",
// and a rank stuck there was never timed out; and one flag for "self-timed"
// kept the last entrant's value after it left.
constexpr uint64_t kChange = uint64_t(1) << 32, kSelfTimed = uint64_t(1) << 16, kThreads = kSelfTimed - 1;
std::atomic<uint64_t> g_state{0};
std::atomic<const char*> g_what{nullptr};
thread_local bool t_self_timed = false;
thread_local int t_depth = 0;

}  // namespace

CollectiveScope::CollectiveScope(const char* what, bool self_timed) noexcept {
  if (t_depth++ > 0) return;
  g_what.store(what, std::memory_order_relaxed);
  t_self_timed = self_timed;
  g_state.fetch_add(kChange + 1 + (self_timed ? kSelfTimed : 0), std::memory_order_release);  // one more inside
}

CollectiveScope::~CollectiveScope() {
  if (--t_depth > 0) return;
  const uint64_t was =
      g_state.fetch_add(kChange - 1 - (t_self_timed ? kSelfTimed : 0), std::memory_order_release);  // one fewer
  // The last one out clears the name; with another still inside, the name
  // may be this call's (the watcher names "a collective call" at worst).
  if ((was & kThreads) == 1) g_what.store(nullptr, std::memory_order_relaxed);
}

CollectiveState collective_state() noexcept {
  CollectiveState s;
  const uint64_t st = g_state.load(std::memory_order_acquire);
  s.seq = st;
  s.threads = int(st & kThreads);
  s.what = g_what.load(std::memory_order_relaxed);
  // Self-timed only when every thread inside is: a plain MPI wait beside
  // an NCCL one is the watcher's to time.
  s.self_timed = s.inside() && int((st / kSelfTimed) & kThreads) == s.threads;
  if (!s.inside())
    s.what = nullptr;
  else if (!s.what)
    s.what = "a collective call";  // read between the two stores
  return s;
}

const char* collective_timeout_variable() {
  const char* v = std::getenv("DISTCLUST_COLLECTIVE_TIMEOUT");
  const char* old = std::getenv("DISTCLUST_NCCL_TIMEOUT");
  return (!v || !*v) && old && *old ? "DISTCLUST_NCCL_TIMEOUT" : "DISTCLUST_COLLECTIVE_TIMEOUT";
}

double collective_timeout_seconds() {
  return seconds_from_env(collective_timeout_variable(), 1800, 1, "no limit");
}

}  // namespace distclust
