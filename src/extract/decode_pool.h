// The decode pool: worker threads read, decode and preprocess the rows of a
// planned list of batches ahead of the backbone, into a bounded ring of
// `depth` batch buffers. Memory is depth x batch x row_floats floats whatever
// the number of rows; the consumer takes batches strictly in list order.
//
// Workers claim single rows (not whole batches), so all of them work on the
// oldest unfinished batch first: a batch is ready as soon as possible and a
// slow image delays one batch, not one worker's share. A row that cannot be
// read, decoded or preprocessed becomes an invalid row: zeros, valid = 0 and
// the reason kept for the consumer to log (workers never log or throw).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "distclust/comm.h"
#include "extract/decode.h"
#include "extract/image_source.h"

namespace distclust {

/// Turns one decoded image (H x W CV_8UC3 RGB) into row_floats floats at out.
/// May throw (the row is then invalid); called from many threads at once.
using RowPreprocessor = std::function<void(const cv::Mat& rgb, float* out)>;

/// A finished batch, valid until DecodePool::release().
struct ReadyBatch {
  int64_t index = 0;                          ///< position in the planned list
  RowRange rows;                              ///< global rows [begin, end)
  const float* x = nullptr;                   ///< [rows.size() x row_floats], zeros for invalid rows
  const uint8_t* valid = nullptr;             ///< [rows.size()], 1 = decoded and preprocessed
  const std::vector<std::string>* reasons = nullptr;  ///< [rows.size()], why a row is invalid ("" when valid)
};

class DecodePool {
 public:
  /// Starts `threads` workers over `batches` (each a non-empty row range of
  /// src) with `depth` >= 1 buffers of max batch size. Workers begin at once.
  DecodePool(const ImageSource& src, const DecodeParams& decode, RowPreprocessor prep, int64_t row_floats,
             std::vector<RowRange> batches, int threads, int depth);
  /// Stops and joins the workers (a batch being built is abandoned).
  ~DecodePool();
  DecodePool(const DecodePool&) = delete;
  DecodePool& operator=(const DecodePool&) = delete;

  /// Number of planned batches.
  int64_t size() const { return static_cast<int64_t>(batches_.size()); }
  /// Blocks until the next batch (in list order) is complete. Call release()
  /// before the next call; calling past the end is an Error.
  ReadyBatch next();
  /// Gives the current batch's buffer back to the workers.
  void release();
  /// Seconds next() spent waiting for workers (decode-bound time).
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Slot {
    int64_t batch = -1;  // batch held, -1 = none
    int64_t remaining = 0;
    std::vector<float> x;
    std::vector<uint8_t> valid;
    std::vector<std::string> reasons;
  };
  void work();
  void do_row(Slot& slot, int64_t batch, int64_t j);

  const ImageSource& src_;
  DecodeParams decode_;
  RowPreprocessor prep_;
  int64_t row_floats_;
  std::vector<RowRange> batches_;
  std::vector<Slot> slots_;

  std::mutex mu_;
  std::condition_variable space_, ready_;
  int64_t claim_batch_ = 0, claim_row_ = 0;  // next row to hand out
  int64_t released_ = 0;                     // batches given back by the consumer
  bool holding_ = false, stop_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> workers_;
};

/// Splits the row ranges into batches of at most `batch` rows, never
/// crossing a range boundary (so every batch is one contiguous write).
std::vector<RowRange> plan_batches(const std::vector<RowRange>& ranges, int64_t batch);

}  // namespace distclust
