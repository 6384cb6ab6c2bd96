// OUT.tmp of the extract stage: rows written before a "kill" (an object
// destroyed without commit) are found done on reopening with the same hash;
// another hash starts afresh; the same hash with another D is an error.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include <hdf5.h>

#include "io/h5store.h"
#include "extract/extract_output.h"

using namespace distclust;
using extract::FeatureOutput;
using extract::OutputLayout;

namespace {

std::string tmp(const std::string& name) { return testing::TempDir() + "/dc-xout-" + name; }
bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

OutputLayout layout(int64_t d = 3, const std::string& hash = "h1") {
  OutputLayout l;
  l.n = 10;
  l.d = d;
  l.id_len = 6;
  l.hash = hash;
  return l;
}

void write_rows(FeatureOutput& out, RowRange r, int64_t d) {
  const int64_t n = r.size();
  std::vector<float> x(n * d);
  std::vector<uint8_t> valid(n, 1);
  std::vector<int64_t> labels(n);
  std::vector<char> ids(n * 6, '\0');
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = float(10 * (r.begin + i) + j);
    labels[i] = (r.begin + i) % 2;
    const std::string id = "id" + std::to_string(r.begin + i);
    std::copy(id.begin(), id.end(), &ids[i * 6]);
    if (r.begin + i == 4) valid[i] = 0;
  }
  out.write_batch(r, x.data(), valid.data(), labels.data(), ids.data());
}

}  // namespace

TEST(ExtractOutput, KilledFileResumesWithItsDoneRowsAndCommitsWhole) {
  const std::string path = tmp("resume.h5");
  std::remove(path.c_str());
  std::remove((path + ".tmp").c_str());
  LocalCommunicator comm;
  std::string note;
  {
    FeatureOutput out(path, comm, layout(), true, note);
    EXPECT_FALSE(out.resumed());
    EXPECT_TRUE(note.empty());
    write_rows(out, {0, 3}, 3);
    write_rows(out, {6, 8}, 3);
    out.sync_done();  // (write_rows marks rows done at paced syncs)
  }  // "killed": no commit
  ASSERT_TRUE(exists(path + ".tmp"));
  ASSERT_FALSE(exists(path));
  {
    FeatureOutput out(path, comm, layout(), true, note);
    ASSERT_TRUE(out.resumed()) << note;
    EXPECT_EQ(out.done({0, 10}), (std::vector<uint8_t>{1, 1, 1, 0, 0, 0, 1, 1, 0, 0}));
    write_rows(out, {3, 6}, 3);
    write_rows(out, {8, 10}, 3);
    EXPECT_EQ(out.valid({0, 10}), (std::vector<uint8_t>{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}));
    out.attr("backbone", std::string("test"));
    out.commit(1);
  }
  EXPECT_FALSE(exists(path + ".tmp"));
  H5Reader r(path, comm);
  EXPECT_FALSE(r.has("/done")) << "the done flags are dropped on commit";
  auto x = r.read_all<float>("/features");
  ASSERT_EQ(x.size(), 30u);
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(x[i * 3 + 2], float(10 * i + 2));
  EXPECT_EQ(r.read_all<int64_t>("/labels")[7], 1);
  EXPECT_EQ(r.attr_string("config_hash"), "h1");
  EXPECT_EQ(r.attr_string("backbone"), "test");
  EXPECT_EQ(r.info("/ids").dtype, "string");
}

