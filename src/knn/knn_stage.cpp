#include <sys/stat.h>

#include <cmath>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <cstdio>

#include "distclust/config.h"
#include "distclust/log.h"
#include "distclust/runtime.h"
#include "knn/knn_stage.h"
#include "extract/row_centre.h"
#include "kernels/compute_target.h"

namespace distclust {
namespace {
/// Identity of the input for resuming: size, mtime, shape.
std::string features_signature(const std::string& path, int64_t n, int64_t d) {
  struct stat st{};
  stat(path.c_str(), &st);
  return fmt(path, " size ", st.st_size, " bytes, mtime ", st.st_mtime, ", ", n, " x ", d);
}
/// The ring's checkpoint files in dir (rank-R-of-P.h5 and .prev) for any P,
/// and the rank counts that made them.
std::vector<std::string> checkpoint_files(const std::string& dir, std::set<int>* counts = nullptr) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    int r = 0, np = 0, used = 0;
    if (std::sscanf(name.c_str(), "rank-%d-of-%d.h5%n", &r, &np, &used) != 2) continue;
    const std::string rest = name.substr(size_t(used));
    if (rest != "" && rest != ".prev") continue;
    out.push_back(e.path().string());
    if (counts) counts->insert(np);
  }
  return out;
}

/// Valid rows that are all zero have no direction: by cosine they score 0
/// against every row, so their neighbours are arbitrary and identical blank
/// images are never near-duplicates. Said, with the way out.
void warn_zero_rows(const FeatureBlock& b, const std::string& features, Communicator& comm) {
  int64_t zero = 0;
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i] && std::all_of(b.x.begin() + i * b.d, b.x.begin() + (i + 1) * b.d, [](float v) { return v == 0; }))
      ++zero;
  zero = comm.sum(zero);
  if (zero > 0 && comm.rank() == 0)
    log::warn("knn: ", zero, " valid rows of ", features, " are all zero: by cosine they score 0 against every ",
              "row, so their neighbours are arbitrary and copies of them are never near-duplicates (--metric l2 ",
              "compares them)");
}

/// The IVF fields do nothing in exact mode: said, since a user who set
/// --nprobe or --centroids expects them to count.
void warn_ivf_fields_in_exact(const KnnParams& p) {
  if (p.mode != "exact") return;
  const KnnParams def;
  std::string set;
  auto note = [&](bool differs, const char* name) {
    if (differs) set += (set.empty() ? "knn." : ", knn.") + std::string(name);
  };
  note(p.nlist != def.nlist, "nlist");
  note(p.nprobe != def.nprobe, "nprobe");
  note(p.target_recall != def.target_recall, "target_recall");
  note(p.tune_sample != def.tune_sample, "tune_sample");
  note(p.centroids != def.centroids, "centroids");
  note(p.recall_sample != def.recall_sample, "recall_sample");
  if (!set.empty()) log::warn_once(set, " set: these are for --mode ivf, ignored in exact mode (every pair is compared)");
}

