// Image sources: folder, list, HDF5 and CIFAR sources on files each test
// writes into its own temporary folder, plus the real CIFAR-10 images in
// ../shared/data for the folder source.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "common/test_common.h"
#include "extract/decode.h"
#include "distclust/error.h"
#include "extract/image_source.h"

namespace fs = std::filesystem;
using namespace distclust;
using test::error_of;

namespace {

// A fresh folder under $TMPDIR, removed with everything in it at scope end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dc_extract_src_XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// A small PNG filled with one grey value, so a row can be told by its pixels.
std::vector<uint8_t> png_of(int value) {
  cv::Mat m(4, 5, CV_8UC3, cv::Scalar::all(value));
  std::vector<uint8_t> out;
  cv::imencode(".png", m, out);
  return out;
}

// The message of the Error that f throws ("" when it throws none).
SourceParams params(const std::string& path, const std::string& type = "auto") {
  SourceParams p;
  p.path = path;
  p.type = type;
  return p;
}

// ---------------------------------------------------------------- folder

TEST(ExtractSources, FolderWithClassesSortsPathsAndNumbersClasses) {
  TempDir t;
  write_bytes(t / "b/2.png", png_of(20));
  write_bytes(t / "b/1.png", png_of(10));
  write_bytes(t / "a/deep/er/3.PNG", png_of(30));  // recursive, extension case ignored
  write_bytes(t / "a/0.jpeg", png_of(0));          // content decides the format, not the name
  write_bytes(t / "c/4.webp", png_of(40));
  write_text(t / "a/notes.txt", "not an image");
  write_bytes(t / ".hidden/5.png", png_of(50));  // hidden: neither a class nor rows
  write_bytes(t / "a/.ipynb_checkpoints/6.png", png_of(60));
  fs::create_directories(t / "d_empty");         // an empty class keeps its number

  auto src = open_source(params(t.path.string()));
  EXPECT_EQ(src->kind(), "folder");
  ASSERT_EQ(src->size(), 5);
  EXPECT_EQ(src->class_names(), (std::vector<std::string>{"a", "b", "c", "d_empty"}));
  std::vector<std::string> ids;
  for (int64_t i = 0; i < src->size(); ++i) ids.push_back(src->id(i));
  EXPECT_EQ(ids, (std::vector<std::string>{t / "a/0.jpeg", t / "a/deep/er/3.PNG", t / "b/1.png", t / "b/2.png",
                                           t / "c/4.webp"}));
  EXPECT_EQ(src->label(0), 0);
  EXPECT_EQ(src->label(1), 0);
  EXPECT_EQ(src->label(2), 1);
  EXPECT_EQ(src->label(3), 1);
  EXPECT_EQ(src->label(4), 2);

  RawImage raw = src->read(3);
  EXPECT_TRUE(raw.encoded);
  EXPECT_EQ(raw.bytes, png_of(20));
  DecodeResult d = load_image(*src, 1);
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 30, 30));
  EXPECT_NE(src->describe().find("5 images"), std::string::npos);
}

TEST(ExtractSources, ClassFolderLinkedToAnotherListsItsImagesAsImageFolderDoes) {
  // A class folder that is a link to another class's folder: torchvision's
  // ImageFolder lists the images under both classes. One set of visited
  // folders for the whole walk gave them all to the first class ('a') and
  // said the real folder 'b' held no images. Links looping back into a
  // class still end.
  TempDir t;
  write_bytes(t / "b/1.png", png_of(10));
  write_bytes(t / "b/2.png", png_of(20));
  fs::create_directory_symlink("b", t / "a");
  fs::create_directory_symlink("..", t / "b/up");  // a loop: b/up/b/up/...
  auto src = open_source(params(t.path.string()));
  ASSERT_EQ(src->size(), 4);
  EXPECT_EQ(src->class_names(), (std::vector<std::string>{"a", "b"}));
  std::vector<std::pair<std::string, int64_t>> rows;
  for (int64_t i = 0; i < src->size(); ++i) rows.emplace_back(src->id(i), src->label(i));
  EXPECT_EQ(rows, (std::vector<std::pair<std::string, int64_t>>{
                      {t / "a/1.png", 0}, {t / "a/2.png", 0}, {t / "b/1.png", 1}, {t / "b/2.png", 1}}));
}

