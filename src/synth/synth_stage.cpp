#include "synth/synth_stage.h"

#include "distclust/log.h"
#include "io/output_identity.h"

namespace distclust {

const StageDef<SynthImagesParams>& synth_images_stage() {
  static const StageDef<SynthImagesParams> def{
      "synth_images",
      {"synth", "images"},
      "Procedural PNG images in class folders (visually distinct classes)",
      "images",
      {"out"},
      [](SynthImagesParams& p, const RunLayout& w) {
        if (p.out.empty()) p.out = w.file("images");
      },
      [](const SynthImagesParams& p) { return p.out; },
      nullptr,
      nullptr,
      nullptr,
      [](const SynthImagesParams& p, Communicator& comm, const StageConfig& cfg) {
        require(!p.out.empty(), "synth images: no output folder given (--out DIR)");
        const int64_t total = int64_t(p.classes) * p.per_class;
        const RowRange mine = row_block(total, comm.rank(), comm.size());
        const int64_t written = comm.sum(synth_images(p, mine.begin, mine.end));
        // Every rank's images are on disk: the folder is whole.
        if (comm.rank() == 0) write_folder_hash(p.out, cfg.hash);
        comm.barrier();
        log::info("synth images: wrote ", written, " PNGs (", p.classes, " classes x ", p.per_class, ", ", p.size, "x",
                  p.size, ") to ", p.out);
        return StageOutcome{};
      }};
  return def;
}

}  // namespace distclust
