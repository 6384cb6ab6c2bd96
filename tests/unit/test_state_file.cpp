// Checkpoint state files (io/state_file.h): round trip and the checksum that
// refuses a state whose bytes changed on disk; the pace of saves.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
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
