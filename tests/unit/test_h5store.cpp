// Feature files: round trips and the errors users see for bad files.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "extract/features_file.h"
#include "io/h5store.h"
#include "io/input_watch.h"
#include "io/out_dir.h"
#include "io/row_columns.h"
#include "kernels/compute_env.h"

using namespace distclust;
using test::error_of;

namespace {
std::string tmp(const std::string& name) { return testing::TempDir() + "/dc-h5-" + name; }
FeatureBlock block(int64_t n, int64_t d) {
  FeatureBlock b;
  b.n_total = n, b.d = d, b.rows = {0, n};
  b.x.resize(n * d);
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = float(i) * 0.25f;
  b.labels.assign(n, 1);
  b.valid.assign(n, 1);
  return b;
}
}  // namespace

TEST(H5Store, MissingEmptyDirectoryAndNonHdf5FilesAreNamed) {
  LocalCommunicator c;
  EXPECT_NE(error_of([&] { read_features("/nonexistent/f.h5", c); }).find("/nonexistent/f.h5 does not exist"),
            std::string::npos);
  std::string dir = tmp("adir");
  mkdir(dir.c_str(), 0755);
  EXPECT_NE(error_of([&] { read_features(dir, c); }).find("is a directory"), std::string::npos);
  std::string empty = tmp("empty.h5");
  std::ofstream(empty).close();
  EXPECT_NE(error_of([&] { read_features(empty, c); }).find("is empty (0 bytes)"), std::string::npos);
  std::string text = tmp("text.h5");
  std::ofstream(text) << "not hdf5";
  EXPECT_NE(error_of([&] { read_features(text, c); }).find("is not an HDF5 file"), std::string::npos);
}

TEST(H5Store, MissingDatasetWrongShapeAndDtypeAreNamed) {
  LocalCommunicator c;
  std::string p = tmp("nofeat.h5");
  {
    H5Writer w(p, c);
    std::vector<int64_t> v(10, 1);
    w.write_all<int64_t>("/labels", {10}, v.data());
    w.commit();
  }
  std::string e = error_of([&] { read_features(p, c); });
  EXPECT_NE(e.find("no dataset /features (file holds /labels)"), std::string::npos) << e;
  std::string q = tmp("intfeat.h5");
  {
    H5Writer w(q, c);
    std::vector<int32_t> v(12, 1);
    w.write_all<int32_t>("/features", {3, 4}, v.data());
    w.commit();
  }
  e = error_of([&] { read_features(q, c); });
  EXPECT_NE(e.find("/features has type int32, expected float32, float16 or float64"), std::string::npos) << e;
  std::string r = tmp("badlabels.h5");
  {
    FeatureBlock b = block(5, 2);
    H5Writer w(r, c);
    w.write_all<float>("/features", {5, 2}, b.x.data());
    w.write_all<int64_t>("/labels", {4}, b.labels.data());
    w.commit();
  }
  e = error_of([&] { read_features(r, c); });
  EXPECT_NE(e.find("/labels is 4 int64: expected one value per row, [5] or [5 x 1]"), std::string::npos) << e;
}

TEST(H5Store, NanRowsAreReportedWithRow) {
  LocalCommunicator c;
  FeatureBlock b = block(6, 3);
  b.x[4 * 3 + 1] = NAN;
  b.x[5 * 3] = INFINITY;
  std::string e = error_of([&] { check_finite(b, "f.h5", c); });
  EXPECT_NE(e.find("f.h5: /features row 4 holds NaN or Inf (2 such rows in all)"), std::string::npos) << e;
  b.valid[4] = b.valid[5] = 0;  // invalid rows may hold anything
  EXPECT_NO_THROW(check_finite(b, "f.h5", c));
}

