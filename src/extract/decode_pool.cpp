// Decode workers feeding a bounded ring of batch buffers (decode_pool.h).
#include "extract/decode_pool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>

#include "distclust/error.h"

namespace distclust {

std::vector<RowRange> plan_batches(const std::vector<RowRange>& ranges, int64_t batch) {
  require(batch >= 1, "plan_batches: batch ", batch, " (expected >= 1)");
  std::vector<RowRange> out;
  for (const RowRange& r : ranges)
    for (int64_t b = r.begin; b < r.end; b += batch) out.push_back({b, std::min(r.end, b + batch)});
  return out;
}

DecodePool::DecodePool(const ImageSource& src, const DecodeParams& decode, RowPreprocessor prep,
                       int64_t row_floats, std::vector<RowRange> batches, int threads, int depth)
    : src_(src), decode_(decode), prep_(std::move(prep)), row_floats_(row_floats), batches_(std::move(batches)) {
  require(threads >= 1 && depth >= 1 && row_floats >= 1, "decode pool: threads ", threads, ", depth ", depth,
          ", row size ", row_floats, " (expected >= 1 each)");
  int64_t max_rows = 0;
  for (const RowRange& b : batches_) {
    require(b.size() >= 1, "decode pool: empty batch [", b.begin, ", ", b.end, ")");
    max_rows = std::max(max_rows, b.size());
  }
  slots_.resize(static_cast<size_t>(std::min<int64_t>(depth, std::max<int64_t>(1, size()))));
  for (Slot& s : slots_) {
    s.x.resize(static_cast<size_t>(max_rows * row_floats_));
    s.valid.resize(static_cast<size_t>(max_rows));
    s.reasons.resize(static_cast<size_t>(max_rows));
  }
  const int n = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, size() * max_rows)));
  for (int t = 0; t < n; ++t) workers_.emplace_back([this] { work(); });
}

DecodePool::~DecodePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  space_.notify_all();
  ready_.notify_all();
  for (auto& t : workers_) t.join();
}

void DecodePool::work() {
  const int64_t depth = static_cast<int64_t>(slots_.size());
  for (;;) {
    int64_t batch, j;
    Slot* slot;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wait for a free buffer: batch k uses slot k % depth, free once batch
      // k - depth has been released.
      space_.wait(lock, [&] { return stop_ || claim_batch_ >= size() || claim_batch_ < released_ + depth; });
      if (stop_ || claim_batch_ >= size()) return;
      batch = claim_batch_;
      j = claim_row_;
      slot = &slots_[static_cast<size_t>(batch % depth)];
      if (j == 0) {
        slot->batch = batch;
        slot->remaining = batches_[batch].size();
      }
      if (++claim_row_ == batches_[batch].size()) ++claim_batch_, claim_row_ = 0;
    }
    do_row(*slot, batch, j);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--slot->remaining == 0) ready_.notify_all();
    }
  }
}

void DecodePool::do_row(Slot& slot, int64_t batch, int64_t j) {
  float* out = slot.x.data() + j * row_floats_;
  std::string reason;
  try {
    DecodeResult r = load_image(src_, batches_[batch].begin + j, decode_);
    if (r.ok) prep_(r.rgb, out);
    else reason = r.reason.empty() ? "cannot decode" : r.reason;
  } catch (const std::exception& e) {
    reason = fmt("preprocessing failed: ", e.what());
  } catch (...) {
    reason = "preprocessing failed";
  }
  if (!reason.empty()) std::memset(out, 0, sizeof(float) * row_floats_);
  slot.valid[j] = reason.empty() ? 1 : 0;
  slot.reasons[j] = std::move(reason);
}

ReadyBatch DecodePool::next() {
  std::unique_lock<std::mutex> lock(mu_);
  require(!holding_, "decode pool: next() called before release()");
  require(released_ < size(), "decode pool: all ", size(), " batches were taken");
  Slot& slot = slots_[static_cast<size_t>(released_ % static_cast<int64_t>(slots_.size()))];
  auto t0 = std::chrono::steady_clock::now();
  ready_.wait(lock, [&] { return slot.batch == released_ && slot.remaining == 0; });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  holding_ = true;
  ReadyBatch b;
  b.index = released_;
  b.rows = batches_[released_];
  b.x = slot.x.data();
  b.valid = slot.valid.data();
  b.reasons = &slot.reasons;
  return b;
}

void DecodePool::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    require(holding_, "decode pool: release() without next()");
    holding_ = false;
    ++released_;
  }
  space_.notify_all();
}

}  // namespace distclust
