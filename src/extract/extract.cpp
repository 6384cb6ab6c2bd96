// run_extract: source -> decode pool -> backbone -> OUT.tmp -> OUT, on every
// rank (extract.h).
#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/fault.h"
#include "core/json.h"
#include "distclust/config.h"
#include "extract/decode_pool.h"
#include "distclust/error.h"
#include "extract/extract.h"
#include "distclust/log.h"
#include "extract/pixels.h"
#include "distclust/runtime.h"
#include "kernels/rows.h"
#include "extract/extract_output.h"
#include "extract/source_agreement.h"
#include "extract/pca_file.h"
#include "io/out_dir.h"
#include "distclust/progress.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Invalid rows logged per rank; the rest are in the file (/valid, /ids).
constexpr int64_t kMaxLoggedInvalid = 1000;


// Contiguous runs of rows whose done flag is 0.
std::vector<RowRange> pending_ranges(RowRange mine, const std::vector<uint8_t>& done) {
  std::vector<RowRange> out;
  for (int64_t i = 0; i < mine.size();) {
    if (done[i]) {
      ++i;
      continue;
    }
    int64_t j = i;
    while (j < mine.size() && !done[j]) ++j;
    out.push_back({mine.begin + i, mine.begin + j});
    i = j;
  }
  return out;
}

/// A GPU backbone (TorchScript's profiling executor) runs a new input
/// shape's first batches slowly: a profiling run, then the fusion
/// compiles. Two zero batches of `rows` (the first batch's shape) before the
/// timed loop keep that out of images/s and the ETA; bench extract's
/// forward-only rate is taken after warm-up too. A CPU backbone runs without
/// the profiling executor (backbone_torchscript.cpp): nothing to warm.
void warm_up(Backbone& net, int64_t rows, int64_t row_floats) {
  if (!net.on_gpu() || rows < 1) return;
  const auto t = Clock::now();
  std::vector<float> x(static_cast<size_t>(rows * row_floats), 0.0f), out(static_cast<size_t>(rows * net.dim()));
  for (int i = 0; i < 2; ++i) net.forward(x.data(), rows, out.data());
  log::detail("extract: GPU warm-up, 2 batches of ", rows, ": ", since(t), " s");
}

/// OUT.tmp opened for this job (resumed when it holds rows of these
/// settings), with the PCA written and on disk: a resume takes it from
/// there (pca: what read_resumable_projection found; taken, m's PCA is the
/// one read from the OUT.tmp being resumed).
std::unique_ptr<extract::FeatureOutput> open_output(const ExtractParams& p, Communicator& comm, const ImageSource& src,
                                                   const ExtractModel& m, const StageConfig& cfg, ResumablePca pca,
                                                   int64_t& id_len) {
  const bool pca_reused = pca == ResumablePca::taken;
  const int64_t n = src.size();
  const RowRange mine = row_block(n, comm.rank(), comm.size());
  extract::OutputLayout layout;
  layout.n = n;
  layout.d = m.net->dim();
  layout.half = p.half;
  for (int64_t i = mine.begin; i < mine.end; ++i)
    layout.id_len = std::max<int64_t>(layout.id_len, int64_t(src.id(i).size()));
  layout.id_len = comm.max(layout.id_len);
  layout.hash = cfg.hash;  // also the resume key of OUT.tmp
  id_len = layout.id_len;
  std::string note;
  // Rows whose PCA was refused are not resumed: they would sit beside rows
  // projected with the refit one.
  const bool try_resume = p.resume && pca != ResumablePca::refused;
  auto out = std::make_unique<extract::FeatureOutput>(p.out, comm, layout, try_resume, note);
  if (!note.empty()) log::info("extract: ", note);
  if (pca_reused)
    log::info("extract: PCA ", m.pca->in_dim, " -> ", m.pca->out_dim, out->resumed() ? " of the resumed rows" : "",
              ", read from ", p.out, ".tmp", out->resumed() ? "" : " (fitted with these settings; its rows are not resumed)",
              ": not fitted again");
  if (m.pca && !(pca_reused && out->resumed())) {
    write_projection(*out, *m.pca);
    out->flush_metadata();
  }
  return out;
}

