// Unit tests for the procedural image generator (distclust/synth_images.h).

#include "common/test_common.h"
#include "synth/synth_images.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "distclust/error.h"

namespace fs = std::filesystem;
using distclust::Error;
using distclust::SynthImagesParams;

using distclust::test::error_of;
namespace {

/// A unique temporary folder, removed with everything in it.
class SynthImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() /
            ("distclust_synth_images_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  SynthImagesParams params(const std::string& sub, int classes, int per_class, int size,
                           int64_t seed = 1) const {
    SynthImagesParams p;
    p.classes = classes;
    p.per_class = per_class;
    p.size = size;
    p.seed = seed;
    p.out = (root_ / sub).string();
    return p;
  }
  fs::path root_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// All regular files under dir, as sorted paths relative to dir.
std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

/// Message of the Error thrown by f ("" when none is thrown).
/// Visitor collecting field names (and checking every field has a doc).
struct FieldNames {
  std::vector<std::string> names;
  template <class T> void operator()(const char* name, T&, const char* doc) {
    names.push_back(name);
    EXPECT_NE(std::string(doc), "");
  }
};

}  // namespace

TEST_F(SynthImagesTest, ValidateNamesTheBadValue) {
  SynthImagesParams ok = params("v", 10, 5, 32);
  EXPECT_NO_THROW(ok.validate());

  auto msg = [&](auto&& mutate) {
    SynthImagesParams p = ok;
    mutate(p);
    return error_of([&] { p.validate(); });
  };
  EXPECT_EQ(msg([](SynthImagesParams& p) { p.size = 8; }),
            "synth images: size=8 is below the minimum 16");
  EXPECT_NE(msg([](SynthImagesParams& p) { p.size = 2048; }).find("size=2048"), std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.classes = 0; }).find("classes=0"), std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.classes = 65; }).find("classes=65 is above the maximum 64"),
            std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.per_class = 0; }).find("per_class=0"), std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.noise = -0.5; }).find("noise=-0.5"), std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.noise = 1.5; }).find("noise=1.5"), std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.noise = std::numeric_limits<double>::quiet_NaN(); })
                .find("noise=nan"),
            std::string::npos);
  EXPECT_NE(msg([](SynthImagesParams& p) { p.out = ""; }).find("out is empty"), std::string::npos);

  // synth_images validates too, and checks the block.
  SynthImagesParams bad = ok;
  bad.size = 8;
  EXPECT_NE(error_of([&] { distclust::synth_images(bad, 0, 1); }).find("size=8"), std::string::npos);
  EXPECT_NE(error_of([&] { distclust::synth_images(ok, 0, 51); }).find("[0, 51)"), std::string::npos);
  EXPECT_NE(error_of([&] { distclust::synth_images(ok, 3, 2); }).find("[3, 2)"), std::string::npos);
  EXPECT_FALSE(fs::exists(ok.out));  // nothing written for bad calls
}

TEST_F(SynthImagesTest, VisitListsEveryFieldOnce) {
  FieldNames v;
  SynthImagesParams p;
  p.visit(v);
  EXPECT_EQ(v.names,
            (std::vector<std::string>{"classes", "per_class", "size", "seed", "noise", "out"}));
}

