// The extract stage end to end in one process with a fake backbone (no
// Torch): file layout, labels, ids, invalid rows, normalisation, and the
// settings derived from ExtractParams.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "common/test_common.h"

#include "common/tolerances.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "extract/extract.h"
#include "extract/extract_bench.h"
#include "extract/extract_stage.h"
#include "pipeline/stage_config.h"
#include "io/h5store.h"
#include "kernels/torch_plugin.h"

namespace fs = std::filesystem;
using namespace distclust;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dc_extract_run_XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

void write_png(const std::string& path, int w, int h, cv::Scalar bgr) {
  fs::create_directories(fs::path(path).parent_path());
  cv::imwrite(path, cv::Mat(h, w, CV_8UC3, bgr));
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// Features: per-channel means of the input and the batch size it came in.
class MeanBackbone : public Backbone {
 public:
  explicit MeanBackbone(int s) : s_(s) {}
  int64_t dim() const override { return 4; }
  void forward(const float* x, int64_t batch, float* out) override {
    const int64_t plane = int64_t(s_) * s_;
    for (int64_t i = 0; i < batch; ++i) {
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int64_t k = 0; k < plane; ++k) sum += x[(i * 3 + c) * plane + k];
        out[i * 4 + c] = float(sum / plane);
      }
      out[i * 4 + 3] = 1.0f;
    }
  }
  std::string describe() const override { return "mean backbone"; }

 private:
  int s_;
};

// MeanBackbone that says it runs on a GPU and records each call's batch
// size and whether its input was all zeros.
class GpuMeanBackbone : public MeanBackbone {
 public:
  GpuMeanBackbone(int s, std::vector<std::pair<int64_t, bool>>* calls) : MeanBackbone(s), s_(s), calls_(calls) {}
  bool on_gpu() const override { return true; }
  void forward(const float* x, int64_t batch, float* out) override {
    const int64_t n = batch * 3 * int64_t(s_) * s_;
    calls_->emplace_back(batch, std::all_of(x, x + n, [](float v) { return v == 0.0f; }));
    MeanBackbone::forward(x, batch, out);
  }

 private:
  int s_;
  std::vector<std::pair<int64_t, bool>>* calls_;
};

// The sidecar of a fake model: input 8, mean 0, std 1 (features = RGB / 255).
std::string fake_model(const TempDir& t) {
  write_text(t / "model.pt", "fake");
  write_text(t / "model.json", R"({"input_size": 8, "mean": [0, 0, 0], "std": [1, 1, 1]})");
  return t / "model.pt";
}

BackboneLoader mean_loader(TorchScriptSpec* seen = nullptr) {
  return [seen](const TorchScriptSpec& s) {
    if (seen) *seen = s;
    return std::make_unique<MeanBackbone>(s.input_size);
  };
}

}  // namespace

