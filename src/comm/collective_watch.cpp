#include "comm/collective_watch.h"

#include <atomic>
#include <cstdlib>

#include "comm/watched_wait.h"

namespace distclust {
namespace {
std::atomic<uint64_t> g_seq{0};
std::atomic<const char*> g_what{nullptr};
std::atomic<bool> g_self_timed{false};
thread_local int t_depth = 0;
}  // namespace

CollectiveScope::CollectiveScope(const char* what, bool self_timed) noexcept {
  if (t_depth++ > 0) return;
  g_what.store(what, std::memory_order_relaxed);
  g_self_timed.store(self_timed, std::memory_order_relaxed);
  g_seq.fetch_add(1, std::memory_order_release);  // odd: inside
}

CollectiveScope::~CollectiveScope() {
  if (--t_depth > 0) return;
  g_seq.fetch_add(1, std::memory_order_release);  // even: outside
  g_what.store(nullptr, std::memory_order_relaxed);
}

CollectiveState collective_state() noexcept {
  CollectiveState s;
  s.seq = g_seq.load(std::memory_order_acquire);
  s.what = g_what.load(std::memory_order_relaxed);
  s.self_timed = s.inside() && g_self_timed.load(std::memory_order_relaxed);
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