/// The batch loop of one rank and what it counted.
class BatchLoop {
 public:
  BatchLoop(const ExtractParams& p, Communicator& comm, const ImageSource& src, ExtractModel& m,
            extract::FeatureOutput& out, int64_t id_len)
      : p_(p), comm_(comm), src_(src), m_(m), out_(out), id_len_(id_len), d_(m.net->dim()),
        feats_(static_cast<size_t>(int64_t(p.batch) * d_)), valid_(static_cast<size_t>(p.batch)),
        labels_(static_cast<size_t>(p.batch)), ids_(static_cast<size_t>(int64_t(p.batch) * id_len)) {}

  /// Runs `batches`. The pool decodes ahead while the backbone runs; each
  /// rank writes its batches with independent I/O as they complete, and the
  /// ranks meet only every k batches (k sized by rank 0 for ~2 s between
  /// meetings) to add up progress: no lockstep per batch, which on an
  /// oversubscribed node cost 10x (ranks spinning in collectives starve the decoders).
  void run(const std::vector<RowRange>& batches, int64_t pending) {
    DecodePool pool(src_, DecodeParams{p_.max_pixels}, m_.prep, m_.row_floats, batches, m_.decode_threads,
                    p_.queue_batches);
    Progress progress("extract", "images", pending, comm_.rank() == 0, p_.progress_seconds);
    int64_t taken = 0, k = 4;
    auto last_sync = Clock::now();
    for (;;) {
      for (const int64_t stop = std::min(pool.size(), taken + k); taken < stop; ++taken) {
        ReadyBatch b = pool.next();
        forward(b);
        pool.release();  // the decoders may refill the slot while this batch is written
        write(b.rows);
        fault_point("DISTCLUST_FAULT_AFTER_BATCHES", taken + 1);
      }
      // Meeting: rows computed, batches left, and rank 0's next k (others add 0).
      if (comm_.rank() == 0) {
        const double dt = since(last_sync);
        k = dt < 1.0 ? std::min<int64_t>(k * 2, 1 << 20) : dt > 4.0 ? std::max<int64_t>(1, k / 2) : k;
      }
      int64_t meet[3] = {computed, pool.size() - taken, comm_.rank() == 0 ? k : 0};
      comm_.allreduce_sum(meet, 3);
      last_sync = Clock::now();
      k = meet[2];
      progress.update(meet[0]);
      if (meet[1] == 0) break;
    }
    progress.finish();
    decode_wait = pool.wait_seconds();
  }

  int64_t computed = 0, bad_here = 0;
  double decode_wait = 0;

 private:
  /// One batch through the backbone; invalid rows zeroed and logged.
  void forward(const ReadyBatch& b) {
    const RowRange rows = b.rows;
    const int64_t nr = rows.size();
    m_.net->forward(b.x, nr, feats_.data());
    for (int64_t i = 0; i < nr; ++i) {
      valid_[i] = b.valid[i];
      if (!valid_[i]) mark_invalid(rows, i, (*b.reasons)[i]);
    }
  }

  /// Row i of the batch zeroed, marked invalid, counted and logged (the
  /// first kMaxLoggedInvalid of the rank).
  void mark_invalid(RowRange rows, int64_t i, const std::string& why) {
    valid_[i] = 0;
    std::fill(feats_.begin() + i * d_, feats_.begin() + (i + 1) * d_, 0.0f);
    ++bad_here;
    if (invalid_logged_++ < kMaxLoggedInvalid)
      log::warn("extract: ", src_.id(rows.begin + i), ": ", why, " (row ", rows.begin + i, " marked invalid)");
    else if (invalid_logged_ == kMaxLoggedInvalid + 1)
      log::warn("extract: more invalid rows on this rank are not logged: see /valid and /ids in ", p_.out);
  }

