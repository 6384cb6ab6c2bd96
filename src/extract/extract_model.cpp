// make_extract_model: the backbone of ExtractParams and the per-row
// transform that feeds it (TorchScript with its sidecar's preprocessing, or
// the pixels backbone), with its PCA fitted across ranks or read from a file.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/compute_target.h"
#include "distclust/config.h"
#include "distclust/comm.h"
#include "distclust/error.h"
#include "extract/extract.h"
#include "distclust/log.h"
#include "extract/feature_pca.h"
#include "extract/pca_file.h"
#include "io/h5store.h"
#include "io/output_identity.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string floats_text(const std::vector<float>& v) { return to_text(v); }

PcaOptions pca_options(const ExtractParams& p) {
  PcaOptions o;
  o.dim = p.pca_dim;
  o.whiten = p.pca_whiten;
  o.max_sample = p.pca_sample;
  o.seed = static_cast<uint64_t>(p.seed);
  return o;
}

// Two ranks of one host on one GPU would halve each other's speed and may run
// out of memory: refuse, naming the device (collective over all ranks; GPUs
// told apart as comm.h's gather_gpu_keys does).
// Every rank calls it (device "" on a rank whose backbone is on its CPU):
// the gather is collective, and a job mixing GPU and CPU ranks once waited
// in it forever.
void refuse_shared_gpu(const std::string& device, Communicator& comm) {
  const size_t colon = device.find(':');
  const int index = device.empty() ? -1 : colon == std::string::npos ? 0 : std::atoi(device.c_str() + colon + 1);
  const std::vector<std::string> keys = gather_gpu_keys(comm, index);
  if (index < 0) return;  // on the CPU: nothing to share
  const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
  for (int r = 0; r < comm.size(); ++r)
    require(r == comm.rank() || keys[size_t(r)] != keys[size_t(comm.rank())], "extract: rank ", comm.rank(),
            " and rank ", r, " would share GPU ", device, " (", keys[size_t(comm.rank())], ", CUDA_VISIBLE_DEVICES=",
            cvd ? cvd : "unset", "): start one rank per GPU (launch/distclust-mpirun sets one GPU per rank)");
}

/// The features file's `preprocessing` text (preprocessing_text) of each
/// backbone kind.
std::string pixels_text(const ExtractParams& p, const PreprocessParams& norm) {
  return fmt("pixels: resize to ", p.pixels_size, " x ", p.pixels_size, " (", norm.interpolation, ", Pillow)",
             p.pixels_deskew ? ", deskewed and centred by ink moments" : "", ", x = (v/255 - mean)/std, mean ",
             floats_text(norm.mean), ", std ", floats_text(norm.std), ", CHW flattened");
}

std::string torchscript_text(const PreprocessParams& pp) {
  return fmt("resize shorter side to ", pp.resize, " (", pp.interpolation, ", Pillow), centre crop ", pp.crop,
             ", x = (v/255 - mean)/std, mean ", floats_text(pp.mean), ", std ", floats_text(pp.std));
}

}  // namespace

