#include "synth/synth_stage.h"

#include <optional>

#include "comm/root.h"
#include "distclust/log.h"
#include "io/out_dir.h"

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
        // Staged in OUT.tmp and renamed when whole, as export's folders: the
        // images were written into OUT in place, so a full disk left an old,
        // whole folder part-overwritten with its old config hash (a run then
        // skipped it as up to date), or a new one without a hash.
        std::optional<StagedDir> dir;
        std::string tmp;
        run_on_root(comm, "synth images: staging " + p.out, [&] {
          dir.emplace(p.out, /*force=*/true);  // the overwrite rule (run_stage) decided already
          tmp = dir->path();
        });
        comm.broadcast(tmp, 0);
        SynthImagesParams q = p;
        q.out = tmp;
        const int64_t total = int64_t(p.classes) * p.per_class;
        const RowRange mine = row_block(total, comm.rank(), comm.size());
        std::string why;
        int64_t mine_written = 0;
        try {
          mine_written = synth_images(q, mine.begin, mine.end);
        } catch (const std::exception& e) {
          why = e.what();
        }
        if (comm.max(int64_t(!why.empty()))) {
          if (why.empty()) throw EchoError(fmt("synth images: writing failed on another rank; ", p.out, " was not written"));
          throw Error(fmt(why, "; ", p.out, " was not written"));
        }
        const int64_t written = comm.sum(mine_written);
        // Every rank's images are on disk: the folder is whole.
        run_on_root(comm, "synth images: committing " + p.out, [&] { dir->commit(cfg.hash, "synth_images"); });
        log::info("synth images: wrote ", written, " PNGs (", p.classes, " classes x ", p.per_class, ", ", p.size, "x",
                  p.size, ") to ", p.out);
        return StageOutcome{};
      },
      /*precheck=*/nullptr,
      /*compute_hashed=*/false,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/nullptr,
      /*uses_blas=*/false};
  return def;
}

}  // namespace distclust
