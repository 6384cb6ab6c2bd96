#include "extract/extract_stage.h"

#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "comm/root.h"
#include "distclust/log.h"
#include "extract/backbone.h"
#include "extract/image_source.h"
#include "extract/model_zip_check.h"
#include "extract/preprocess.h"
#include "io/output_identity.h"
#include "io/regular_file.h"

namespace distclust {
namespace {

/// Size and FNV-1a of a file's bytes: a model replaced under the same name
/// must not be resumed into or skipped. RegularFile: a FIFO or a device in
/// the model's place hung here. The file is read whole here anyway, so its
/// zip entries' CRC-32 are checked too (about 1 ms per MB, from the page
/// cache): LibTorch never checks them, and a model with a flipped byte in a
/// weight gave other features with exit 0.
std::string file_fingerprint(const std::string& path) {
  const RegularFile in(path, "model file");
  uint64_t x = 0xcbf29ce484222325ull, n = 0;
  std::vector<char> buf(size_t(1) << 16);
  for (size_t got; (got = in.read_at(buf.data(), buf.size(), int64_t(n))) > 0; n += got)
    for (size_t i = 0; i < got; ++i) x = (x ^ uint8_t(buf[i])) * 0x100000001b3ull;
  const std::string bad = first_corrupt_zip_entry(in);
  require(bad.empty(), in.label(), ": entry ", bad, " fails its CRC-32 check (the file is corrupt: copy it again)");
  return fmt(n, ":", std::hex, x);
}

/// FNV-1a over every row's id with the size and modification time (ns) of
/// the file behind it: the image file itself, or for an id FILE:INDEX (a row
/// of an HDF5 array or CIFAR batch) FILE. Images replaced, touched or renamed
/// under the same count change it, so a resume or a `run` never mixes old and
/// new images, and downstream files (knn.h5, scan.h5) built from the old
/// features no longer match the new ones. One stat per image on rank 0
/// (about 1 s per 10^5-10^6 files on a local disk).
std::string files_stamp(const ImageSource& src) {
  uint64_t x = 0xcbf29ce484222325ull;
  auto mix = [&](const std::string& t) {
    for (unsigned char c : t) x = (x ^ c) * 0x100000001b3ull;
    x = (x ^ 0xff) * 0x100000001b3ull;  // field separator
  };
  std::string last_container, last_stamp;
  struct stat st{};
  auto stamp_of = [&](const std::string& f) {
    return ::stat(f.c_str(), &st) == 0 ? fmt(st.st_size, ".", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec)
                                       : std::string("missing");
  };
  for (int64_t i = 0; i < src.size(); ++i) {
    const std::string id = src.id(i);
    mix(id);
    if (::stat(id.c_str(), &st) == 0) {
      mix(fmt(st.st_size, ".", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec));
      continue;
    }
    const size_t colon = id.rfind(':');
    const std::string container = colon == std::string::npos ? id : id.substr(0, colon);
    if (container != last_container) {
      last_container = container;
      last_stamp = stamp_of(container);
    }
    mix(last_stamp);
  }
  return fmt(std::hex, x);
}

/// What the features are computed from besides the settings: the source
/// (its kind, where, how many images, each file's size and mtime) and the
/// model file's bytes, and the file a PCA is taken from. Rank 0 looks, every
/// rank gets it.
std::string extract_identity(const ExtractParams& p, Communicator& comm) {
  std::string id;
  run_on_root(comm, "reading the image source", [&] {
    std::unique_ptr<ImageSource> src = open_source(source_params(p));
    // The source as an absolute, normal path and the model by its bytes
    // (source and backbone are not hashed as typed): `imgs`, `./imgs/` and
    // `/abs/imgs` are one input, and differed in every output's hash.
    const std::string where = absolute_normal_path(p.source, std::filesystem::current_path().string());
    id = fmt("source ", src->kind(), " ", where, ": ", src->class_names().size(), " classes, rows ", src->size(),
             " files ", files_stamp(*src), "; model ", model_fingerprint(p));
    // The projection applied is an input: its file's identity (its config
    // hash, or size and mtime) stands for it, as a model's bytes do.
    if (!p.pca_from.empty()) id += "; pca_from " + file_identity(p.pca_from);
    // The transform the model's sidecar gives (input size, mean, std) is
    // not in the settings: a sidecar edited after a run made other features
    // under the same hash: run took them as up to date, and a resume
    // continued a .tmp of the old transform with the new one.
    id += "; preprocessing " + preprocessing_text(p);
  });
  comm.broadcast(id, 0);
  return id;
}

/// The files besides the images that the features are computed from, which
/// must not change while extract runs (io/input_watch.h; the images are
/// stamped in the identity, not watched): the model and its sidecar, the
/// file a PCA is taken from.
std::vector<std::string> model_files(const ExtractParams& p) {
  std::vector<std::string> in;
  if (!p.is_pixels()) in = {p.backbone, sidecar_path_for(p.backbone)};
  if (!p.pca_from.empty()) in.push_back(p.pca_from);
  return in;
}

}  // namespace

std::string model_fingerprint(const ExtractParams& p) {
  return p.is_pixels() ? std::string("pixels") : file_fingerprint(p.backbone);
}

const StageDef<ExtractParams>& extract_stage() {
  static const StageDef<ExtractParams> def{
      "extract",
      {"extract"},
      "Images -> features.h5: a TorchScript backbone (+ JSON sidecar) or 'pixels', optional PCA, sharded by rank",
      "features.h5",
      {"out", "source", "backbone", "pca_from", "decode_threads", "torch_threads", "queue_batches", "resume",
       "progress_seconds", "force"},
      [](ExtractParams& p, const RunLayout& w) {
        if (w.has("synth_images")) {
          // Wired only when synth_images comes first; after extract it was
          // "no images given (--source ...)", naming a key the run sets.
          require(!w.output_of("synth_images").empty(),
                  "run.stages lists synth_images after extract, which reads the images it makes: put synth_images first");
          p.source = w.output_of("synth_images");
        }
        p.out = w.file("features.h5");
      },
      [](const ExtractParams& p) { return p.out; },
      model_files,
      extract_identity,
      nullptr,
      [](const ExtractParams& p, Communicator& comm, const StageConfig& cfg) {
        ExtractSummary s = run_extract(p, comm, load_torchscript_backbone, cfg);
        return StageOutcome{{fmt("extract: ", s.images_per_second, " images/s, ", s.invalid, " invalid images")}};
      },
      nullptr,
      /*compute_hashed=*/false,
      /*out_optional=*/false,
      // A model given its preprocessing in the settings needs no sidecar.
      [](const ExtractParams& p) {
        return p.is_pixels() ? std::vector<std::string>{} : std::vector<std::string>{sidecar_path_for(p.backbone)};
      },
      /*checkpoints=*/nullptr,
      /*uses_blas=*/false};  // its PCA is Eigen's
  return def;
}

}  // namespace distclust