namespace {

/// The pixels backbone and its input transform.
void make_pixels(const ExtractParams& p, int cores, ExtractModel& m) {
  const PreprocessParams norm = pixels_normalization(p);
  if (p.crop != -1 || p.resize != -1)
    log::warn_once("extract.crop and extract.resize are for a TorchScript model: ignored with --backbone pixels "
                   "(it resizes each image to extract.pixels_size = ", p.pixels_size, ")");
  const int s = p.pixels_size;
  const std::string interp = norm.interpolation;
  auto [decode, model] = resolve_threads(p, cores, true, false);
  m.decode_threads = decode;
  m.model_threads = model;
  m.row_floats = 3 * int64_t(s) * s;
  const bool deskew = p.pixels_deskew;
  m.prep = [norm, s, interp, deskew](const cv::Mat& rgb, float* out) {
    pixels_preprocess(rgb, s, interp, norm, out, deskew);
  };
  m.preprocessing = pixels_text(p, norm);
  m.net = make_pixels_backbone(m.row_floats);
}

/// A TorchScript backbone (collective: a GPU shared by two ranks is refused).
void make_torchscript(const ExtractParams& p, Communicator& comm, const BackboneLoader& loader, int cores,
                      ExtractModel& m) {
  int64_t said_dim = -1;
  const PreprocessParams pp = model_preprocess(p, &said_dim);
  const ExtractParams defaults;
  if (p.pixels_size != defaults.pixels_size || p.pixels_deskew != defaults.pixels_deskew)
    log::warn_once("extract.pixels_size and extract.pixels_deskew are for --backbone pixels: ignored with the model ",
                   p.backbone, " (its input is 3 x ", pp.crop, " x ", pp.crop, ")");
  TorchScriptSpec spec;
  spec.path = p.backbone;
  spec.input_size = pp.crop;
  // auto follows runtime.device (resolved once per process: a CUDA LibTorch
  // and a visible GPU, unless the run asked for the CPU).
  // (cuda:N as resolved: runtime.device cuda:1 once extracted on GPU 0.)
  spec.device = p.device != "auto" ? p.device : compute_target().device;
  spec.local_rank = comm.local_rank();
  spec.threads = m.model_threads = resolve_threads(p, cores, false, false).second;
  spec.autocast = p.autocast;
  spec.flush_denormal = p.flush_denormal;
  m.net = loader(spec);
  // The sidecar's output_dim was parsed and never compared: a sidecar of
  // another model passed without a word.
  require(said_dim < 0 || said_dim == m.net->dim(), sidecar_path_for(p.backbone), ": output_dim is ", said_dim,
          " but ", p.backbone, " gives ", m.net->dim(), " values per image (", m.net->describe(),
          "): the sidecar belongs to another model");
  if (p.autocast != "none" && !m.net->on_gpu() && comm.rank() == 0) log::warn("extract.autocast=", p.autocast, " is ignored on the CPU");
  refuse_shared_gpu(m.net->on_gpu() ? m.net->device() : "", comm);
  m.decode_threads = resolve_threads(p, cores, false, m.net->on_gpu()).first;
  m.row_floats = 3 * int64_t(pp.crop) * pp.crop;
  const size_t len = static_cast<size_t>(m.row_floats);
  m.prep = [pp, len](const cv::Mat& rgb, float* out) { preprocess(rgb, pp, out, len); };
  m.preprocessing = torchscript_text(pp);
}

/// A pixels PCA fitted on deskewed images projects only deskewed ones (and
/// the other way round): the same input dimension would hide the mismatch.
void require_same_deskew(const ExtractParams& p, Communicator& comm) {
  H5Reader r(p.pca_from, comm);
  if (!r.has_attr("params")) return;  // not written by extract: nothing to compare
  ExtractParams q;
  stored_params(r).apply_yaml("extract", q);
  require(q.pixels_deskew == p.pixels_deskew, "extract.pixels_deskew is ", p.pixels_deskew ? "true" : "false",
          " but the PCA in ", p.pca_from, " (extract.pca_from) was fitted on images ",
          q.pixels_deskew ? "" : "not ", "deskewed");
}

/// The projection of p.pca_from, checked against the backbone and p: the
/// same input dimension, components, whitening and L2 step as p would fit.
Projection projection_from(const ExtractParams& p, const Backbone& net, Communicator& comm) {
  Projection proj = read_projection(p.pca_from, comm);
  require_projection_input(proj, net.dim(), net.describe());
  require(p.pca_dim == 0 || p.pca_dim == proj.out_dim, "extract.pca_dim is ", p.pca_dim, " but the PCA in ",
          p.pca_from, " (extract.pca_from) keeps ", proj.out_dim, " components (pca_dim 0 takes the file's)");
  require(p.pca_whiten == !proj.scales.empty(), "extract.pca_whiten is ", p.pca_whiten ? "true" : "false",
          " but the PCA in ", p.pca_from, " (extract.pca_from) is ", proj.scales.empty() ? "not " : "", "whitened");
  const bool l2 = p.normalize && !p.is_pixels();
  require(l2 == proj.normalize_input, "extract.normalize is ", p.normalize ? "true" : "false", " with backbone ",
          p.backbone, ", so rows are ", l2 ? "" : "not ", "L2-normalised before the PCA, but the PCA in ", p.pca_from,
          " (extract.pca_from) was fitted on rows that were ", proj.normalize_input ? "" : "not ", "normalised");
  if (p.is_pixels()) require_same_deskew(p, comm);
  return proj;
}

}  // namespace

ExtractModel make_extract_model(const ExtractParams& p, const ImageSource& src, Communicator& comm,
                                const BackboneLoader& loader, int cores, const Projection* resumed) {
  ExtractModel m;
  if (p.is_pixels())
    make_pixels(p, cores, m);
  else
    make_torchscript(p, comm, loader, cores, m);
  if (p.pca_from.empty() && p.pca_dim == 0) return m;
  const auto t0 = Clock::now();
  if (!p.pca_from.empty()) {
    m.pca = std::make_shared<Projection>(projection_from(p, *m.net, comm));
  } else if (resumed) {
    require_projection_input(*resumed, m.net->dim(), m.net->describe());
    m.pca = std::make_shared<Projection>(*resumed);
  } else if (p.is_pixels()) {
    PixelPcaOptions o;
    o.size = p.pixels_size;
    o.deskew = p.pixels_deskew;
    o.norm = pixels_normalization(p);
    o.interpolation = o.norm.interpolation;
    o.decode.max_pixels = p.max_pixels;
    o.pca = pca_options(p);
    o.threads = m.decode_threads;
    m.pca = std::make_shared<Projection>(fit_pixel_pca(src, o, comm));
  } else {
    FeaturePcaOptions o;
    o.pca = pca_options(p);
    o.normalize_input = p.normalize;
    o.decode.max_pixels = p.max_pixels;
    o.prep = m.prep;
    o.row_floats = m.row_floats;
    o.decode_threads = m.decode_threads;
    o.batch = p.batch;
    o.queue_batches = p.queue_batches;
    o.progress_seconds = p.progress_seconds;
    m.pca = std::make_shared<Projection>(fit_feature_pca(src, *m.net, o, comm));
  }
  const int64_t d_in = m.net->dim();
  m.preprocessing += fmt(m.pca->normalize_input ? ", L2-normalised" : "", ", PCA to ", m.pca->out_dim, " dimensions",
                         m.pca->scales.empty() ? "" : ", whitened",
                         p.pca_from.empty() ? std::string() : " (from " + p.pca_from + ")");
  if (p.pca_from.empty() && !resumed)  // (a resumed one is said once the resume is decided: extract.cpp)
    log::info("extract: PCA ", d_in, " -> ", m.pca->out_dim, " fitted on ", m.pca->sample_rows, " rows in ",
              since(t0), " s");
  m.net = make_projected_backbone(std::move(m.net), m.pca, m.model_threads);
  return m;
}

std::string preprocessing_text(const ExtractParams& p) {
  return p.is_pixels() ? pixels_text(p, pixels_normalization(p)) : torchscript_text(model_preprocess(p));
}

}  // namespace distclust