TEST(ExtractRun, WritesFeaturesLabelsIdsAndMarksBadFiles) {
  TempDir t;
  write_png(t / "imgs/cat/a.png", 8, 8, cv::Scalar(0, 0, 255));     // red
  write_png(t / "imgs/cat/b.png", 16, 12, cv::Scalar(255, 0, 0));   // blue, resized and cropped
  write_text(t / "imgs/dog/bad.png", "not a png");
  write_png(t / "imgs/dog/c.png", 8, 8, cv::Scalar(0, 255, 0));     // green
  ExtractParams p;
  p.source = t / "imgs";
  p.backbone = fake_model(t);
  p.out = t / "f.h5";
  p.batch = 2;
  p.progress_seconds = 0;
  LocalCommunicator comm;
  TorchScriptSpec spec;
  ExtractSummary s = run_extract(p, comm, mean_loader(&spec), stage_config(extract_stage(), p, comm));
  EXPECT_EQ(spec.input_size, 8);
  EXPECT_EQ(spec.path, p.backbone);
  EXPECT_EQ(s.rows, 4);
  EXPECT_EQ(s.dim, 4);
  EXPECT_EQ(s.invalid, 1);
  EXPECT_EQ(s.computed, 4);
  EXPECT_EQ(s.resumed, 0);

  H5Reader r(p.out, comm);
  auto x = r.read_all<float>("/features");
  ASSERT_EQ(x.size(), 16u);
  const std::vector<float> want = {1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1};
  //                               a: red     b: blue    bad: zeros c: green
  for (size_t i = 0; i < 16; ++i) EXPECT_NEAR(x[i], want[i], tol::kFloatFew) << i;
  EXPECT_EQ(r.read_all<int64_t>("/labels"), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(r.read_all<uint8_t>("/valid"), (std::vector<uint8_t>{1, 1, 0, 1}));
  EXPECT_EQ(r.attr_string("class_names"), R"(["cat", "dog"])");
  EXPECT_EQ(r.attr_string("backbone"), "mean backbone");
  EXPECT_NE(r.attr_string("preprocessing").find("centre crop 8"), std::string::npos);
  EXPECT_EQ(r.attr_string("params").rfind("extract:\n  source: ", 0), 0u) << r.attr_string("params");
  EXPECT_FALSE(r.has("/done"));
}

TEST(ExtractRun, NormalizeAndHalfAndPixelsBackbone) {
  TempDir t;
  for (int i = 0; i < 6; ++i) write_png(t / ("imgs/" + std::to_string(i) + ".png"), 5, 5, cv::Scalar(i * 40, 10, 200));
  ExtractParams p;
  p.source = t / "imgs";
  p.backbone = "pixels";
  p.pixels_size = 2;
  p.normalize = true;
  p.half = true;
  p.out = t / "px.h5";
  p.progress_seconds = 0;
  LocalCommunicator comm;
  ExtractSummary s = run_extract(p, comm, mean_loader(), stage_config(extract_stage(), p, comm));
  EXPECT_EQ(s.dim, 12);
  H5Reader r(p.out, comm);
  EXPECT_EQ(r.info("/features").dtype, "float16");
  auto x = r.read_all<float>("/features");
  for (int i = 0; i < 6; ++i) {
    double n2 = 0;
    for (int j = 0; j < 12; ++j) n2 += double(x[i * 12 + j]) * x[i * 12 + j];
    EXPECT_NEAR(std::sqrt(n2), 1.0, 4 * tol::kHalfRelative) << "row " << i << " is L2-normalised (float16)";
  }
  EXPECT_EQ(r.read_all<int64_t>("/labels"), std::vector<int64_t>(6, -1));
  EXPECT_FALSE(r.has("/pca_components"));
}

TEST(ExtractRun, CompressedHdf5SourceReadByManyThreadsWhileWriting) {
  // Chunked, compressed HDF5 images are read under the HDF5 lock by the
  // decode threads while the main thread writes the output file.
  TempDir t;
  const std::string path = t / "imgs.h5";
  const hsize_t n = 37, dims[4] = {n, 3, 3, 3}, chunk[4] = {1, 3, 3, 3};
  std::vector<uint8_t> px(n * 27);
  std::vector<int64_t> labels(n);
  for (hsize_t i = 0; i < n; ++i) {
    for (int k = 0; k < 27; ++k) px[i * 27 + k] = uint8_t(i * 5 + k % 3);
    labels[i] = int64_t(i % 4);
  }
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t sp = H5Screate_simple(4, dims, nullptr), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 4, chunk);
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5Pset_deflate(dcpl, 4);
  hid_t ds = H5Dcreate2(f, "/images", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px.data());
  hid_t lsp = H5Screate_simple(1, dims, nullptr);
  hid_t lds = H5Dcreate2(f, "/labels", H5T_NATIVE_INT64, lsp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(lds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
  for (hid_t h : {ds, lds}) H5Dclose(h);
  for (hid_t h : {sp, lsp}) H5Sclose(h);
  H5Pclose(dcpl);
  H5Fclose(f);

  ExtractParams p;
  p.source = path;
  p.backbone = "pixels";
  p.pixels_size = 3;
  p.batch = 4;
  p.decode_threads = 4;
  p.out = t / "f.h5";
  p.progress_seconds = 0;
  LocalCommunicator comm;
  run_extract(p, comm, mean_loader(), stage_config(extract_stage(), p, comm));
  H5Reader r(p.out, comm);
  auto x = r.read_all<float>("/features");
  ASSERT_EQ(x.size(), size_t(n * 27));
  for (hsize_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)  // CHW: channel c is the byte i * 5 + c everywhere
      EXPECT_FLOAT_EQ(x[i * 27 + c * 9 + 4], float(i * 5 + c) / 255.0f) << i;
  EXPECT_EQ(r.read_all<int64_t>("/labels"), labels);
  EXPECT_EQ(r.read_all<uint8_t>("/valid"), std::vector<uint8_t>(n, 1));
}

TEST(ExtractRun, ModelPreprocessingComesFromTheSidecarWithOverrides) {
  TempDir t;
  write_text(t / "m.pt", "x");
  write_text(t / "m.json", R"({"input_size": [224, 224], "resize": 256, "mean": [0.1, 0.2, 0.3],
                               "std": [0.5, 0.5, 0.5], "interpolation": "bicubic"})");
  ExtractParams p;
  p.backbone = t / "m.pt";
  PreprocessParams pp = model_preprocess(p);
  EXPECT_EQ(pp.crop, 224);
  EXPECT_EQ(pp.resize, 256);
  EXPECT_EQ(pp.interpolation, "bicubic");
  EXPECT_FLOAT_EQ(pp.mean[2], 0.3f);
  p.resize = 232;
  p.mean = {0.5f};
  p.interpolation = "bilinear";
  pp = model_preprocess(p);
  EXPECT_EQ(pp.resize, 232);
  EXPECT_EQ(pp.mean, std::vector<float>{0.5f});
  EXPECT_EQ(pp.interpolation, "bilinear");

  write_text(t / "bare.pt", "x");
  p = ExtractParams{};
  p.backbone = t / "bare.pt";
  try {
    model_preprocess(p);
    FAIL() << "no error without a sidecar";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no sidecar " + t / "bare.json"), std::string::npos) << e.what();
  }
  p.crop = 64, p.mean = {0.5f}, p.std = {0.25f};
  pp = model_preprocess(p);
  EXPECT_EQ(pp.crop, 64);
  EXPECT_EQ(pp.resize, 64);

  // Caffe's 0-255 values in a sidecar were used as they stood on pixels
  // scaled to [0, 1]: every image normalised to nearly one constant, rc 0.
  // Now named with the file; flags that override them are taken.
  write_text(t / "caffe.pt", "x");
  write_text(t / "caffe.json", R"({"input_size": 32, "mean": [123.68, 116.78, 103.94], "std": [58.4, 57.1, 57.4]})");
  p = ExtractParams{};
  p.backbone = t / "caffe.pt";
  std::string msg = test::error_of([&] { model_preprocess(p); });
  EXPECT_NE(msg.find(t / "caffe.json" + ": key 'mean' holds 123.68 but pixels are scaled to [0, 1]"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("on the 0-255 scale is 0.485"), std::string::npos) << msg;
  p.mean = {0.485f, 0.458f, 0.408f};
  msg = test::error_of([&] { model_preprocess(p); });
  EXPECT_NE(msg.find(t / "caffe.json" + ": key 'std' holds 58.4000015 but"), std::string::npos) << msg;
  p.std = {0.229f, 0.224f, 0.225f};
  pp = model_preprocess(p);
  EXPECT_EQ(pp.mean, p.mean);
  EXPECT_EQ(pp.std, p.std);
}

TEST(ExtractRun, ThreadSplitDefaults) {
  ExtractParams p;
  EXPECT_EQ(resolve_threads(p, 2, false, false), std::make_pair(2, 2));   // CPU CNN: both get every core
  EXPECT_EQ(resolve_threads(p, 16, false, false), std::make_pair(16, 16));
  EXPECT_EQ(resolve_threads(p, 16, false, true), std::make_pair(15, 16));  // GPU: all cores but one decode
  EXPECT_EQ(resolve_threads(p, 2, true, false), std::make_pair(2, 2));     // pixels: decoding is the work
  p.decode_threads = 3, p.torch_threads = 5;
  EXPECT_EQ(resolve_threads(p, 2, false, false), std::make_pair(3, 5));
}

TEST(ExtractRun, InvalidSettingsAreNamed) {
  auto message = [](ExtractParams p) {
    try {
      p.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  ExtractParams ok;
  ok.source = "x", ok.backbone = "pixels";
  EXPECT_EQ(message(ok), "(no error)");
  ExtractParams p = ok;
  p.source = "";
  EXPECT_NE(message(p).find("no images given"), std::string::npos);
  p = ok, p.pca_whiten = true;
  EXPECT_NE(message(p).find("extract.pca_whiten is true but there is no PCA"), std::string::npos);
  p = ok, p.device = "tpu";
  EXPECT_NE(message(p).find("extract.device is 'tpu'"), std::string::npos);
  p = ok, p.mean = {1, 2};
  EXPECT_NE(message(p).find("extract.mean has 2 values"), std::string::npos);
  p = ok, p.source_type = "zip";
  EXPECT_NE(message(p).find("extract.source_type is 'zip'"), std::string::npos);
}

TEST(ExtractRun, MissingTorchPluginIsNamed) {
  // The LibTorch plugin is opened on first use; a wrong path is a clear error.
  if (torch_plugin_opened())
    GTEST_SKIP() << "an earlier test in this process opened the plugin, which stays open (ctest runs this test alone)";
  setenv("DISTCLUST_TORCH_PLUGIN", "/nonexistent/libdistclust_torch.so", 1);
  TorchScriptSpec spec;
  spec.path = "model.pt";
  try {
    load_torchscript_backbone(spec);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/libdistclust_torch.so: not found"), std::string::npos)
        << e.what();
  }
  unsetenv("DISTCLUST_TORCH_PLUGIN");
}

TEST(ExtractRun, GpuBackboneIsWarmedUpBeforeTheTimedLoop) {
  // A GPU backbone's first batches of a shape are slow (profiling executor,
  // fusion compiles): two zero batches of the first batch's shape run
  // before the loop; the features are those of a run without them. A CPU
  // backbone gets none.
  TempDir t;
  for (int i = 0; i < 5; ++i) write_png(t / ("imgs/" + std::to_string(i) + ".png"), 8, 8, cv::Scalar(40 * i, 10, 200));
  ExtractParams p;
  p.source = t / "imgs";
  p.backbone = fake_model(t);
  p.batch = 2;
  p.progress_seconds = 0;
  LocalCommunicator comm;
  std::vector<std::pair<int64_t, bool>> calls;
  p.out = t / "gpu.h5";
  run_extract(p, comm, [&](const TorchScriptSpec& s) { return std::make_unique<GpuMeanBackbone>(s.input_size, &calls); },
              stage_config(extract_stage(), p, comm));
  const std::vector<std::pair<int64_t, bool>> want = {{2, true}, {2, true}, {2, false}, {2, false}, {1, false}};
  EXPECT_EQ(calls, want);
  p.out = t / "cpu.h5";
  run_extract(p, comm, mean_loader(), stage_config(extract_stage(), p, comm));
  H5Reader a(t / "gpu.h5", comm), b(t / "cpu.h5", comm);
  EXPECT_EQ(a.read_all<float>("/features"), b.read_all<float>("/features"));
}

namespace distclust {
namespace {

// A backbone path with a quote made bench extract's RESULT line and --json
// invalid JSON (written unescaped).
TEST(BenchExtract, JsonEscapesTheBackbone) {
  BenchExtractResult r;
  r.backbone = "torchscript /m/a\"b\\c.pt on cpu";
  const std::string j = r.json();
  EXPECT_EQ(j.rfind("{\"bench\": \"extract\", ", 0), 0u) << j;
  EXPECT_NE(j.find("\"backbone\": \"torchscript /m/a\\\"b\\\\c.pt on cpu\"}"), std::string::npos) << j;
}

}  // namespace
}  // namespace distclust

TEST(ExtractRun, OutOfMemoryIsFoundInALibTorchTraceback) {
  // What LibTorch 1.13 threw under `ulimit -v` (shortened): the cause on
  // the last line of a TorchScript traceback, which read as a broken model.
  const std::string cpu =
      "The following operation failed in the TorchScript interpreter.\n"
      "Traceback of TorchScript, serialized code (most recent call last):\n"
      "  File \"code/__torch__/resnet.py\", line 31, in forward\n"
      "    input = torch._convolution(x, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, False, False, True, True)\n"
      "RuntimeError: [enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: you "
      "tried to allocate 4194304 bytes. Error code 12 (Cannot allocate memory)";
  EXPECT_EQ(out_of_memory_line(cpu),
            "RuntimeError: [enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: you "
            "tried to allocate 4194304 bytes. Error code 12 (Cannot allocate memory)");
  EXPECT_EQ(out_of_memory_line("  CUDA out of memory. Tried to allocate 2.00 GiB\nmore"),
            "CUDA out of memory. Tried to allocate 2.00 GiB");
  EXPECT_EQ(out_of_memory_line("Expected 4-dimensional input for 4-dimensional weight [16, 3, 3, 3]"), "");
}