TEST(H5Store, DenormalOnlyRowsAreRefusedUnderFlushToZero) {
  // distclust runs with denormals flushed to zero (compute_env), so features
  // scaled to 1e-39 read as all-zero data and every stage ran on zeros with
  // no error; the check reads the values' bits, which the flush cannot hide.
#if defined(__x86_64__) || defined(__i386__)
  const unsigned saved = _mm_getcsr();
  compute_env::flush_denormals();
#endif
  LocalCommunicator c;
  FeatureBlock b = block(6, 3);
  b.x[2 * 3] = 1e-39f, b.x[2 * 3 + 1] = -3e-40f, b.x[2 * 3 + 2] = 0;  // denormal only
  b.x[3 * 3] = 1e-39f;  // beside values near 1: lost in their rounding, the row kept
  b.x[4 * 3] = 2e-38f, b.x[4 * 3 + 1] = 5e-39f, b.x[4 * 3 + 2] = 0;  // a quarter of the row would be lost
  for (const char* user : {"", "kmeans"}) {
    const std::string e = error_of([&] { check_finite(b, "f.h5", c, user); });
    EXPECT_NE(e.find("f.h5: /features row 2 holds denormal values (below float32's smallest normal number "
                     "1.2e-38) that are not negligible beside its norm"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("2 such rows in all"), std::string::npos) << e;
  }
  b.valid[2] = b.valid[4] = 0;  // invalid rows may hold anything
  EXPECT_NO_THROW(check_finite(b, "f.h5", c, "kmeans"));
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(saved);
#endif
}

TEST(H5Store, WriterLeavesNoFinalFileUntilCommit) {
  LocalCommunicator c;
  std::string p = tmp("uncommitted.h5");
  std::remove(p.c_str());
  {
    H5Writer w(p, c);
    std::vector<float> v(4, 1);
    w.write_all<float>("/features", {2, 2}, v.data());
  }  // destroyed without commit, as when a job dies
  struct stat st{};
  EXPECT_NE(stat(p.c_str(), &st), 0) << "a half-written file appeared under the final name";
  EXPECT_NE(error_of([&] { H5Writer w(testing::TempDir(), c); }).find("is a directory"), std::string::npos);
}

// An input replaced while a stage ran: the output was committed with the
// new file's identity and the old file's results. The watch refuses the
// commit and names the input; an unchanged input, or none watched, commits.
TEST(H5Store, CommitRefusedWhenAWatchedInputChanged) {
  LocalCommunicator c;
  const std::string in = tmp("watched-in.h5"), out = tmp("watched-out.h5");
  std::remove(out.c_str());
  auto write_input = [&](float value, const std::string& hash) {
    H5Writer w(in, c);
    std::vector<float> v(4, value);
    w.write_all<float>("/features", {2, 2}, v.data());
    w.attr("config_hash", hash);
    w.commit();
  };
  auto write_output = [&] {
    H5Writer w(out, c);
    std::vector<float> v(2, 0);
    w.write_all<float>("/assign", {2}, v.data());
    w.commit();
  };
  write_input(1, "aaaa");
  {
    InputWatch watch({in, ""}, c);
    write_output();  // unchanged: committed
    EXPECT_TRUE(std::ifstream(out).good());
    std::remove(out.c_str());
    write_input(2, "bbbb");  // replaced mid-stage
    const std::string msg = error_of(write_output);
    EXPECT_NE(msg.find("input " + in + " changed while this stage ran (its identity was 'aaaa' at the start, 'bbbb' now)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find(out + " was not written"), std::string::npos) << msg;
    EXPECT_FALSE(std::ifstream(out).good());
    EXPECT_FALSE(std::ifstream(out + ".tmp").good());
  }
  write_output();  // no watch any more
  EXPECT_TRUE(std::ifstream(out).good());

  // Folders (report, export) commit on one rank: the same check there.
  const std::string dir = tmp("watched-dir");
  std::filesystem::remove_all(dir);
  write_input(1, "cccc");
  {
    InputWatch watch({in}, c);
    EXPECT_EQ(watch.identities(), "cccc;");
    StagedDir d(dir, false);
    write_input(2, "dddd");
    const std::string msg = error_of([&] { d.commit("h"); });
    EXPECT_NE(msg.find("input " + in + " changed while this stage ran"), std::string::npos) << msg;
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(std::filesystem::exists(dir + ".tmp"));
}

TEST(H5Store, HalfPrecisionReadsBackExactly) {
  LocalCommunicator c;
  FeatureBlock b = block(4, 5);
  // Values float16 holds exactly: normal, subnormal (2^-20), zero, negatives.
  std::vector<float> v = {0.0625f, -2.0f, 1.0f / 1048576.0f, 0.0f, 65504.0f, -0.5f, 3.140625f, 1e-4f};
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = v[i % v.size()];
  std::string p = tmp("half.h5");
  write_features(p, c, b, true, {});
  FeatureBlock back = read_features(p, c);
  for (size_t i = 0; i < b.x.size(); ++i) {
    if (v[i % v.size()] == 1e-4f) EXPECT_NEAR(back.x[i], 1e-4f, tol::kHalfRelative * 1e-4f);  // rounded to the nearest float16
    else EXPECT_EQ(back.x[i], b.x[i]) << i;
  }
}

TEST(H5Store, HalfRoundingCarriesIntoTheExponent) {
  LocalCommunicator c;
  FeatureBlock b = block(1, 6);
  // Each rounds up across a power of two; HDF5 1.10's conversion wrote half.
  b.x = {0.062488973f, 0.99999f, -1.9996f, 65519.0f, 1e-8f, 6.102e-5f};
  std::string p = tmp("halfcarry.h5");
  write_features(p, c, b, true, {});
  FeatureBlock back = read_features(p, c);
  EXPECT_EQ(back.x[0], 0.0625f);
  EXPECT_EQ(back.x[1], 1.0f);
  EXPECT_EQ(back.x[2], -2.0f);
  EXPECT_EQ(back.x[3], 65504.0f);
  EXPECT_EQ(back.x[4], 0.0f);
  EXPECT_EQ(back.x[5], 6.103515625e-05f);  // largest subnormal rounds up to the smallest normal
}

TEST(H5Store, EmptyDatasetsAreWritten) {
  LocalCommunicator c;
  std::string p = tmp("emptyds.h5");
  {
    H5Writer w(p, c);
    std::vector<double> none;
    w.write_all<double>("/history", {0}, none.data());  // e.g. no self-label epochs
    w.create<float>("/zero_cols", {5, 0});
    w.write_rows<float>("/zero_cols", {0, 5}, nullptr);
    w.commit();
  }
  H5Reader r(p, c);
  EXPECT_EQ(r.info("/history").shape, std::vector<int64_t>{0});
  EXPECT_TRUE(r.read_all<double>("/history").empty());
}

TEST(H5Store, Utf8StringAttributesAsH5pyWritesThem) {
  // h5py stores a str attribute as a variable-length UTF-8 string; reading
  // it as ASCII failed ("no appropriate function for conversion path"), so
  // assign refused features files written from Python.
  const std::string path = tmp("utf8.h5");
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "backbone", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char* v = "r\xc3\xa9seau x";  // "réseau x"
    H5Awrite(a, t, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
  }
  LocalCommunicator c;
  H5Reader r(path, c);
  EXPECT_EQ(r.attr_string("backbone"), "r\xc3\xa9seau x");
  EXPECT_NE(error_of([&] { r.attr_double("backbone"); }).find("attribute backbone is not a number"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(H5Store, StaleTmpSymlinkIsReplacedNotWrittenThrough) {
  // A symbolic link at NAME.tmp made H5Fcreate truncate the file it points
  // to, and the commit then renamed the link to NAME.
  LocalCommunicator c;
  const std::string p = tmp("linked.h5"), precious = tmp("precious.txt");
  std::remove(p.c_str());
  std::remove((p + ".tmp").c_str());
  std::ofstream(precious) << "keep";
  ASSERT_EQ(symlink(precious.c_str(), (p + ".tmp").c_str()), 0);
  {
    H5Writer w(p, c);
    std::vector<float> v(4, 1);
    w.write_all<float>("/features", {2, 2}, v.data());
    w.commit();
  }
  std::ifstream in(precious);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep");
  struct stat st{};
  ASSERT_EQ(lstat(p.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << p << " is not a regular file";
  std::remove(p.c_str());
  std::remove(precious.c_str());
}

// What a predictions file declares is read from shapes: eval, which reads
// only /assign, refused a file whose /probabilities it never reads could not
// be read (never written here; compressed with h5py's lzf, a filter Debian's
// HDF5 lacks, alike).
TEST(H5Store, DeclaredClustersReadsShapesNotUnreadableData) {
  const std::string path = tmp("declared.h5");
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t pdims[2] = {4, 3}, cdims[2] = {2, 5};
    for (auto [name, dims] : {std::make_pair("/probabilities", pdims), std::make_pair("/centroids", cdims)}) {
      hid_t s = H5Screate_simple(2, dims, nullptr);
      H5Dclose(H5Dcreate2(f, name, H5T_NATIVE_FLOAT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));  // never written
      H5Sclose(s);
    }
    H5Fclose(f);
  }
  LocalCommunicator self;
  H5Reader r(path, self);
  int64_t k = -1;
  EXPECT_NO_THROW(k = declared_clusters(r));
  EXPECT_EQ(k, 3);
  EXPECT_EQ(r.shape("/centroids"), (std::vector<int64_t>{2, 5}));
  EXPECT_NE(error_of([&] { r.info("/probabilities"); }).find("never written"), std::string::npos)
      << "a reader of the data still hears it cannot be read";
  EXPECT_NE(error_of([&] { r.shape("/nope"); }).find("no dataset /nope"), std::string::npos);
}

TEST(H5Store, StagedDirWhoseMarkerCannotBeWrittenLeavesNoFolder) {
  // OUT.tmp fits in PATH_MAX but OUT.tmp/.distclust-staging does not: the
  // folder was left unmarked, and the next run refused it as "not made by
  // distclust". Now it is removed and the cause named.
  namespace fs = std::filesystem;
  const std::string root = tmp("staged-long");
  fs::remove_all(root);
  std::string parent = root;
  while (parent.size() < 4096 - 220) parent += "/" + std::string(200, 'd');
  std::error_code ec;
  fs::create_directories(parent, ec);
  ASSERT_FALSE(ec) << ec.message();
  // OUT.tmp ends 10 bytes short of PATH_MAX (4096 with its NUL).
  const std::string out = parent + "/" + std::string(4095 - 10 - parent.size() - 1 - 4, 'o');
  ASSERT_EQ((out + ".tmp").size(), 4085u);
  for (int run = 0; run < 2; ++run) {
    const std::string e = error_of([&] { StagedDir d(out, false); });
    EXPECT_NE(e.find("cannot write in the output folder"), std::string::npos) << e;
    EXPECT_NE(e.find("File name too long"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(out + ".tmp")) << "run " << run;
  }
  fs::remove_all(root);
}
