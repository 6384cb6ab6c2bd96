// PhaseClock (phase_clock_torch.h).
#include "kernels/phase_clock_torch.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#if DISTCLUST_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace distclust {
namespace torch_search {
namespace {
constexpr const char* kNames[] = {"upload", "operands", "gemm", "select", "rescore",
                                  "merge", "sums", "reduce", "download"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == size_t(Phase::count), "a name per phase");
}  // namespace

void PhaseClock::start() {
  settle();
#if DISTCLUST_TORCH_CUDA
  if (dev_.is_cuda()) {
    if (events_.empty()) events_.emplace_back(cudaEventDefault);  // timing enabled
    events_[0].record(c10::cuda::getCurrentCUDAStream(dev_.index()));
    used_ = 1;
    return;
  }
#endif
  last_ = std::chrono::steady_clock::now();
}

void PhaseClock::mark(Phase p) {
#if DISTCLUST_TORCH_CUDA
  if (dev_.is_cuda()) {
    if (used_ == 0) return;  // no span started
    if (used_ == events_.size()) events_.emplace_back(cudaEventDefault);
    events_[used_++].record(c10::cuda::getCurrentCUDAStream(dev_.index()));
    marks_.push_back(p);
    return;
  }
#endif
  const auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{})
    total_[size_t(p)] += std::chrono::duration<double>(now - last_).count();
  last_ = now;
}

void PhaseClock::settle() {
#if DISTCLUST_TORCH_CUDA
  if (dev_.is_cuda() && used_ > 1) {
    events_[used_ - 1].synchronize();
    for (size_t i = 1; i < used_; ++i)
      total_[size_t(marks_[i - 1])] += double(events_[i - 1].elapsed_time(events_[i])) / 1e3;
    // The last mark starts the next span.
    std::swap(events_[0], events_[used_ - 1]);
    used_ = 1;
  }
#endif
  marks_.clear();
}

std::string PhaseClock::report(const std::string& note) const {
  const double all = std::accumulate(total_.begin(), total_.end(), 0.0);
  if (all <= 0) return "";
  std::vector<size_t> order(total_.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return total_[a] > total_[b]; });
  std::string out;
  char buf[96];
  for (size_t i : order) {
    if (total_[i] <= 0) continue;
    std::snprintf(buf, sizeof(buf), "%s%s %.3g s (%.0f%%)", out.empty() ? "" : ", ", kNames[i], total_[i],
                  100.0 * total_[i] / all);
    out += buf;
  }
  if (!note.empty()) out += "; " + note;
  return out + (dev_.is_cuda() ? "; device events" : "; host clock");
}

}  // namespace torch_search
}  // namespace distclust
