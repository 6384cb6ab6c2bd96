// Where the LibTorch kernel's time goes, per phase (SearchKernel::
// time_report): on a GPU each mark records a timing event on the current
// stream, so the clock adds no synchronisation (settle() reads the events
// where the host waits for the device anyway); on CPU tensors the work is
// synchronous and a mark reads the host clock. A phase's time is the span
// from the mark before it to its own mark: on a GPU that includes the idle
// gaps while the host launches its kernels, which is where launch-bound
// phases show up. Plugin side (includes LibTorch).
#pragma once

#include <torch/torch.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#if DISTCLUST_TORCH_CUDA
#if __has_include(<c10/cuda/CUDAEvent.h>)
#include <c10/cuda/CUDAEvent.h>
#endif
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace distclust {
namespace torch_search {

/// The kernel's phases, in report order.
enum class Phase { upload, operands, gemm, select, rescore, merge, sums, reduce, download, count };

class PhaseClock {
 public:
  explicit PhaseClock(const torch::Device& dev) : dev_(dev) {}
  /// Starts a span (nothing is attributed to the time before it).
  void start();
  /// The time since the previous mark (or start) goes to phase p.
  void mark(Phase p);
  /// Adds the marks so far to the totals; on a GPU it waits for the last
  /// event (call it where the host waits for the device anyway).
  void settle();
  /// "gemm 1.23 s (61%), select 0.40 s (20%), ...; <note>; device events"
  /// (largest first, empty phases left out; note: the caller's, left out
  /// when empty; empty before any mark).
  std::string report(const std::string& note = "") const;

 private:
#if DISTCLUST_TORCH_CUDA
#if __has_include(<c10/cuda/CUDAEvent.h>)
  using Event = c10::cuda::CUDAEvent;
#else
  using Event = at::cuda::CUDAEvent;
#endif
  std::vector<Event> events_;  ///< events_[0]: the span's start; then one per mark
  size_t used_ = 0;
#endif
  torch::Device dev_;
  std::vector<Phase> marks_;   ///< phase of each mark since the last settle
  std::chrono::steady_clock::time_point last_{};
  std::array<double, size_t(Phase::count)> total_{};
};

}  // namespace torch_search
}  // namespace distclust
