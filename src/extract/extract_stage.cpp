#include "extract/extract_stage.h"

#include <fstream>

#include "comm/root.h"
#include "distclust/log.h"
#include "extract/backbone.h"
#include "extract/image_source.h"

namespace distclust {
namespace {

/// Size and FNV-1a of a file's bytes: a model replaced under the same name
/// must not be resumed into or skipped.
std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t x = 0xcbf29ce484222325ull, n = 0;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof(buf));
    for (std::streamsize i = 0; i < in.gcount(); ++i) x = (x ^ uint8_t(buf[i])) * 0x100000001b3ull;
    n += uint64_t(in.gcount());
  }
  return fmt(n, ":", std::hex, x);
}

/// What the features are computed from besides the settings: the source
/// (its kind, where, how many images) and the model file's bytes. Rank 0
/// looks, every rank gets it.
std::string extract_identity(const ExtractParams& p, Communicator& comm) {
  std::string id;
  run_on_root(comm, "reading the image source", [&] {
    std::unique_ptr<ImageSource> src = open_source(source_params(p));
    id = fmt("source ", src->describe(), " rows ", src->size(), "; model ",
             p.is_pixels() ? std::string("pixels") : file_fingerprint(p.backbone));
  });
  comm.broadcast(id, 0);
  return id;
}

}  // namespace

const StageDef<ExtractParams>& extract_stage() {
  static const StageDef<ExtractParams> def{
      "extract",
      {"extract"},
      "Images -> features.h5: a TorchScript backbone (+ JSON sidecar) or 'pixels' (+ optional PCA), sharded by rank",
      "features.h5",
      {"out", "decode_threads", "torch_threads", "queue_batches", "resume", "progress_seconds"},
      [](ExtractParams& p, const RunLayout& w) {
        if (w.has("synth_images")) p.source = w.output_of("synth_images");
        p.out = w.file("features.h5");
      },
      [](const ExtractParams& p) { return p.out; },
      nullptr,
      extract_identity,
      nullptr,
      [](const ExtractParams& p, Communicator& comm, const StageConfig& cfg) {
        ExtractSummary s = run_extract(p, comm, load_torchscript_backbone, cfg);
        return StageOutcome{{fmt("extract: ", s.images_per_second, " images/s, ", s.invalid, " invalid images")}};
      }};
  return def;
}

}  // namespace distclust
