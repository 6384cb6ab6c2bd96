// Checkpoint state files (io/state_file.h): round trip and the checksum that
// refuses a state whose bytes changed on disk; the pace of saves.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/checkpoint_pace.h"
#include "io/state_file.h"

using namespace distclust;
using test::error_of;

namespace {

struct TestState {
  std::string key;
  int step = 0;
  int64_t count = 0;
  double loss = 0;
  bool done = false;
  std::vector<float> values;
  std::vector<int64_t> ids;
  template <class V> void visit(V& v) {
    v("key", key);
    v("step", step);
    v("count", count);
    v("loss", loss);
    v("done", done);
    v("values", values);
    v("ids", ids);
  }
};

TestState sample() {
  TestState s;
  s.key = "params=abc|features=def";
  s.step = 7, s.count = 123456789, s.loss = 0.625, s.done = true;
  s.values = test::randn(4096, 1, 5);
  for (int64_t i = 0; i < 1000; ++i) s.ids.push_back(i * 3);
  return s;
}

void expect_same(const TestState& a, const TestState& b) {
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.done, b.done);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.ids, b.ids);
}

}  // namespace

TEST(StateFile, RoundTripsEveryFieldType) {
  const std::string path = test::tmp("state-roundtrip.ckpt");
  TestState s = sample(), back;
  write_state_file(path, s);
  read_state_file(path, back);
  expect_same(s, back);
  std::remove(path.c_str());
}

TEST(StateFile, ZerosWrittenOverADatasetAreRefused) {
  // HDF5 checks no dataset bytes: without the checksum these zeros read
  // back without error and a job would resume from them.
  const std::string path = test::tmp("state-zeroed.ckpt");
  TestState s = sample(), back;
  write_state_file(path, s);
  ASSERT_TRUE(test::zero_bytes_of(path, s.values.data() + 2000, 64));
  const std::string e = error_of([&] { read_state_file(path, back); });
  EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;

  // load_state (what the stages call) counts it as unusable: false, the
  // state untouched, and the stage starts that work afresh.
  LocalCommunicator c;
  TestState mine;
  mine.step = -1;
  EXPECT_FALSE(load_state<TestState>(path, mine, c, nullptr));
  EXPECT_EQ(mine.step, -1);
  std::remove(path.c_str());
}

TEST(StateFile, ChangedScalarAttributeIsRefused) {
  // The same check covers the scalars (attributes): a state whose step
  // changed is not this state.
  const std::string path = test::tmp("state-attr.ckpt");
  TestState s = sample(), back;
  s.key = "a key only this test writes: 0123456789";
  write_state_file(path, s);
  ASSERT_TRUE(test::zero_bytes_of(path, "0123456789", 10));
  EXPECT_NE(error_of([&] { read_state_file(path, back); }).find("checksum mismatch"), std::string::npos);
  std::remove(path.c_str());
}

TEST(StateChecksum, PairedSignFlipsAndSwapsChangeTheHash) {
  // Flipping bit 63 of two words (two floats at odd indices, two doubles,
  // two int64) cancelled out in an FNV-style (h ^ w) * P: a k-means state
  // with two centroid values negated was resumed.
  auto hash = [](const auto& v) {
    StateChecksum s;
    s.add("v", v);
    return s.hex();
  };
  std::vector<float> f = test::randn(64, 1, 3);
  std::vector<float> g = f;
  g[1] = -g[1], g[3] = -g[3];
  EXPECT_NE(hash(f), hash(g));
  std::vector<double> d(f.begin(), f.end()), e = d;
  e[5] = -e[5], e[40] = -e[40];
  EXPECT_NE(hash(d), hash(e));
  std::vector<int64_t> a(32, 7), b = a;
  const int64_t sign = static_cast<int64_t>(uint64_t(1) << 63);
  b[0] ^= sign, b[9] ^= sign;
  EXPECT_NE(hash(a), hash(b));
  std::vector<float> s = f;
  std::swap(s[0], s[1]);
  EXPECT_NE(hash(f), hash(s));
  // Every single bit of a 24-byte vector, and the empty vector, hash apart.
  std::vector<int64_t> base(3, 0);
  std::set<std::string> seen{hash(base), hash(std::vector<int64_t>{})};
  for (int w = 0; w < 3; ++w)
    for (int bit = 0; bit < 64; ++bit) {
      std::vector<int64_t> x = base;
      x[size_t(w)] ^= int64_t(uint64_t(1) << bit);
      seen.insert(hash(x));
    }
  EXPECT_EQ(seen.size(), 2u + 3 * 64);
}

TEST(StateFile, StateWrittenWithoutChecksumIsStillRead) {
  // A checkpoint of a version before checksums: read as it is.
  const std::string path = test::tmp("state-old.ckpt");
  TestState s = sample(), back;
  {
    LocalCommunicator self;
    H5Writer w(path, self, /*checkpoint=*/true);
    state_detail::Writer v{w, {}};
    s.visit(v);
    w.commit();
  }
  read_state_file(path, back);
  expect_same(s, back);
  std::remove(path.c_str());
}

TEST(CheckpointPace, FirstSaveIsDueThenTheFloorAndTheRatioHoldTheNext) {
  CheckpointPace first;
  EXPECT_TRUE(first.due_here());
  EXPECT_LT(first.last_seconds(), 0);

  // A floor of an hour: not due again after a save, whatever its duration.
  CheckpointPace floor(/*ratio=*/0, /*min_seconds=*/3600);
  floor.save([] {});
  EXPECT_GE(floor.last_seconds(), 0);
  EXPECT_FALSE(floor.due_here());

  // No floor, ratio 0: due again at once.
  CheckpointPace at_once(/*ratio=*/0, /*min_seconds=*/0);
  at_once.save([] {});
  EXPECT_TRUE(at_once.due_here());

  // A save that took 20 ms with ratio 1e6: due only after ~5.5 hours.
  CheckpointPace ratio(/*ratio=*/1e6, /*min_seconds=*/0);
  ratio.save([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
  EXPECT_FALSE(ratio.due_here());
  LocalCommunicator c;
  EXPECT_FALSE(ratio.due(c));
}
