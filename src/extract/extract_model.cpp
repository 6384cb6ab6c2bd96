// make_extract_model: the backbone of ExtractParams and the per-row
// transform that feeds it (TorchScript with its sidecar's preprocessing, or
// the pixels backbone with its PCA fitted across ranks).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "distclust/config.h"
#include "distclust/error.h"
#include "extract/extract.h"
#include "distclust/log.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string floats_text(const std::vector<float>& v) { return to_text(v); }

// Two ranks of one host on one GPU would halve each other's speed and may run
// out of memory: refuse, naming the device. A GPU is told by host,
// CUDA_VISIBLE_DEVICES and device index (collective over all ranks).
void refuse_shared_gpu(const std::string& device, Communicator& comm) {
  char host[128] = {0};
  gethostname(host, sizeof(host) - 1);
  const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
  std::vector<char> mine(256, 0);
  std::snprintf(mine.data(), mine.size(), "%s|%s|%s", host, cvd ? cvd : "(all)", device.c_str());
  const std::vector<char> all = comm.allgather(mine);
  for (int r = 0; r < comm.size(); ++r)
    require(r == comm.rank() || std::memcmp(all.data() + size_t(r) * 256, mine.data(), 256) != 0, "extract: rank ",
            comm.rank(), " and rank ", r, " would share GPU ", device, " on ", host, " (CUDA_VISIBLE_DEVICES=",
            cvd ? cvd : "unset", "): start one rank per GPU (launch/distclust-mpirun sets one GPU per rank)");
}

}  // namespace

ExtractModel make_extract_model(const ExtractParams& p, const ImageSource& src, Communicator& comm,
                                const BackboneLoader& loader, int cores) {
  ExtractModel m;
  DecodeParams dp;
  dp.max_pixels = p.max_pixels;
  if (p.is_pixels()) {
    const PreprocessParams norm = pixels_normalization(p);
    const int s = p.pixels_size;
    const std::string interp = norm.interpolation;
    auto [decode, model] = resolve_threads(p, cores, true, false);
    m.decode_threads = decode;
    m.model_threads = model;
    m.row_floats = 3 * int64_t(s) * s;
    m.prep = [norm, s, interp](const cv::Mat& rgb, float* out) { pixels_preprocess(rgb, s, interp, norm, out); };
    m.preprocessing = fmt("pixels: resize to ", s, " x ", s, " (", interp, ", Pillow), x = (v/255 - mean)/std, mean ",
                          floats_text(norm.mean), ", std ", floats_text(norm.std), ", CHW flattened");
    if (p.pca_dim > 0) {
      PixelPcaOptions o;
      o.size = s;
      o.interpolation = interp;
      o.norm = norm;
      o.decode = dp;
      o.dim = p.pca_dim;
      o.max_sample = p.pca_sample;
      o.seed = static_cast<uint64_t>(p.seed);
      o.threads = decode;
      auto t0 = Clock::now();
      m.pca = std::make_shared<PixelProjection>(fit_pixel_pca(src, o, comm));
      m.preprocessing += fmt(", PCA to ", p.pca_dim, " dimensions");
      log::info("extract: PCA ", m.row_floats, " -> ", p.pca_dim, " fitted on ", m.pca->sample_rows, " rows in ",
                since(t0), " s");
    }
    m.net = make_pixels_backbone(m.row_floats, m.pca, model);
    return m;
  }
  const PreprocessParams pp = model_preprocess(p);
  TorchScriptSpec spec;
  spec.path = p.backbone;
  spec.input_size = pp.crop;
  spec.device = p.device;
  spec.local_rank = comm.local_rank();
  spec.threads = m.model_threads = resolve_threads(p, cores, false, false).second;
  spec.autocast = p.autocast;
  spec.flush_denormal = p.flush_denormal;
  m.net = loader(spec);
  if (p.autocast != "none" && !m.net->on_gpu()) log::warn("extract.autocast=", p.autocast, " is ignored on the CPU");
  if (m.net->on_gpu()) refuse_shared_gpu(m.net->device(), comm);
  m.decode_threads = resolve_threads(p, cores, false, m.net->on_gpu()).first;
  m.row_floats = 3 * int64_t(pp.crop) * pp.crop;
  const size_t len = static_cast<size_t>(m.row_floats);
  m.prep = [pp, len](const cv::Mat& rgb, float* out) { preprocess(rgb, pp, out, len); };
  m.preprocessing = fmt("resize shorter side to ", pp.resize, " (", pp.interpolation, ", Pillow), centre crop ",
                        pp.crop, ", x = (v/255 - mean)/std, mean ", floats_text(pp.mean), ", std ",
                        floats_text(pp.std));
  return m;
}

}  // namespace distclust