TEST_F(SynthImagesTest, ClassFoldersCountsAndDecodableRgb) {
  const SynthImagesParams p = params("out", 3, 4, 24);
  EXPECT_EQ(distclust::synth_images_total(p), 12);
  EXPECT_EQ(distclust::synth_images(p, 0, 12), 12);

  std::vector<std::string> expect;
  for (int i = 0; i < 12; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "class_%02d/%06d.png", i / 4, i);
    expect.push_back(buf);
    EXPECT_EQ(distclust::synth_image_path(p, i), (fs::path(p.out) / buf).string());
  }
  EXPECT_EQ(list_files(p.out), expect);  // also: no temporary files left

  for (int i = 0; i < 12; ++i) {
    const cv::Mat img = cv::imread(distclust::synth_image_path(p, i), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(img.empty()) << i;
    EXPECT_EQ(img.type(), CV_8UC3);
    EXPECT_EQ(img.rows, 24);
    EXPECT_EQ(img.cols, 24);
    // PNG is lossless: the file holds exactly the in-memory rendering.
    const cv::Mat mem = distclust::synth_image(p, i);
    EXPECT_EQ(cv::norm(img, mem, cv::NORM_INF), 0.0) << i;
  }

  // Other sizes decode at the asked size too.
  for (int size : {16, 61, 128}) {
    const SynthImagesParams q = params("size" + std::to_string(size), 2, 1, size);
    ASSERT_EQ(distclust::synth_images(q, 0, 2), 2);
    const cv::Mat img = cv::imread(distclust::synth_image_path(q, 1), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(img.type(), CV_8UC3);
    EXPECT_EQ(img.rows, size);
    EXPECT_EQ(img.cols, size);
  }
}

TEST_F(SynthImagesTest, WideIndexNamesStaySorted) {
  SynthImagesParams p = params("wide", 2, 600000, 16);
  EXPECT_EQ(distclust::synth_image_path(p, 7),
            (fs::path(p.out) / "class_00" / "0000007.png").string());
  EXPECT_EQ(distclust::synth_image_path(p, 1199999),
            (fs::path(p.out) / "class_01" / "1199999.png").string());
}

TEST_F(SynthImagesTest, SameSeedIsByteIdenticalForAnyBlockSplit) {
  const SynthImagesParams a = params("one", 4, 5, 32, 7);
  const SynthImagesParams b = params("three", 4, 5, 32, 7);
  const SynthImagesParams c = params("threads", 4, 5, 32, 7);
  ASSERT_EQ(distclust::synth_images(a, 0, 20), 20);
  // Three blocks that cut through classes, written out of order.
  EXPECT_EQ(distclust::synth_images(b, 13, 20), 7);
  EXPECT_EQ(distclust::synth_images(b, 0, 6), 6);
  EXPECT_EQ(distclust::synth_images(b, 6, 13), 7);
  // Concurrent writers creating the same folders at once.
  {
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; ++k)
      ts.emplace_back([&c, k] { distclust::synth_images(c, k * 5, k * 5 + 5); });
    for (auto& t : ts) t.join();
  }
  const auto files = list_files(a.out);
  ASSERT_EQ(files.size(), 20u);
  EXPECT_EQ(list_files(b.out), files);
  EXPECT_EQ(list_files(c.out), files);
  for (const auto& f : files) {
    const std::string bytes = read_bytes(fs::path(a.out) / f);
    EXPECT_EQ(bytes, read_bytes(fs::path(b.out) / f)) << f;
    EXPECT_EQ(bytes, read_bytes(fs::path(c.out) / f)) << f;
  }
  // Rewriting over existing files gives the same bytes again.
  EXPECT_EQ(distclust::synth_images(a, 3, 9), 6);
  for (const auto& f : files)
    EXPECT_EQ(read_bytes(fs::path(a.out) / f), read_bytes(fs::path(b.out) / f)) << f;
}

TEST_F(SynthImagesTest, DifferentSeedsDiffer) {
  const SynthImagesParams a = params("s1", 3, 3, 32, 1);
  const SynthImagesParams b = params("s2", 3, 3, 32, 2);
  distclust::synth_images(a, 0, 9);
  distclust::synth_images(b, 0, 9);
  for (int i = 0; i < 9; ++i)
    EXPECT_NE(read_bytes(distclust::synth_image_path(a, i)),
              read_bytes(distclust::synth_image_path(b, i)))
        << i;
  // Within one seed, images of one class differ from each other too.
  EXPECT_GT(cv::norm(distclust::synth_image(a, 0), distclust::synth_image(a, 1), cv::NORM_L1), 0.0);
}

