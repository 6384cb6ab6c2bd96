// The decode pool: batches come out complete and in order whatever the
// thread count, bad rows become invalid rows with a reason, and workers never
// run more than `depth` batches ahead of the consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "extract/decode_pool.h"
#include "distclust/error.h"

using namespace distclust;

namespace {

// N images in memory: row i is a 2 x 3 image filled with i % 251; rows in
// `bad` cannot be read; rows in `slow` take a few ms.
class MemorySource : public ImageSource {
 public:
  MemorySource(int64_t n, std::vector<int64_t> bad = {}, std::vector<int64_t> slow = {})
      : n_(n), bad_(std::move(bad)), slow_(std::move(slow)) {
    path_ = "memory";
  }
  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override { return "mem:" + std::to_string(i); }
  int64_t label(int64_t i) const override { return i % 3; }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t i) const override {
    check_row(i);
    for (int64_t b : bad_)
      if (b == i) throw Error(fmt("mem:", i, ": cannot read"));
    for (int64_t s : slow_)
      if (s == i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    RawImage r;
    r.encoded = false;
    r.pixels = cv::Mat(2, 3, CV_8UC3, cv::Scalar::all(double(i % 251)));
    return r;
  }
  std::string kind() const override { return "memory"; }

 private:
  int64_t n_;
  std::vector<int64_t> bad_, slow_;
};

// Row i -> {first pixel value, rows, cols}.
void prep3(const cv::Mat& rgb, float* out) {
  out[0] = rgb.at<cv::Vec3b>(0, 0)[0];
  out[1] = float(rgb.rows);
  out[2] = float(rgb.cols);
}

// The same, refusing images of value 13 (a preprocessing failure).
void prep3_picky(const cv::Mat& rgb, float* out) {
  require(rgb.at<cv::Vec3b>(0, 0)[0] != 13, "value 13 is refused");
  prep3(rgb, out);
}

}  // namespace

TEST(ExtractPool, PlanBatchesSplitsRangesWithoutCrossingThem) {
  auto b = plan_batches({{0, 5}, {7, 8}, {10, 20}}, 4);
  std::vector<std::pair<int64_t, int64_t>> got;
  for (auto r : b) got.emplace_back(r.begin, r.end);
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {4, 5}, {7, 8}, {10, 14}, {14, 18}, {18, 20}}));
  EXPECT_TRUE(plan_batches({}, 4).empty());
  EXPECT_THROW(plan_batches({{0, 3}}, 0), Error);
}

TEST(ExtractPool, BatchesArriveInOrderWithEveryRowForAnyThreadCount) {
  MemorySource src(103, {}, {5, 17, 40, 41, 99});
  auto batches = plan_batches({{0, 50}, {60, 103}}, 8);
  for (int threads : {1, 2, 5}) {
    for (int depth : {1, 3}) {
      DecodePool pool(src, {}, prep3, 3, batches, threads, depth);
      ASSERT_EQ(pool.size(), int64_t(batches.size()));
      for (int64_t k = 0; k < pool.size(); ++k) {
        ReadyBatch b = pool.next();
        EXPECT_EQ(b.index, k);
        EXPECT_EQ(b.rows.begin, batches[k].begin);
        EXPECT_EQ(b.rows.end, batches[k].end);
        for (int64_t j = 0; j < b.rows.size(); ++j) {
          const int64_t row = b.rows.begin + j;
          ASSERT_EQ(b.valid[j], 1) << row;
          EXPECT_EQ(b.x[3 * j], float(row % 251));
          EXPECT_EQ(b.x[3 * j + 1], 2.0f);
          EXPECT_EQ(b.x[3 * j + 2], 3.0f);
        }
        pool.release();
      }
      EXPECT_THROW(pool.next(), Error);
    }
  }
}

TEST(ExtractPool, UnreadableAndRefusedRowsBecomeInvalidWithTheirReason) {
  MemorySource src(20, {4, 11});
  DecodePool pool(src, {}, prep3_picky, 3, plan_batches({{0, 20}}, 6), 2, 2);
  int64_t invalid = 0;
  for (int64_t k = 0; k < pool.size(); ++k) {
    ReadyBatch b = pool.next();
    for (int64_t j = 0; j < b.rows.size(); ++j) {
      const int64_t row = b.rows.begin + j;
      const std::string& why = (*b.reasons)[j];
      if (row == 4 || row == 11) {
        EXPECT_EQ(b.valid[j], 0);
        EXPECT_NE(why.find("mem:" + std::to_string(row) + ": cannot read"), std::string::npos) << why;
      } else if (row == 13) {
        EXPECT_EQ(b.valid[j], 0);
        EXPECT_NE(why.find("preprocessing failed: value 13 is refused"), std::string::npos) << why;
      } else {
        EXPECT_EQ(b.valid[j], 1);
        EXPECT_TRUE(why.empty());
        continue;
      }
      ++invalid;
      for (int c = 0; c < 3; ++c) EXPECT_EQ(b.x[3 * j + c], 0.0f) << "invalid rows are zeros";
    }
    pool.release();
  }
  EXPECT_EQ(invalid, 3);
}

TEST(ExtractPool, WorkersStayWithinDepthBatchesOfTheConsumer) {
  // Memory bound: with depth D, no row of batch k is started before batch
  // k - D is released.
  constexpr int64_t kBatch = 4, kDepth = 2;
  MemorySource src(64);
  std::atomic<int64_t> released{0}, violations{0};
  RowPreprocessor prep = [&](const cv::Mat& rgb, float* out) {
    const int64_t row = rgb.at<cv::Vec3b>(0, 0)[0];
    if (row / kBatch >= released.load() + kDepth) ++violations;
    out[0] = float(row);
  };
  DecodePool pool(src, {}, prep, 1, plan_batches({{0, 64}}, kBatch), 4, kDepth);
  for (int64_t k = 0; k < pool.size(); ++k) {
    ReadyBatch b = pool.next();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow backbone
    EXPECT_EQ(b.x[0], float(b.rows.begin));
    ++released;
    pool.release();
  }
  EXPECT_EQ(violations.load(), 0);
}

TEST(ExtractPool, StopsCleanlyWhenDestroyedEarly) {
  MemorySource src(1000, {}, {1, 2, 3});
  auto pool = std::make_unique<DecodePool>(src, DecodeParams{}, prep3, 3, plan_batches({{0, 1000}}, 10), 3, 2);
  pool->next();
  pool.reset();  // joins the workers although most batches were never taken
  SUCCEED();
}