TEST(ExtractSources, FlatFolderHasNoLabels) {
  TempDir t;
  write_bytes(t / "x.png", png_of(1));
  write_bytes(t / "sub/y.bmp", png_of(2));
  auto src = open_source(params(t.path.string(), "folder"));
  ASSERT_EQ(src->size(), 2);
  EXPECT_EQ(src->id(1), t / "x.png");  // "sub/y.bmp" < "x.png"
  EXPECT_EQ(src->label(0), -1);
  EXPECT_EQ(src->label(1), -1);
  EXPECT_TRUE(src->class_names().empty());
}

TEST(ExtractSources, FolderLabelsNoIgnoresClassFolders) {
  TempDir t;
  write_bytes(t / "a/x.png", png_of(1));
  write_bytes(t / "b/y.png", png_of(2));
  SourceParams p = params(t.path.string());
  p.folder_labels = "no";
  auto src = open_source(p);
  ASSERT_EQ(src->size(), 2);
  EXPECT_EQ(src->label(0), -1);
  EXPECT_TRUE(src->class_names().empty());
}

TEST(ExtractSources, FilesThatAreNotImagesAreCountedByExtension) {
  // Skipped, as before, but no longer without a word: a folder of 13
  // files said "12 images" and nothing about the .gif it left out.
  for (const char* labels : {"auto", "no"}) {
    TempDir t;
    write_bytes(t / "a/x.png", png_of(1));
    write_bytes(t / "b/y.png", png_of(2));
    write_text(t / "a/notes.txt", "n");
    write_text(t / "b/anim.gif", "g");
    write_text(t / "b/more.txt", "m");
    write_text(t / "README", "r");
    SourceParams p = params(t.path.string());
    p.folder_labels = labels;
    testing::internal::CaptureStdout();
    auto src = open_source(p);
    const std::string out = testing::internal::GetCapturedStdout();
    EXPECT_EQ(src->size(), 2) << labels;
    EXPECT_NE(out.find("4 files that are not images by their names skipped (.gif 1, .txt 2, no extension 1)"),
              std::string::npos) << labels << ": " << out;
  }
}