TEST_F(SynthImagesTest, EveryClassHasItsOwnShapeAndColourScheme) {
  // Description: "<shape>, <fg hue> on <dark|light> <bg hue>, <texture>".
  std::set<std::pair<std::string, std::string>> shape_scheme;
  std::set<std::string> schemes16, shapes8;
  for (int c = 0; c < 64; ++c) {
    const std::string d = distclust::synth_class_description(c);
    const size_t comma1 = d.find(", ");
    const size_t on = d.find(" on ");
    const size_t comma2 = d.find(", ", on);
    ASSERT_TRUE(comma1 != std::string::npos && on != std::string::npos &&
                comma2 != std::string::npos)
        << d;
    const std::string shape = d.substr(0, comma1);
    const std::string bg = d.substr(on + 4, comma2 - on - 4);
    EXPECT_TRUE(shape_scheme.insert({shape, bg}).second) << "class " << c << ": " << d;
    if (c < 16) {
      EXPECT_TRUE(schemes16.insert(bg).second) << "class " << c << ": " << d;
    }
    if (c < 8) {
      EXPECT_TRUE(shapes8.insert(shape).second) << "class " << c << ": " << d;
    }
  }
  EXPECT_THROW(distclust::synth_class_description(64), Error);
}

TEST_F(SynthImagesTest, NearestClassMeanSeparatesClasses) {
  const int classes = 10, per_class = 20;
  const SynthImagesParams p = params("sep", classes, per_class, 32);
  ASSERT_EQ(distclust::synth_images(p, 0, classes * per_class), classes * per_class);

  auto feature = [&](int64_t i) {
    const cv::Mat img = cv::imread(distclust::synth_image_path(p, i), cv::IMREAD_COLOR);
    cv::Mat small, f;
    cv::resize(img, small, cv::Size(8, 8), 0, 0, cv::INTER_AREA);
    small.reshape(1, 1).convertTo(f, CV_64F);
    return f;  // 1 x 192
  };
  // Even images of each class train, odd ones test.
  std::vector<cv::Mat> mean(classes);
  for (int c = 0; c < classes; ++c) {
    mean[c] = cv::Mat::zeros(1, 192, CV_64F);
    for (int j = 0; j < per_class; j += 2) mean[c] += feature(c * per_class + j);
    mean[c] /= per_class / 2;
  }
  int correct = 0, tested = 0;
  for (int c = 0; c < classes; ++c) {
    for (int j = 1; j < per_class; j += 2) {
      const cv::Mat f = feature(c * per_class + j);
      int best = -1;
      double best_d = 0;
      for (int k = 0; k < classes; ++k) {
        const double d = cv::norm(f, mean[k], cv::NORM_L2SQR);
        if (best < 0 || d < best_d) best = k, best_d = d;
      }
      correct += best == c;
      ++tested;
    }
  }
  const double acc = static_cast<double>(correct) / tested;
  RecordProperty("nearest_mean_accuracy", std::to_string(acc));
  std::printf("nearest class mean accuracy (C=10, size 32, 20 per class): %.3f\n", acc);
  EXPECT_GE(acc, 0.9);
}

TEST_F(SynthImagesTest, UncreatableFolderIsAnErrorNamingThePath) {
  const fs::path blocker = root_ / "blocker";
  std::ofstream(blocker) << "a file, not a folder";
  SynthImagesParams p = params("unused", 2, 2, 16);
  p.out = (blocker / "sub").string();
  const std::string msg = error_of([&] { distclust::synth_images(p, 0, 4); });
  EXPECT_NE(msg.find("cannot create folder"), std::string::npos) << msg;
  EXPECT_NE(msg.find(blocker.string()), std::string::npos) << msg;
}

TEST_F(SynthImagesTest, UnwritableImageIsAnErrorNamingThePath) {
  const SynthImagesParams p = params("blocked", 2, 2, 16);
  // A folder where image 2 should go makes the final rename fail.
  const fs::path target = distclust::synth_image_path(p, 2);
  fs::create_directories(target / "x");
  const std::string msg = error_of([&] { distclust::synth_images(p, 0, 4); });
  EXPECT_NE(msg.find(target.string()), std::string::npos) << msg;
  // No temporary file is left behind; whatever was written decodes.
  for (const auto& f : list_files(p.out)) {
    EXPECT_EQ(fs::path(f).extension().string(), ".png") << f;
    EXPECT_FALSE(cv::imread((fs::path(p.out) / f).string()).empty()) << f;
  }
}