  /// Rows the backbone gave NaN or Inf (or, stored as float16, values
  /// beyond its range, which become Inf): invalid, not written as valid
  /// rows that every later stage refuses.
  void refuse_unstorable(RowRange rows) {
    constexpr float kHalfMax = 65504.0f;
    for (int64_t i = 0; i < rows.size(); ++i) {
      if (!valid_[i]) continue;
      const float* x = feats_.data() + i * d_;
      bool finite = true, fits = true;
      for (int64_t j = 0; j < d_; ++j) {
        finite = finite && std::isfinite(x[j]);
        fits = fits && std::fabs(x[j]) <= kHalfMax;
      }
      if (!finite)
        mark_invalid(rows, i, "the backbone's features hold NaN or Inf");
      else if (p_.half && !fits)
        mark_invalid(rows, i, "a feature beyond float16's range (|x| > 65504) with extract.half (extract without "
                              "--half, or with --normalize)");
    }
  }

  /// The batch's features (normalised if asked), labels and ids, into OUT.tmp.
  void write(RowRange rows) {
    const int64_t nr = rows.size();
    if (p_.normalize) normalize_rows(feats_.data(), nr, d_, valid_.data());
    refuse_unstorable(rows);
    std::fill(ids_.begin(), ids_.begin() + nr * id_len_, '\0');
    for (int64_t i = 0; i < nr; ++i) {
      labels_[i] = src_.label(rows.begin + i);
      const std::string id = src_.id(rows.begin + i);
      std::memcpy(ids_.data() + i * id_len_, id.data(), std::min<size_t>(id.size(), id_len_));
    }
    out_.write_batch(rows, feats_.data(), valid_.data(), labels_.data(), ids_.data());
    computed += nr;
  }

  const ExtractParams& p_;
  Communicator& comm_;
  const ImageSource& src_;
  ExtractModel& m_;
  extract::FeatureOutput& out_;
  const int64_t id_len_, d_;
  std::vector<float> feats_;
  std::vector<uint8_t> valid_;
  std::vector<int64_t> labels_;
  std::vector<char> ids_;
  int64_t invalid_logged_ = 0;
};

/// What made out's rows: attributes written before the commit.
void write_provenance(extract::FeatureOutput& out, const ExtractParams& p, const ExtractModel& m,
                      const ImageSource& src, const StageConfig& cfg) {
  out.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  out.attr("backbone", m.net->describe());
  out.attr("model", model_fingerprint(p));
  out.attr("preprocessing", m.preprocessing);
  out.attr("source", src.describe());
  // Folder names need not be UTF-8: kept apart (quote() alone made two
  // Latin-1 names one), and readable.
  std::vector<std::string> names = src.class_names();
  for (std::string& name : names) name = json::escape_invalid_utf8(name);
  out.attr("class_names", json::string_list(names));
  out.attr("params", cfg.yaml);
}

/// A file whose every row is invalid holds nothing to cluster. It was
/// committed with rc 0 ("5 rows computed"), and `run` failed one stage later
/// with "no valid rows", far from the cause (a list file's relative paths
/// read from another folder, a folder of files that are not images). Not
/// committed: OUT.tmp stays, and a rerun resumes it and says so again. Most
/// rows invalid: warned.
void require_usable_rows(const ExtractSummary& s, const ImageSource& src, const ExtractParams& p,
                         const std::string& tmp) {
  const std::string hint = src.unreadable_hint();
  const std::string why =
      s.resumed == 0 ? fmt("the warnings above give the reasons", hint)
                     : fmt("the warnings give the reasons", hint, "; ", s.resumed, " were resumed from ", tmp,
                           ", whose run logged theirs (remove it to see them again)");
  require(s.invalid < s.rows, "extract: none of the ", s.rows, " images could be used (", src.describe(),
          "): each is marked invalid, and ", why, "; nothing to cluster, so ", p.out, " is not written");
  if (2 * s.invalid > s.rows)  // the totals are every rank's: said by rank 0
    log::warn_once("extract: ", s.invalid, " of ", s.rows, " images are invalid (the warnings above give the reasons",
                   hint, "); the later stages use the other ", s.rows - s.invalid);
}

}  // namespace