// A power loss keeps what was synced: a row marked done before the file was
// synced after its data could resume as zeros. Each batch's done flags are
// set only by a sync that came after the batch was written; the first batch
// is synced at once, and a failed sync is an error that marks nothing.
TEST(ExtractOutput, RowsAreMarkedDoneOnlyBySyncsAfterTheirData) {
  const std::string path = tmp("sync.h5");
  std::remove((path + ".tmp").c_str());
  LocalCommunicator comm;
  std::string note;
  struct Syncs {
    int64_t written = 0;  ///< rows handed to write_batch so far (0..written)
    int64_t synced = 0;   ///< rows written before the last sync
    int calls = 0, fail_with = 0;
  } syncs;
  FeatureOutput out(path, comm, layout(), false, note);
  out.set_sync_for_test(
      [](const std::string& p, void* ctx) {
        auto& s = *static_cast<Syncs*>(ctx);
        EXPECT_EQ(p.substr(p.size() - 4), ".tmp");
        s.calls++;
        if (!s.fail_with) s.synced = s.written;
        return s.fail_with;
      },
      &syncs);
  for (int64_t b = 0; b < 4; ++b) {
    syncs.written = 2 * (b + 1);
    write_rows(out, {2 * b, 2 * b + 2}, 3);
    const auto done = out.done({0, 10});
    for (int64_t i = 0; i < 10; ++i) {
      if (done[i]) { EXPECT_LT(i, syncs.synced) << "row " << i << " marked done before a sync after it, batch " << b; }
    }
    if (b == 0) {
      EXPECT_EQ(syncs.calls, 1) << "the first batch is synced at once";
      EXPECT_EQ(done, (std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
    }
  }
  syncs.written = 10;
  syncs.fail_with = EIO;
  try {
    write_rows(out, {8, 10}, 3);
    out.sync_done();
    FAIL() << "a failed sync was not an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("syncing " + path + ".tmp failed: "), std::string::npos) << e.what();
  }
  EXPECT_EQ(out.done({8, 10}), (std::vector<uint8_t>{0, 0})) << "rows marked done by a failed sync";
  syncs.fail_with = 0;
  out.sync_done();
  EXPECT_EQ(out.done({0, 10}), std::vector<uint8_t>(10, 1));
}

TEST(ExtractOutput, OtherSettingsStartAfreshAndOtherDimensionIsAnError) {
  const std::string path = tmp("hash.h5");
  std::remove((path + ".tmp").c_str());
  LocalCommunicator comm;
  std::string note;
  {
    FeatureOutput out(path, comm, layout(3, "h1"), true, note);
    write_rows(out, {0, 5}, 3);
  }
  {
    FeatureOutput out(path, comm, layout(3, "h2"), true, note);
    EXPECT_FALSE(out.resumed());
    EXPECT_NE(note.find("made with other settings: config hash h1, now h2"), std::string::npos) << note;
    EXPECT_EQ(out.done({0, 10}), std::vector<uint8_t>(10, 0));
    write_rows(out, {0, 2}, 3);
  }
  {
    FeatureOutput out(path, comm, layout(3, "h2"), false, note);  // resume off: always afresh
    EXPECT_FALSE(out.resumed());
    EXPECT_EQ(out.done({0, 10}), std::vector<uint8_t>(10, 0));
    write_rows(out, {0, 2}, 3);
  }
  try {
    FeatureOutput out(path, comm, layout(4, "h2"), true, note);
    FAIL() << "no error for another D under the same hash";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/features is 10 x 3 but the backbone now gives 10 x 4"), std::string::npos)
        << e.what();
  }
}

TEST(ExtractOutput, DamagedTemporaryFileIsReplaced) {
  const std::string path = tmp("damaged.h5");
  {
    FILE* f = std::fopen((path + ".tmp").c_str(), "w");
    std::fputs("half-written garbage", f);
    std::fclose(f);
  }
  LocalCommunicator comm;
  std::string note;
  FeatureOutput out(path, comm, layout(), true, note);
  EXPECT_FALSE(out.resumed());
  EXPECT_NE(note.find("not a readable HDF5 file"), std::string::npos) << note;
  write_rows(out, {0, 10}, 3);
  out.commit(1);
  EXPECT_TRUE(exists(path));
}

// A job stopped in its commit, after /done was removed and the file closed,
// before the rename: the file holds every row. It was taken for a damaged
// one ("its datasets do not have the expected layout") and every image
// extracted again. Without invalid_rows (what commit writes once every
// rank's rows are synced) a file lacking /done is still not trusted.
TEST(ExtractOutput, FileStoppedInItsCommitResumesWithEveryRowDone) {
  const std::string path = tmp("commit-window.h5");
  std::remove(path.c_str());
  LocalCommunicator comm;
  std::string note;
  auto stopped_in_commit = [&](bool with_invalid_rows) {
    {
      FeatureOutput out(path, comm, layout(), false, note);
      write_rows(out, {0, 10}, 3);
    }
    hid_t f = H5Fopen((path + ".tmp").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Ldelete(f, "/done", H5P_DEFAULT);
    if (with_invalid_rows) {
      hid_t sp = H5Screate(H5S_SCALAR);
      hid_t a = H5Acreate2(f, "invalid_rows", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT);
      const int64_t one = 1;
      H5Awrite(a, H5T_NATIVE_INT64, &one);
      H5Aclose(a);
      H5Sclose(sp);
    }
    H5Fclose(f);
  };
  stopped_in_commit(true);
  {
    FeatureOutput out(path, comm, layout(), true, note);
    ASSERT_TRUE(out.resumed()) << note;
    EXPECT_EQ(out.done({0, 10}), std::vector<uint8_t>(10, 1));
    EXPECT_EQ(out.valid({0, 10}), (std::vector<uint8_t>{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}));
    out.commit(1);
  }
  ASSERT_TRUE(exists(path));
  {
    H5Reader r(path, comm);
    EXPECT_FALSE(r.has("/done"));
    auto x = r.read_all<float>("/features");
    for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(x[i * 3 + 1], float(10 * i + 1));
  }
  std::remove(path.c_str());
  stopped_in_commit(false);
  FeatureOutput out(path, comm, layout(), true, note);
  EXPECT_FALSE(out.resumed());
  EXPECT_NE(note.find("do not have the expected layout"), std::string::npos) << note;
}