TEST(ExtractSources, FolderErrorsNameThePath) {
  TempDir t;
  std::string missing = t / "nope";
  EXPECT_NE(error_of([&] { open_source(params(missing)); }).find(missing), std::string::npos);
  EXPECT_NE(error_of([&] { open_source(params(missing, "folder")); }).find(missing), std::string::npos);
  write_text(t / "only/readme.txt", "x");
  std::string msg = error_of([&] { open_source(params(t / "only")); });
  EXPECT_NE(msg.find(t / "only"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no image files"), std::string::npos) << msg;
}

// A folder whose path is over PATH_MAX cannot be stat'ed or listed: its
// images were left out with no word. Now counted and named with the reason.
TEST(ExtractSources, FolderTooDeepToListIsSkippedAndSaid) {
  TempDir t;
  write_bytes(t / "top.png", png_of(1));
  // 18 levels of 240-byte names (> 4096 bytes), made relative to fds.
  const std::string part(240, 'd');
  std::vector<int> fds{::open(t.path.c_str(), O_RDONLY | O_DIRECTORY)};
  for (int i = 0; i < 18; ++i) {
    ASSERT_EQ(::mkdirat(fds.back(), part.c_str(), 0755), 0);
    fds.push_back(::openat(fds.back(), part.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_GE(fds.back(), 0);
  }
  testing::internal::CaptureStderr();
  const int64_t n = open_source(params(t.path.string()))->size();
  const std::string err = testing::internal::GetCapturedStderr();
  for (size_t i = fds.size() - 1; i > 0; --i) {  // TempDir's remove_all cannot reach below PATH_MAX
    ::close(fds[i]);
    ::unlinkat(fds[i - 1], part.c_str(), AT_REMOVEDIR);
  }
  ::close(fds[0]);
  EXPECT_EQ(n, 1);
  EXPECT_NE(err.find("1 entries skipped that could not be looked at"), std::string::npos) << err;
  EXPECT_NE(err.find("(File name too long)"), std::string::npos) << err;
}

// A class folder linked to a file system that is not mounted was dropped
// with no word; a dangling link with an image name stays with the images
// that are not files (its own warning), not with the entries unlooked at.
TEST(ExtractSources, FolderDanglingLinksAreSaidOnce) {
  TempDir t;
  write_bytes(t / "a/x.png", png_of(1));
  fs::create_symlink("/nonexistent-distclust/b", t / "b");
  fs::create_symlink("/nonexistent-distclust/d.png", t / "a/d.png");
  testing::internal::CaptureStderr();
  auto src = open_source(params(t.path.string()));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(src->size(), 1);
  EXPECT_EQ(src->class_names(), (std::vector<std::string>{"a"}));
  EXPECT_NE(err.find("1 entries skipped that could not be looked at"), std::string::npos) << err;
  EXPECT_NE(err.find("e.g. b (No such file or directory)"), std::string::npos) << err;
  EXPECT_NE(err.find("1 entries with an image name skipped: not regular files"), std::string::npos) << err;
}

TEST(ExtractSources, FolderUnreadableRowBecomesInvalidRow) {
  TempDir t;
  write_bytes(t / "a.png", png_of(1));
  write_bytes(t / "b.png", png_of(2));
  write_bytes(t / "c.png", {});
  SourceParams p = params(t.path.string());
  p.max_file_bytes = 40;  // smaller than any PNG here
  auto src = open_source(p);
  fs::remove(t / "b.png");

  DecodeResult a = load_image(*src, 0);
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.reason.find("max_file_bytes"), std::string::npos) << a.reason;
  DecodeResult b = load_image(*src, 1);
  EXPECT_FALSE(b.ok);
  EXPECT_NE(b.reason.find(t / "b.png"), std::string::npos) << b.reason;
  DecodeResult c = load_image(*src, 2);
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.reason.find("empty"), std::string::npos) << c.reason;
  EXPECT_FALSE(load_image(*src, 3).ok);  // out of range: reported, not thrown
  EXPECT_THROW(src->id(3), Error);
  EXPECT_THROW(src->label(-1), Error);
}

TEST(ExtractSources, FolderOnSharedCifar10Test1k) {
  const std::string root = std::string(DC_SHARED_DIR) + "/data/cifar10-test1k";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " is not there";
  auto src = open_source(params(root));
  ASSERT_EQ(src->size(), 1000);
  const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                       "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(src->class_names(), names);
  std::map<int64_t, int> per_class;
  for (int64_t i = 0; i < src->size(); ++i) {
    int64_t l = src->label(i);
    ASSERT_GE(l, 0);
    ASSERT_LT(l, 10);
    // The label is the class folder the file is in.
    EXPECT_NE(src->id(i).find("/" + names[l] + "/"), std::string::npos) << src->id(i);
    ++per_class[l];
    if (i > 0) {
      EXPECT_LT(src->id(i - 1), src->id(i));
    }
  }
  EXPECT_EQ(per_class.size(), 10u);
  for (int64_t i : {0, 500, 999}) {
    DecodeResult d = load_image(*src, i);
    ASSERT_TRUE(d.ok) << src->id(i) << ": " << d.reason;
    EXPECT_EQ(d.rgb.rows, 32);
    EXPECT_EQ(d.rgb.cols, 32);
    EXPECT_EQ(d.rgb.type(), CV_8UC3);
  }
}

// ---------------------------------------------------------------- list

TEST(ExtractSources, ListResolvesRelativePathsAndReadsLabels) {
  TempDir t;
  write_bytes(t / "imgs/a.png", png_of(1));
  write_bytes(t / "imgs/b,c.png", png_of(2));
  write_bytes(t / "abs.png", png_of(3));
  write_text(t / "lists/train.txt",
             "# a comment\n"
             "\n"
             "../imgs/a.png, 4\r\n"
             "  ../imgs/b,c.png,7  \n" +
                 (t / "abs.png") + "\n" +
                 "../imgs/a.png,-1\n");
  auto src = open_source(params(t / "lists/train.txt"));
  EXPECT_EQ(src->kind(), "list");
  ASSERT_EQ(src->size(), 4);
  EXPECT_EQ(fs::path(src->id(0)).lexically_normal(), fs::path(t / "imgs/a.png"));
  EXPECT_EQ(fs::path(src->id(1)).lexically_normal(), fs::path(t / "imgs/b,c.png"));
  EXPECT_EQ(src->id(2), t / "abs.png");
  EXPECT_EQ(src->label(0), 4);
  EXPECT_EQ(src->label(1), 7);
  EXPECT_EQ(src->label(2), -1);
  EXPECT_EQ(src->label(3), -1);
  EXPECT_EQ(src->read(1).bytes, png_of(2));
  EXPECT_TRUE(src->class_names().empty());
}

// A list saved by a Windows editor starts with a UTF-8 byte-order mark:
// it made the first path invalid, with an invisible character in the message.
TEST(ExtractSources, ListIgnoresAByteOrderMark) {
  TempDir t;
  write_bytes(t / "a.png", png_of(1));
  write_text(t / "bom.txt", "\xEF\xBB\xBF" "a.png,3\r\na.png\r\n");
  auto src = open_source(params(t / "bom.txt"));
  ASSERT_EQ(src->size(), 2);
  EXPECT_EQ(src->id(0), t / "a.png");
  EXPECT_EQ(src->label(0), 3);
  EXPECT_EQ(src->read(0).bytes, png_of(1));
}

TEST(ExtractSources, ListErrorsNameFileAndLine) {
  TempDir t;
  write_text(t / "bad.csv", "a.png,1\n# ok\nb.png,cat\n");
  std::string msg = error_of([&] { open_source(params(t / "bad.csv")); });
  EXPECT_NE(msg.find(t / "bad.csv" + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'cat'"), std::string::npos) << msg;

  write_text(t / "neg.txt", "a.png,-2\n");
  msg = error_of([&] { open_source(params(t / "neg.txt")); });
  EXPECT_NE(msg.find(t / "neg.txt" + ":1"), std::string::npos) << msg;

  // A NUL ended the path or label early: "4\0junk" was label 4, "\0" label 0.
  for (const std::string& line : {std::string("a.png,4\0junk", 12), std::string("a.png,\0", 7),
                                  std::string("a.png\0junk,5", 12)}) {
    write_text(t / "nul.txt", "b.png,1\n" + line + "\n");
    msg = error_of([&] { open_source(params(t / "nul.txt")); });
    EXPECT_NE(msg.find(t / "nul.txt" + ":2: NUL byte at column "), std::string::npos) << msg;
  }
  // The column is the byte's place in the file's line: a byte-order mark
  // before it counts (it was 3 short on a BOM file's first line).
  write_text(t / "nul.txt", std::string("a.png,4\0", 8) + "\n");
  EXPECT_NE(error_of([&] { open_source(params(t / "nul.txt")); }).find(":1: NUL byte at column 8 "), std::string::npos);
  write_text(t / "nul.txt", std::string("\xEF\xBB\xBF" "a.png,4\0", 11) + "\n");
  msg = error_of([&] { open_source(params(t / "nul.txt")); });
  EXPECT_NE(msg.find(":1: NUL byte at column 11 "), std::string::npos) << msg;

  write_text(t / "empty.lst", "# nothing\n\n");
  msg = error_of([&] { open_source(params(t / "empty.lst")); });
  EXPECT_NE(msg.find("no entries"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { open_source(params(t / "missing.txt")); }).find(t / "missing.txt"), std::string::npos);
}

// ---------------------------------------------------------------- HDF5

// Writes /images (N x H x W x C uint8, value = 10*row + channel + x) and
// optionally /labels with a class_names attribute; chunked+gzip when asked.
void write_h5(const std::string& path, int n, int h, int w, int c, bool chunked, bool labels, hsize_t userblock = 0) {
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (userblock) H5Pset_userblock(fcpl, userblock);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  ASSERT_GE(f, 0);
  hsize_t dims[4] = {hsize_t(n), hsize_t(h), hsize_t(w), hsize_t(c)};
  int rank = c == 0 ? 3 : 4;
  if (c == 0) c = 1;
  hid_t space = H5Screate_simple(rank, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    hsize_t chunk[4] = {2, hsize_t(h), hsize_t(w), hsize_t(c)};
    H5Pset_chunk(dcpl, rank, chunk);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5Pset_deflate(dcpl, 4);
  }
  hid_t d = H5Dcreate2(f, "/images", H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<uint8_t> px(size_t(n) * h * w * c);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < h * w; ++k)
      for (int ch = 0; ch < c; ++ch) px[(size_t(i) * h * w + k) * c + ch] = uint8_t(10 * i + ch + k % w);
  H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  if (labels) {
    hsize_t ln[1] = {hsize_t(n)};
    hid_t ls = H5Screate_simple(1, ln, nullptr);
    hid_t ld = H5Dcreate2(f, "/labels", H5T_STD_I64LE, ls, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<int64_t> lab(n);
    for (int i = 0; i < n; ++i) lab[i] = i % 3;
    H5Dwrite(ld, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab.data());
    // class_names as variable-length strings, as h5py writes a list of str.
    const char* names[3] = {"cat", "dog", "emu"};
    hsize_t three[1] = {3};
    hid_t as = H5Screate_simple(1, three, nullptr);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    hid_t a = H5Acreate2(ld, "class_names", st, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, names);
    H5Aclose(a);
    H5Tclose(st);
    H5Sclose(as);
    H5Dclose(ld);
    H5Sclose(ls);
  }
  H5Fclose(f);
}

// Writes one dataset of the given type and shape, zeros written when
// `write` (else created only: never written, no storage allocated).
void write_h5_dataset(const std::string& path, const char* name, hid_t type, std::vector<hsize_t> dims,
                      bool write = true) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t s = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(f, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  size_t n = H5Tget_size(type);
  for (hsize_t x : dims) n *= size_t(x);
  if (write) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, std::vector<uint8_t>(n, 0).data());
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
}

void check_h5_rows(const ImageSource& src, int n, int h, int w, int c) {
  ASSERT_EQ(src.size(), n);
  for (int i = 0; i < n; ++i) {
    RawImage r = src.read(i);
    ASSERT_FALSE(r.encoded);
    ASSERT_EQ(r.pixels.type(), CV_8UC3);
    ASSERT_EQ(r.pixels.rows, h);
    ASSERT_EQ(r.pixels.cols, w);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < 3; ++ch)
          ASSERT_EQ(r.pixels.at<cv::Vec3b>(y, x)[ch], uint8_t(10 * i + (c == 3 ? ch : 0) + x))
              << "row " << i << " y " << y << " x " << x;
  }
}

TEST(ExtractSources, Hdf5ContiguousWithLabelsAndClassNames) {
  TempDir t;
  write_h5(t / "d.h5", 5, 3, 4, 3, false, true);
  auto src = open_source(params(t / "d.h5"));
  EXPECT_EQ(src->kind(), "hdf5");
  check_h5_rows(*src, 5, 3, 4, 3);
  EXPECT_EQ(src->label(4), 1);
  EXPECT_EQ(src->id(2), t / "d.h5" + ":2");
  EXPECT_EQ(src->class_names(), (std::vector<std::string>{"cat", "dog", "emu"}));
}

TEST(ExtractSources, Hdf5ChunkedCompressedAndGrayscale) {
  TempDir t;
  write_h5(t / "c.hdf5", 7, 3, 4, 3, true, false);
  auto src = open_source(params(t / "c.hdf5"));
  check_h5_rows(*src, 7, 3, 4, 3);
  EXPECT_EQ(src->label(0), -1);  // default /labels absent: unknown

  write_h5(t / "g1.h5", 3, 2, 5, 1, true, false);  // N x H x W x 1
  check_h5_rows(*open_source(params(t / "g1.h5")), 3, 2, 5, 1);
  write_h5(t / "g0.h5", 3, 2, 5, 0, false, false);  // N x H x W
  check_h5_rows(*open_source(params(t / "g0.h5")), 3, 2, 5, 1);
}

TEST(ExtractSources, Hdf5ReadsFromManyThreads) {
  TempDir t;
  write_h5(t / "c.h5", 40, 8, 8, 3, true, true);
  write_h5(t / "p.h5", 40, 8, 8, 3, false, true);
  for (const char* name : {"c.h5", "p.h5"}) {
    auto src = open_source(params(t / name));
    std::atomic<int> bad{0};
    std::vector<std::thread> pool;
    for (int th = 0; th < 8; ++th)
      pool.emplace_back([&, th] {
        for (int rep = 0; rep < 5; ++rep)
          for (int i = th; i < 40; i += 8) {
            DecodeResult d = load_image(*src, i);
            if (!d.ok || d.rgb.at<cv::Vec3b>(7, 7)[2] != uint8_t(10 * i + 2 + 7)) ++bad;
          }
      });
    for (auto& th : pool) th.join();
    EXPECT_EQ(bad.load(), 0) << name;
  }
}

TEST(ExtractSources, Hdf5ErrorsNameFileDatasetAndShape) {
  TempDir t;
  write_h5_dataset(t / "f.h5", "/images", H5T_IEEE_F32LE, {4, 3, 3, 3});
  std::string msg = error_of([&] { open_source(params(t / "f.h5")); });
  EXPECT_NE(msg.find(t / "f.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/images is float32"), std::string::npos) << msg;
  EXPECT_NE(msg.find("uint8"), std::string::npos) << msg;

  write_h5_dataset(t / "r.h5", "/images", H5T_STD_U8LE, {4, 5});
  msg = error_of([&] { open_source(params(t / "r.h5")); });
  EXPECT_NE(msg.find("4 x 5"), std::string::npos) << msg;

  write_h5_dataset(t / "c4.h5", "/images", H5T_STD_U8LE, {2, 3, 3, 4});
  msg = error_of([&] { open_source(params(t / "c4.h5")); });
  EXPECT_NE(msg.find("2 x 3 x 3 x 4"), std::string::npos) << msg;

  write_h5_dataset(t / "other.h5", "/pixels", H5T_STD_U8LE, {2, 3, 3, 3});
  msg = error_of([&] { open_source(params(t / "other.h5")); });
  EXPECT_NE(msg.find("'/images'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/pixels"), std::string::npos) << msg;  // lists what is there
  SourceParams p = params(t / "other.h5");
  p.hdf5_images = "/pixels";
  EXPECT_EQ(open_source(p)->size(), 2);
  p.hdf5_labels = "/targets";  // named explicitly, so it must exist
  msg = error_of([&] { open_source(p); });
  EXPECT_NE(msg.find("/targets"), std::string::npos) << msg;

  // A small file declaring 1 x 20000 x 20000 x 3 (1.2 GB an image) is
  // refused when opened, before a row is read.
  write_h5_dataset(t / "bomb.h5", "/images", H5T_STD_U8LE, {1, 20000, 20000, 3}, /*write=*/false);
  msg = error_of([&] { open_source(params(t / "bomb.h5")); });
  EXPECT_NE(msg.find("one image is 1200000000 bytes, over extract.max_file_bytes = 268435456"), std::string::npos)
      << msg;

  write_text(t / "text.h5", "not hdf5");
  msg = error_of([&] { open_source(params(t / "text.h5")); });
  EXPECT_NE(msg.find(t / "text.h5"), std::string::npos) << msg;

  // Labels of the wrong length.
  write_h5(t / "l.h5", 4, 2, 2, 3, false, false);
  hid_t f = H5Fopen((t / "l.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hsize_t three[1] = {3};
  hid_t s = H5Screate_simple(1, three, nullptr);
  H5Dclose(H5Dcreate2(f, "/labels", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(s);
  H5Fclose(f);
  msg = error_of([&] { open_source(params(t / "l.h5")); });
  EXPECT_NE(msg.find("/labels is 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 4 labels"), std::string::npos) << msg;
}

// A userblock (h5py userblock_size=512) before the HDF5 data: H5Dget_offset
// counts it already; adding it again read every row 512 bytes late (valid
// rows of wrong pixels, the last "file ends early").
TEST(ExtractSources, Hdf5WithAUserblockReadsEachRowsOwnBytes) {
  TempDir t;
  write_h5(t / "u.h5", 6, 3, 4, 3, false, true, 512);
  check_h5_rows(*open_source(params(t / "u.h5")), 6, 3, 4, 3);
}

// Images never written (a writer that stopped early) read as black images,
// each a valid row: refused by name, chunked or contiguous.
TEST(ExtractSources, Hdf5ImagesNeverWrittenAreRefused) {
  TempDir t;
  write_h5_dataset(t / "none.h5", "/images", H5T_STD_U8LE, {4, 3, 3, 3}, /*write=*/false);
  std::string msg = error_of([&] { open_source(params(t / "none.h5")); });
  EXPECT_NE(msg.find("/images was never written"), std::string::npos) << msg;

  hid_t f = H5Fcreate((t / "half.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[4] = {6, 3, 3, 3}, chunk[4] = {1, 3, 3, 3}, one[4] = {3, 3, 3, 3}, at[4] = {0, 0, 0, 0};
  hid_t s = H5Screate_simple(4, dims, nullptr), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 4, chunk);
  hid_t d = H5Dcreate2(f, "/images", H5T_STD_U8LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  hid_t ms = H5Screate_simple(4, one, nullptr);
  H5Sselect_hyperslab(s, H5S_SELECT_SET, at, nullptr, one, nullptr);  // rows 0-2 of 6
  H5Dwrite(d, H5T_NATIVE_UINT8, ms, s, H5P_DEFAULT, std::vector<uint8_t>(81, 7).data());
  for (hid_t x : {ms, s}) H5Sclose(x);
  H5Pclose(dcpl), H5Dclose(d), H5Fclose(f);
  msg = error_of([&] { open_source(params(t / "half.h5")); });
  EXPECT_NE(msg.find("/images holds 3 of its 6 chunks"), std::string::npos) << msg;
}

// Writes /labels as `type` holding `values` into an images file.
void add_labels(const std::string& path, hid_t type, const std::vector<uint64_t>& values) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hsize_t n[1] = {values.size()};
  hid_t s = H5Screate_simple(1, n, nullptr);
  hid_t d = H5Dcreate2(f, "/labels", type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(d), H5Sclose(s), H5Fclose(f);
}

// Sets /labels:class_names to one fixed-length string.
void add_class_names_text(const std::string& path, const std::string& text) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/labels", H5P_DEFAULT);
  hid_t st = H5Tcopy(H5T_C_S1), sc = H5Screate(H5S_SCALAR);
  H5Tset_size(st, text.size());
  hid_t a = H5Acreate2(d, "class_names", st, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, st, text.data());
  H5Aclose(a), H5Sclose(sc), H5Tclose(st), H5Dclose(d), H5Fclose(f);
}

TEST(ExtractSources, Hdf5LabelsBeyondInt64AndClassNamesOfEveryLabel) {
  TempDir t;
  // uint64 labels >= 2^63: HDF5's conversion clamped them all to one label.
  write_h5(t / "big.h5", 4, 2, 2, 3, false, false);
  add_labels(t / "big.h5", H5T_STD_U64LE, {0, 1, (uint64_t(1) << 63) + 1, 2});
  std::string msg = error_of([&] { open_source(params(t / "big.h5")); });
  EXPECT_NE(msg.find("/labels[2] = 9223372036854775809 is beyond the int64 range"), std::string::npos) << msg;
  write_h5(t / "u64.h5", 4, 2, 2, 3, false, false);  // uint64 within range reads as it is
  add_labels(t / "u64.h5", H5T_STD_U64LE, {0, 1, 3, 2});
  EXPECT_EQ(open_source(params(t / "u64.h5"))->label(2), 3);

  // class_names as one JSON string (as distclust writes it): a list.
  add_class_names_text(t / "u64.h5", "[\"a\", \"b\", \"c\", \"d\"]");
  EXPECT_EQ(open_source(params(t / "u64.h5"))->class_names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  // Fewer names than labels: classes without a name in every report.
  write_h5(t / "few.h5", 4, 2, 2, 3, false, false);
  add_labels(t / "few.h5", H5T_STD_I64LE, {0, 1, 3, 2});
  add_class_names_text(t / "few.h5", "[\"a\", \"b\"]");
  msg = error_of([&] { open_source(params(t / "few.h5")); });
  EXPECT_NE(msg.find("class_names holds 2 names, but /labels holds label 3"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- CIFAR

// CIFAR records: label byte(s), then R, G, B planes of 32 x 32. Pixel value
// = (seed + plane * 50 + x) mod 256 so rows, channels and columns differ.
std::vector<uint8_t> cifar_records(int n, int label_bytes, int seed) {
  std::vector<uint8_t> out;
  for (int r = 0; r < n; ++r) {
    if (label_bytes == 2) out.push_back(uint8_t(r % 20));  // coarse
    out.push_back(uint8_t((seed + r) % (label_bytes == 2 ? 100 : 10)));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) out.push_back(uint8_t(seed + r + c * 50 + x));
  }
  return out;
}

TEST(ExtractSources, Cifar10FolderOfBatches) {
  TempDir t;
  write_bytes(t / "cifar/data_batch_10.bin", cifar_records(1, 1, 90));
  write_bytes(t / "cifar/data_batch_2.bin", cifar_records(2, 1, 20));
  write_bytes(t / "cifar/data_batch_1.bin", cifar_records(3, 1, 10));
  write_bytes(t / "cifar/test_batch.bin", cifar_records(2, 1, 5));
  write_text(t / "cifar/batches.meta.txt",
             "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  auto src = open_source(params(t / "cifar"));  // auto: a folder of batches is CIFAR
  EXPECT_EQ(src->kind(), "cifar");
  ASSERT_EQ(src->size(), 8);
  EXPECT_EQ(src->class_names().size(), 10u);
  EXPECT_EQ(src->class_names()[9], "truck");
  // Order: data_batch_1, _2, _10 (numeric), then test_batch.
  EXPECT_EQ(src->id(0), t / "cifar/data_batch_1.bin:0");
  EXPECT_EQ(src->id(4), t / "cifar/data_batch_2.bin:1");
  EXPECT_EQ(src->id(5), t / "cifar/data_batch_10.bin:0");
  EXPECT_EQ(src->id(7), t / "cifar/test_batch.bin:1");
  EXPECT_EQ(src->label(2), 2);  // (10 + 2) % 10
  EXPECT_EQ(src->label(5), 0);  // 90 % 10
  RawImage r = src->read(4);    // seed 20, record 1
  ASSERT_FALSE(r.encoded);
  ASSERT_EQ(r.pixels.type(), CV_8UC3);
  EXPECT_EQ(r.pixels.at<cv::Vec3b>(3, 7), cv::Vec3b(21 + 7, 21 + 50 + 7, 21 + 100 + 7));  // RGB order

  SourceParams p = params(t / "cifar");
  p.cifar_split = "test";
  EXPECT_EQ(open_source(p)->size(), 2);
  p.cifar_split = "train";
  EXPECT_EQ(open_source(p)->size(), 6);
  EXPECT_EQ(open_source(params(t / "cifar/data_batch_2.bin"))->size(), 2);  // one file
}

TEST(ExtractSources, Cifar100UsesFineLabels) {
  TempDir t;
  write_bytes(t / "c100/train.bin", cifar_records(4, 2, 60));
  write_bytes(t / "c100/test.bin", cifar_records(1, 2, 7));
  auto src = open_source(params(t / "c100", "cifar"));
  ASSERT_EQ(src->size(), 5);
  EXPECT_EQ(src->label(3), 63);
  EXPECT_EQ(src->label(4), 7);
  EXPECT_TRUE(src->class_names().empty());
  EXPECT_EQ(src->read(1).pixels.at<cv::Vec3b>(0, 0), cv::Vec3b(61, 111, 161));
}

TEST(ExtractSources, CifarErrorsNameTheFile) {
  TempDir t;
  auto bytes = cifar_records(2, 1, 0);
  bytes.resize(bytes.size() - 100);
  write_bytes(t / "data_batch_1.bin", bytes);
  std::string msg = error_of([&] { open_source(params(t / "data_batch_1.bin")); });
  EXPECT_NE(msg.find(t / "data_batch_1.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3073"), std::string::npos) << msg;

  // A CIFAR-10 batch whose size happens to fit CIFAR-100 records (2 x 3074
  // bytes): it was read as CIFAR-100 with
  // pixel bytes as labels. The official name decides; the size must fit it.
  auto cut = cifar_records(3, 1, 0);
  cut.resize(2 * 3074);
  write_bytes(t / "cut/data_batch_1.bin", cut);
  msg = error_of([&] { open_source(params(t / "cut")); });
  EXPECT_NE(msg.find("not a whole number of CIFAR-10 records of 3073 bytes (2 records and 2 bytes)"),
            std::string::npos) << msg;

  auto bad_label = cifar_records(1, 1, 0);
  bad_label[0] = 12;
  write_bytes(t / "x/test_batch.bin", bad_label);
  msg = error_of([&] { open_source(params(t / "x")); });
  EXPECT_NE(msg.find("label 12"), std::string::npos) << msg;

  fs::create_directories(t / "none");
  msg = error_of([&] { open_source(params(t / "none", "cifar")); });
  EXPECT_NE(msg.find("data_batch_N.bin"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- factory

TEST(ExtractSources, OpenSourceChoosesAndValidates) {
  TempDir t;
  write_text(t / "x.foo", "?");
  std::string msg = error_of([&] { open_source(params(t / "x.foo")); });
  EXPECT_NE(msg.find("extract.source_type"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { open_source(params(t / "x.foo", "pictures")); }).find("'pictures'"), std::string::npos);
  // One image as the source: "set extract.source_type" named no type that fits.
  write_bytes(t / "one.png", png_of(1));
  msg = error_of([&] { open_source(params(t / "one.png")); });
  EXPECT_NE(msg.find("is one image: a source is a folder of images"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { open_source(params("")); }).find("extract.source"), std::string::npos);
  SourceParams p = params(t / "x.foo");
  p.max_file_bytes = 0;
  EXPECT_THROW(p.validate(), Error);

  EXPECT_TRUE(has_image_extension("a/b.JPG"));
  EXPECT_TRUE(has_image_extension("b.tiff"));
  EXPECT_FALSE(has_image_extension("b.gif"));
  EXPECT_FALSE(has_image_extension("png"));
}

}  // namespace