ExtractSummary run_extract(const ExtractParams& p, Communicator& comm, const BackboneLoader& loader,
                           const StageConfig& cfg) {
  p.validate();
  require_apart(p.out, {p.pca_from});
  const auto t_start = Clock::now();
  // Parallelism is across images: OpenCV's own threads would only contend.
  cv::setNumThreads(1);
  std::unique_ptr<ImageSource> src = open_source(source_params(p));
  const int64_t n = src->size();
  require(n >= 1, "extract: ", src->describe(), " holds no images");
  log::info("extract: ", src->describe());
  require_same_listing(*src, p.source, comm);
  Projection resumed;
  const ResumablePca found = p.resume && p.pca_from.empty() && p.pca_dim > 0
                                 ? read_resumable_projection(p.out, cfg.hash, comm, resumed)
                                 : ResumablePca::none;
  const bool reuse_pca = found == ResumablePca::taken;
  ExtractModel m = make_extract_model(p, *src, comm, loader, compute_threads() > 0 ? compute_threads() : 1,
                                      reuse_pca ? &resumed : nullptr);
  const int64_t d = m.net->dim();
  const RowRange mine = row_block(n, comm.rank(), comm.size());
  int64_t id_len = 0;
  std::unique_ptr<extract::FeatureOutput> out = open_output(p, comm, *src, m, cfg, found, id_len);

  const std::vector<RowRange> batches = plan_batches(pending_ranges(mine, out->done(mine)), p.batch);
  int64_t mine_pending = 0;
  for (const RowRange& b : batches) mine_pending += b.size();
  const int64_t pending = comm.sum(mine_pending);
  if (out->resumed())
    log::info("extract: resuming from ", out->tmp_path(), ": ", n - pending, " of ", n, " rows already done");
  log::info("extract: ", n, " images -> ", p.out, " (", n, " x ", d, p.half ? " float16" : " float32", "), ",
            comm.size(), " rank(s); per rank: ", m.net->describe(), ", ", m.decode_threads, " decode + ",
            m.net->on_gpu() ? std::string("GPU") : fmt(m.model_threads, " backbone"), " threads, batch ", p.batch);
  if (!batches.empty()) warm_up(*m.net, batches.front().size(), m.row_floats);
  const auto t_loop = Clock::now();
  BatchLoop loop(p, comm, *src, m, *out, id_len);
  loop.run(batches, pending);
  const double loop_secs = since(t_loop);

  ExtractSummary s;
  s.rows = n;
  s.dim = d;
  s.computed = comm.sum(loop.computed);
  s.resumed = n - s.computed;
  int64_t bad = 0;
  for (uint8_t x : out->valid(mine)) bad += x ? 0 : 1;
  s.invalid = comm.sum(bad);
  const int64_t bad_here = comm.sum(loop.bad_here);
  s.backbone = m.net->describe();
  s.images_per_second = loop_secs > 0 ? s.computed / loop_secs : 0;
  require_usable_rows(s, *src, p, out->tmp_path());
  write_provenance(*out, p, m, *src, cfg);
  out->commit(s.invalid);
  s.seconds = since(t_start);
  log::info("extract: wrote ", p.out, ": ", n, " x ", d, p.half ? " float16" : " float32", ", ", s.invalid,
            " invalid rows (", bad_here, " found by this run), ", s.computed, " rows computed",
            s.resumed ? fmt(" (", s.resumed, " resumed)") : std::string(), " in ", loop_secs, " s = ",
            s.images_per_second, " images/s (rank 0 waited ", loop.decode_wait, " s for decoding); ", s.seconds,
            " s in all");
  return s;
}

}  // namespace distclust
