// ExtractParams: validation and the settings derived from it (source,
// preprocessing from the model's sidecar, thread split).
#include <sys/stat.h>

#include <algorithm>

#include "distclust/device_name.h"
#include "distclust/error.h"
#include "distclust/runtime.h"
#include "extract/extract.h"

namespace distclust {
namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> ok) {
  for (const char* o : ok)
    if (v == o) return true;
  return false;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

void ExtractParams::validate() const {
  require(!source.empty(), "extract: no images given (--source FOLDER|LIST|FILE.h5|CIFAR; in `distclust run`: ",
          "--set extract.source=... or extract: source: in the config)");
  require(!backbone.empty(), "extract: no backbone given (--backbone MODEL.pt, a TorchScript file with its .json "
                             "sidecar, or --backbone pixels)");
  require(!out.empty(), "extract.out is empty (expected a file name such as features.h5)");
  require(one_of(source_type, {"auto", "folder", "list", "hdf5", "cifar"}), "extract.source_type is '", source_type,
          "' (expected auto|folder|list|hdf5|cifar)");
  require(batch >= 1 && batch <= 65536, "extract.batch is ", batch, " (expected 1..65536)");
  require(decode_threads >= 0 && decode_threads <= 1024, "extract.decode_threads is ", decode_threads,
          " (expected 0 = auto, or 1..1024)");
  require(torch_threads >= 0 && torch_threads <= 1024, "extract.torch_threads is ", torch_threads,
          " (expected 0 = auto, or 1..1024)");
  require(queue_batches >= 1 && queue_batches <= 64, "extract.queue_batches is ", queue_batches, " (expected 1..64)");
  require(is_device_name(device), "extract.device is '", device, "' (expected auto|cpu|cuda|cuda:N)");
  require(one_of(autocast, {"none", "fp16", "bf16"}), "extract.autocast is '", autocast,
          "' (expected none|fp16|bf16)");
  require(pixels_size >= 1 && pixels_size <= 1024, "extract.pixels_size is ", pixels_size, " (expected 1..1024)");
  require(pca_dim >= 0, "extract.pca_dim is ", pca_dim, " (expected >= 0; 0 = no PCA)");
  require(!pca_whiten || pca_dim > 0 || !pca_from.empty(),
          "extract.pca_whiten is true but there is no PCA to whiten (set extract.pca_dim or extract.pca_from)");
  // Each rank keeps a heap of this many row keys (pca.h): bounded so that
  // memory stays small; a PCA gains nothing from millions more rows.
  require(pca_sample >= 2 && pca_sample <= 10000000, "extract.pca_sample is ", pca_sample,
          " (expected 2..10000000)");
  require(resize >= -1, "extract.resize is ", resize, " (expected -1 = from the sidecar, 0 = keep, or a size)");
  require(crop >= -1, "extract.crop is ", crop, " (expected -1 = from the sidecar, 0 = none, or a size)");
  require(mean.empty() || mean.size() == 1 || mean.size() == 3, "extract.mean has ", mean.size(),
          " values (expected [] = from the sidecar, 1, or 3: R,G,B)");
  require(std.empty() || std.size() == 1 || std.size() == 3, "extract.std has ", std.size(),
          " values (expected [] = from the sidecar, 1, or 3: R,G,B)");
  for (float s : std) require(s > 0, "extract.std holds ", s, " (expected > 0)");
  require(interpolation.empty() || one_of(interpolation, {"bilinear", "bicubic", "area", "lanczos"}),
          "extract.interpolation is '", interpolation, "' (expected bilinear|bicubic|area|lanczos)");
  require(max_pixels > 0, "extract.max_pixels is ", max_pixels, " (expected > 0)");
  require(max_file_bytes > 0, "extract.max_file_bytes is ", max_file_bytes, " (expected > 0)");
  require(progress_seconds >= 0 || progress_seconds == -1, "extract.progress_seconds is ", progress_seconds,
          " (expected >= 0, or -1 for $DISTCLUST_PROGRESS_SECONDS or 10)");
  source_params(*this).validate();
}

SourceParams source_params(const ExtractParams& p) {
  SourceParams s;
  s.path = p.source;
  s.type = p.source_type;
  s.folder_labels = p.folder_labels;
  s.hdf5_images = p.hdf5_images;
  s.hdf5_labels = p.hdf5_labels;
  s.cifar_split = p.cifar_split;
  s.max_file_bytes = p.max_file_bytes;
  return s;
}

PreprocessParams model_preprocess(const ExtractParams& p, int64_t* sidecar_output_dim) {
  PreprocessParams pp;
  if (sidecar_output_dim != nullptr) *sidecar_output_dim = -1;
  require(file_exists(p.backbone), "model file ", p.backbone,
          " does not exist (expected a TorchScript file with a .json sidecar, or 'pixels')");
  const std::string sidecar = sidecar_path_for(p.backbone);
  // A link there (dangling, or a loop) is a sidecar that cannot be read, not
  // a missing one: the loader says why.
  struct stat link {};
  const bool have = file_exists(sidecar) || lstat(sidecar.c_str(), &link) == 0;
  if (have) {
    const ModelSidecar side = load_model_sidecar(sidecar);
    apply_sidecar(side, pp);
    if (sidecar_output_dim != nullptr) *sidecar_output_dim = side.output_dim;
  } else {
    require(p.crop > 0 && !p.mean.empty() && !p.std.empty(), "model ", p.backbone, " has no sidecar ", sidecar,
            ": give its input size and normalisation (extract.crop, extract.mean, extract.std, and extract.resize "
            "if it differs from crop), or write the sidecar (tools/export_backbone.py does)");
    pp.resize = p.crop;
  }
  if (p.resize >= 0) pp.resize = p.resize;
  if (p.crop >= 0) pp.crop = p.crop;
  if (!p.mean.empty()) pp.mean = p.mean;
  if (!p.std.empty()) pp.std = p.std;
  if (!p.interpolation.empty()) pp.interpolation = p.interpolation;
  require(pp.crop > 0, "model ", p.backbone, ": extract.crop is 0, but a network needs a fixed input size");
  // Checked as used: a sidecar's 0-255 values are named with the file, and
  // flags that override them (the values the message suggests) are taken.
  if (have && p.mean.empty())
    for (float m : pp.mean) require_unit_scale(m, false, fmt(sidecar, ": key 'mean' holds ", float_digits(m)));
  if (have && p.std.empty())
    for (float v : pp.std) require_unit_scale(v, true, fmt(sidecar, ": key 'std' holds ", float_digits(v)));
  pp.validate();
  // The decode queue holds queue_batches batches, plus one being filled and
  // one in the model: refused here, by name, rather than as a bad_alloc.
  const double side = pp.crop;
  require_memory(double(p.batch) * (p.queue_batches + 2) * 3.0 * side * side * sizeof(float),
                 fmt("extract: ", p.queue_batches + 2, " batches of ", p.batch, " images of 3 x ", pp.crop, " x ",
                     pp.crop, " floats (extract.batch, extract.queue_batches, the model's input size)"));
  return pp;
}

PreprocessParams pixels_normalization(const ExtractParams& p) {
  PreprocessParams pp;
  pp.resize = 0;
  pp.crop = 0;
  pp.mean = p.mean.empty() ? std::vector<float>{0.0f} : p.mean;
  pp.std = p.std.empty() ? std::vector<float>{1.0f} : p.std;
  pp.scale_to_unit = true;
  pp.interpolation = p.interpolation.empty() ? "bilinear" : p.interpolation;
  pp.validate();
  return pp;
}

std::pair<int, int> resolve_threads(const ExtractParams& p, int cores, bool pixels, bool gpu) {
  cores = std::max(1, cores);
  const int model = p.torch_threads > 0 ? p.torch_threads : cores;
  int decode = p.decode_threads;
  if (decode <= 0) decode = gpu && !pixels ? std::max(1, cores - 1) : cores;
  return {decode, model};
}

}  // namespace distclust