void run_knn_stage(const KnnParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "knn: no input given (--features features.h5)");
  warn_ivf_fields_in_exact(p);
  FeatureBlock b = read_features(p.features, comm);
  check_finite(b, p.features, comm, p.metric == "l2" ? "knn --metric l2" : "");
  // L2 distances of rows far from the origin (extract/row_centre.h).
  if (p.metric == "l2") centre_far_rows(b, comm, "knn");
  {
    // Each rank keeps k + 4 (score, id) per row in its heaps, a checkpoint's
    // copy, a resumed copy and the output (12 bytes a slot each): a k near N
    // failed as a bare std::bad_alloc. The largest rank's rows, so that every
    // rank decides alike.
    const int64_t rows = b.n_total / comm.size() + (b.n_total % comm.size() != 0);
    require_memory(double(rows) * double(p.k + 4) * 12.0 * 4.0,
                   fmt("knn.k=", p.k, ": the neighbour lists of ", rows, " rows per rank (", comm.size(),
                       " ranks)"));
  }
  log::info("knn: ", p.features, ": ", b.n_total, " x ", b.d, ", k=", p.k, ", ", p.metric, ", ", p.mode, ", ",
            comm.size(), " ranks x ", compute_threads(), " threads");
  if (p.metric == "cosine") warn_zero_rows(b, p.features, comm);
  KnnGraph g;
  std::string ckpt = p.checkpoint && p.mode == "exact" ? checkpoint_path(p.out) : "";
  if (p.mode == "exact") {
    // The checkpoint key tells other settings (start afresh) from a changed
    // features file (refused by name): the settings' hash alone, then the file.
    // ";ring=half": heaps saved by the full ring of earlier versions hold
    // other rows at a given step, so they are not resumed.
    // ";centred": heaps of uncentred l2 rows chose other neighbours.
    std::string key = "params=" + config_hash(p, knn_stage().not_hashed, compute_identity()) + ";ring=half" +
                      (b.centre.empty() ? "" : ";centred") +
                      "|features=" + features_signature(p.features, b.n_total, b.d);
    if (!ckpt.empty() && comm.rank() == 0) {
      std::set<int> counts;
      checkpoint_files(ckpt, &counts);
      counts.erase(comm.size());
      for (int np : counts)
        log::info("knn: ", ckpt, " holds checkpoints of a run on ", np, " ranks; this run has ", comm.size(),
                  ": they are not resumed (removed when this run ends)");
    }
    g = knn_exact(b, p, comm, ckpt, key);
    const double flops = 2.0 * double(b.n_total) * double(b.n_total) * double(b.d);
    log::info("knn: search ", g.seconds_search, " s, ", flops / g.seconds_search / 1e9, " GFLOP/s (2*N*N*D)");
  } else {
    g = knn_ivf(b, p, comm);
    if (g.recall >= 0)
      log::info("knn: search ", g.seconds_search, " s (", g.nlist, " lists, nprobe ", g.nprobe, "), recall@", p.k, " ",
                g.recall, " on ", g.recall_rows, " sampled rows");
    else
      log::info("knn: search ", g.seconds_search, " s (", g.nlist, " lists, nprobe ", g.nprobe, "), recall not measured");
  }
  double purity = knn_label_purity(b, g, comm);
  if (purity >= 0) log::info("knn: neighbour label purity ", purity, " (fraction of neighbours sharing the row's label)");
  write_knn(p.out, comm, b, g, p, cfg.yaml, cfg.hash);
  // Every rank count's files (a run on another count left its own: GBs at scale).
  if (!ckpt.empty() && comm.rank() == 0) remove_checkpoints(knn_stage(), p.out);
  log::info("knn: wrote ", p.out);
}

}  // namespace

const StageDef<KnnParams>& knn_stage() {
  static const StageDef<KnnParams> def{
      "knn",
      {"knn"},
      "Global k-nearest-neighbour graph across ranks -> knn.h5",
      "knn.h5",
      {"features", "out", "checkpoint", "centroids", "force"},
      [](KnnParams& p, const RunLayout& w) {
        p.features = w.features();
        p.out = w.file("knn.h5");
      },
      [](const KnnParams& p) { return p.out; },
      [](const KnnParams& p) { return std::vector<std::string>{p.features, p.centroids}; },
      nullptr,
      nullptr,
      [](const KnnParams& p, Communicator& comm, const StageConfig& cfg) {
        run_knn_stage(p, comm, cfg);
        return StageOutcome{};
      },
      /*precheck=*/nullptr,
      /*compute_hashed=*/true,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/[](const std::string& out) {
        std::vector<std::string> files = checkpoint_files(checkpoint_path(out));
        files.push_back(checkpoint_path(out));  // the folder, once empty
        return files;
      }};
  return def;
}

}  // namespace distclust
