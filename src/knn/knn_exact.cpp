// Exact kNN: a ring pass with the search kernel into per-query heaps of k+4
// candidates (half a ring: each pair of ranks, and each pair of rows, is
// multiplied once and the candidates of the far side sent back), then a
// second ring pass rescoring every candidate exactly in double precision.
// The rescoring makes the graph independent of how rows were tiled across
// ranks and threads (one answer for any rank count), puts ties in row order,
// and gives exact similarities.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <unistd.h>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <sys/stat.h>

#include "kernels/compute_target.h"
#include "knn/graph_value.h"
#include "knn/knn_ring.h"
#include "core/fault.h"
#include "distclust/error.h"
#include "distclust/runtime.h"
#include "io/state_file.h"
#include "knn/knn.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/search.h"

namespace distclust {

void KnnParams::validate() const {
  require(k >= 1, "knn.k: ", k, " must be >= 1");
  require(metric == "cosine" || metric == "l2", "knn.metric: '", metric, "' is not one of cosine|l2");
  require(mode == "exact" || mode == "ivf", "knn.mode: '", mode, "' is not one of exact|ivf");
  require(nlist >= 0 && nprobe >= 0, "knn.nlist/nprobe: ", nlist, "/", nprobe, " must be >= 0");
  require(recall_sample >= 0, "knn.recall_sample: ", recall_sample, " must be >= 0");
  require(tune_sample >= 0, "knn.tune_sample: ", tune_sample, " must be >= 0");
  require(target_recall > 0 && target_recall <= 1, "knn.target_recall: ", target_recall, " must be in (0, 1]");
  require(tile_rows >= 1 && tile_cols >= 16 && tile_rows <= (1 << 20) && tile_cols <= (1 << 20),
          "knn.tile_rows/tile_cols: ", tile_rows, "/", tile_cols, " must be in [1, 1048576]/[16, 1048576]");
  // Their memory depends on D and N: checked where those are known (knn_exact).
}

namespace {

/// Per-rank checkpoint of the search pass (io/state_file.h, one file per
/// rank): the ring steps done and the heaps.
struct KnnState {
  std::string key;                 ///< "params=<settings hash>|features=<signature of the file>"
  int64_t steps_done = 0;          ///< ring steps whose blocks are in the heaps
  int64_t rows = 0, cap = 0;       ///< heap shape
  std::vector<float> scores;       ///< [rows x cap]
  std::vector<int64_t> indices;    ///< [rows x cap]
  template <class V> void visit(V& v) {
    v("key", key);
    v("steps_done", steps_done);
    v("rows", rows);
    v("cap", cap);
    v("scores", scores);
    v("indices", indices);
  }
};

struct KnnCkpt {
  std::string path;
  /// The generation before the latest: ranks killed between their saves of
  /// one ring step (one has step s, another s - 1) resume from s - 1.
  std::string prev() const { return path + ".prev"; }
  void save(const std::string& key, int steps_done, TopK& top, int64_t n) const {
    // Keep the latest as the previous generation (a hard link: the rename
    // that commits the new one leaves it whole), then write the new one.
    std::remove(prev().c_str());
    if (file_exists(path) && ::link(path.c_str(), prev().c_str()) != 0)
      log::warn("knn: cannot keep the previous checkpoint generation ", prev(), ": ", std::strerror(errno));
    // The heaps move into the state and back: no copy of [n x cap].
    KnnState s{key, steps_done, n, top.cap(), std::move(top.raw_scores()), std::move(top.raw_indices())};
    try {
      write_state_file(path, s);
    } catch (...) {
      top.raw_scores() = std::move(s.scores), top.raw_indices() = std::move(s.indices);
      throw;
    }
    top.raw_scores() = std::move(s.scores);
    top.raw_indices() = std::move(s.indices);
  }
  /// Steps done (0 = nothing usable; -1 = there but unreadable, its
  /// checksum included) in the generation `file` (path or prev()). `key`
  /// identifies input and parameters.
  int load(const std::string& file, const std::string& key, TopK& top, int64_t n) const {
    if (!file_exists(file)) return 0;
    KnnState s;
    try {
      read_state_file(file, s);
    } catch (const Error& e) {
      log::warn("knn: ignoring checkpoint ", file, ": unreadable (", e.what(), ")");
      return -1;
    }
    // key = "params=<hash>|features=<signature>": other parameters -> start
    // afresh; same parameters but a changed features file -> stop and say so.
    if (s.key != key) {
      auto part = [](const std::string& k) { return k.substr(0, k.find('|')); };
      if (part(s.key) != part(key)) {
        log::warn("knn: ignoring checkpoint ", file, " made with other parameters");
        return 0;
      }
      throw Error(fmt("knn: the features file changed since checkpoint ", file, " was written:\n  then: ",
                      s.key.substr(s.key.find('|') + 1), "\n  now:  ", key.substr(key.find('|') + 1),
                      "\nremove ", file, " (or restore the file) to go on"));
    }
    const size_t cells = size_t(n) * size_t(top.cap());
    if (s.rows != n || s.cap != top.cap() || s.scores.size() != cells || s.indices.size() != cells) return 0;
    top.raw_scores() = std::move(s.scores);
    top.raw_indices() = std::move(s.indices);
    top.normalize();  // a checkpoint of an older version holds heaps
    return static_cast<int>(s.steps_done);
  }
};

/// Ring steps of the search pass: 0..P/2. Each pair of ranks meets once:
/// at step s < P/2 rank r searches the block of r - s both ways and sends
/// that rank its half (search_step); at s = P/2 (P even) both ranks of a
/// pair hold each other's block and each searches for its own rows.
int half_ring_steps(int P) { return P / 2 + 1; }

}  // namespace

double knn_exact_flops(int64_t N, int64_t d, int P, int r, int64_t tile, bool pairs_once) {
  const RowRange own = row_block(N, r, P);
  const double n = double(own.size());
  double self = 2.0 * n * n;  // two searches: every ordered pair
  if (pairs_once) {           // tile pairs once, tiles on the diagonal in full
    double squares = 0;
    for (int64_t t0 = own.begin - own.begin % tile; t0 < own.end; t0 += tile) {
      const double m = double(std::min(own.end, t0 + tile) - std::max(own.begin, t0));
      squares += m * m;
    }
    self = n * n + squares;
  }
  double cross = 0;
  for (int s = 1; s < half_ring_steps(P); ++s) {
    const double other = double(row_block(N, ((r - s) % P + P) % P, P).size());
    cross += (2 * s == P || pairs_once ? 2.0 : 4.0) * n * other;
  }
  return double(d) * (self + cross);
}

namespace {

/// The ring step to start from (0 = afresh), with the checkpointed heaps in
/// top. Resumes at the latest step every rank has saved: a job killed
/// between the ranks' saves leaves some one step ahead, and those go back to
/// their previous generation (KnnCkpt::prev), as does a rank whose latest is
/// unreadable. A heap from another step
/// cannot be rolled back (searched again from an earlier step it held
/// duplicate neighbours: seen in the Slurm requeue test), so a rank without
/// that step makes all start afresh.
int resume_step(const KnnCkpt& ck, const std::string& ckpt_dir, const std::string& input_key, TopK& top, int64_t n,
                Communicator& comm) {
  TopK loaded(n, top.cap());
  int mine = ck.load(ck.path, input_key, loaded, n);
  // A latest generation that is there but unreadable (its checksum refused
  // it: bytes changed on disk) costs one step, not the whole search: this
  // rank goes back to its previous generation, and the others follow it.
  // The previous one then takes the damaged one's name, so that the next
  // save keeps a readable generation behind it.
  if (mine < 0) {
    mine = std::max(0, ck.load(ck.prev(), input_key, loaded, n));
    if (mine > 0 && std::rename(ck.prev().c_str(), ck.path.c_str()) == 0)
      log::warn("knn: ", ck.path, ": going back to its previous generation (ring step ", mine, ")");
  }
  const int lo = -comm.max(-mine), hi = comm.max(mine);
  if (mine != lo && lo > 0) {
    TopK prev(n, top.cap());
    if (ck.load(ck.prev(), input_key, prev, n) == lo) {
      loaded = std::move(prev);
      mine = lo;
    }
  }
  const bool all_at_lo = comm.max(mine == lo ? 0 : 1) == 0;
  const int start = all_at_lo ? lo : 0;
  if (start > 0) {
    top = std::move(loaded);
    log::info("knn: resuming from ", ckpt_dir, " after ", start, " of ", half_ring_steps(comm.size()), " ring steps",
              lo == hi ? std::string() : fmt(" (ranks were at steps ", lo, "..", hi, "; those ahead went back one)"));
  } else if (hi > 0) {
    log::info("knn: checkpoints in ", ckpt_dir, " are at ring steps ", lo, "..", hi, " of ", half_ring_steps(comm.size()),
              " with no common step: starting afresh");
  }
  return start;
}

/// Pass 2: each candidate's exact score (double), computed where its row is.
std::vector<double> rescore(FeatureBlock& b, const TopK& top, bool l2, Communicator& comm) {
  const int64_t n = b.local_rows(), d = b.d;
  const int cap = top.cap();
  std::vector<double> exact(static_cast<size_t>(n * cap), -std::numeric_limits<double>::infinity());
  ring_pass(b, comm, 0, [&](const RingBlock& blk, int) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < n; ++q) {
      if (!b.valid[q]) continue;
      const int64_t* idx = top.indices(q);
      for (int c = 0; c < cap; ++c)
        if (idx[c] >= blk.rows.begin && idx[c] < blk.rows.end)
          exact[q * cap + c] = exact_score(b.x.data() + q * d, blk.x + (idx[c] - blk.rows.begin) * d, d, l2);
    }
  });
  return exact;
}

/// The graph: each valid row's k best candidates by exact score (ties to the
/// lower row), with those scores (l2: distances).
KnnGraph best_k(const FeatureBlock& b, const TopK& top, const std::vector<double>& exact, int k, bool l2) {
  const int64_t n = b.local_rows();
  const int cap = top.cap();
  KnnGraph g;
  g.k = k;
  g.rows = b.rows;
  g.indices.assign(static_cast<size_t>(n * k), -1);
  g.values.assign(static_cast<size_t>(n * k), 0.0f);
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < n; ++q) {
    if (!b.valid[q]) continue;
    std::vector<int> order(cap);
    std::iota(order.begin(), order.end(), 0);
    const int64_t* idx = top.indices(q);
    const double* e = &exact[q * cap];
    std::sort(order.begin(), order.end(), [&](int a, int c) { return e[a] > e[c] || (e[a] == e[c] && idx[a] < idx[c]); });
    for (int j = 0; j < k; ++j) {
      g.indices[q * k + j] = idx[order[j]];
      g.values[q * k + j] = graph_value(e[order[j]], l2);
    }
  }
  return g;
}

/// One ring step of the search pass into top (the rank's rows).
void search_step(SearchKernel& kernel, const FeatureBlock& b, const RingBlock& blk, int step, Metric metric,
                 TopK& top, Communicator& comm, const std::function<void(int64_t)>& on_rows) {
  const int64_t n = b.local_rows(), d = b.d;
  const int P = comm.size(), r = comm.rank();
  const SearchQueries mine{b.x.data(), n, d, b.rows.begin};
  if (step == 0) {  // the rank's own block: a self-join
    kernel.search_self(mine, b.valid.data(), metric, top, on_rows);
    return;
  }
  if (2 * step == P) {  // the pair's other rank searches the other way
    kernel.search(mine, SearchBase{blk.x, blk.rows.size(), blk.rows.begin, nullptr, nullptr, blk.valid, true}, metric,
                  top, on_rows);
    return;
  }
  // Both ways at once; the candidates for blk's rows go back to their rank,
  // and this rank's come from rank r + step, which holds its block now.
  TopK back(blk.rows.size(), top.cap());
  kernel.search_pair(mine, b.valid.data(), {blk.x, blk.rows.size(), d, blk.rows.begin}, blk.valid, metric, top, back,
                     on_rows);
  const int from = (r + step) % P;
  const size_t cells = size_t(n) * size_t(top.cap());
  std::vector<float> s(cells);
  std::vector<int64_t> ix(cells);
  comm.sendrecv(back.raw_scores().data(), back.raw_scores().size() * sizeof(float), blk.origin, s.data(),
                cells * sizeof(float), from);
  comm.sendrecv(back.raw_indices().data(), back.raw_indices().size() * sizeof(int64_t), blk.origin, ix.data(),
                cells * sizeof(int64_t), from);
  const int cap = top.cap();
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < n; ++q)
    for (int c = 0; c < cap; ++c)
      if (ix[size_t(q * cap + c)] != std::numeric_limits<int64_t>::max())
        top.push(q, s[size_t(q * cap + c)], ix[size_t(q * cap + c)]);
}

}  // namespace

KnnGraph knn_exact(FeatureBlock& b, const KnnParams& p, Communicator& comm, const std::string& ckpt_dir,
                   const std::string& input_key) {
  p.validate();
  const int64_t n = b.local_rows();
  if (!compute_target().torch)  // (LibTorch kernels size their blocks by memory)
    require_memory(cpu_search_bytes({p.tile_rows, p.tile_cols}, b.d, b.n_total, true),
                   fmt("knn.tile_rows x tile_cols = ", p.tile_rows, " x ", p.tile_cols, " at D=", b.d,
                       " (per thread: a square join tile of tile_rows, or a score tile and a padded row tile)"));
  const int64_t n_valid = count_valid(b, comm);
  require(p.k < n_valid, "knn: k=", p.k, " must be below the number of valid rows (", n_valid, " of ", b.n_total,
          "): each row needs k neighbours other than itself");
  const bool l2 = p.metric == "l2";
  if (!l2) normalize_rows(b);
  // k + 4 candidates: the rescoring in double may reorder float near-ties at the k-th place.
  TopK top(n, static_cast<int>(std::min<int64_t>(p.k + 4, n_valid - 1)));

  // Pass 1: search, a ring of row blocks through the search kernel.
  KnnCkpt ck;
  int start = 0;
  if (!ckpt_dir.empty()) {
    if (comm.rank() == 0) ::mkdir(ckpt_dir.c_str(), 0755);
    comm.barrier();
    ck.path = fmt(ckpt_dir, "/rank-", comm.rank(), "-of-", comm.size(), ".h5");
    start = resume_step(ck, ckpt_dir, input_key, top, n, comm);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto kernel = make_search({p.tile_rows, p.tile_cols});
  HeldRows held(*kernel, b.x.data(), n, b.d);  // this rank's rows: every ring step's queries
  const int steps = half_ring_steps(comm.size());
  // Rank 0's share (ranks hold equal shares): local queries x ring steps.
  Progress progress("knn exact (rank 0)", "query rows", n * (steps - start), comm.rank() == 0);
  ring_pass(b, comm, start, [&](const RingBlock& blk, int step) {
    const int64_t before = n * (step - start);
    search_step(*kernel, b, blk, step, l2 ? Metric::l2 : Metric::inner_product, top, comm,
                [&](int64_t rows) { progress.update(before + rows); });
    progress.finish();
    log::detail("knn: ring step ", step + 1, "/", steps, " done (block of rank ", blk.origin, ", ",
              blk.rows.size(), " rows)");
    if (!ck.path.empty() && p.checkpoint) {
      ck.save(input_key, step + 1, top, n);
      comm.barrier();
    }
    fault_point("DISTCLUST_FAULT_AFTER_STEPS", step + 1, &comm);
  }, steps, kernel.get());  // the kernel's device blocks, when it offers them

  if (const std::string t = kernel->time_report(); !t.empty())
    log::info("knn exact: kernel time (", kernel->name(), "): ", t);  // this rank's (the line's r<rank>)
  KnnGraph g = best_k(b, top, rescore(b, top, l2, comm), p.k, l2);
  g.seconds_search = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g.pairs_once = kernel->joins_pairs_once();
  return g;
}

double knn_label_purity(const FeatureBlock& b, const KnnGraph& g, Communicator& comm) {
  // Labels of all rows as int32 (4 bytes/row) to look neighbours up.
  std::vector<int32_t> mine(b.labels.begin(), b.labels.end());
  std::vector<int32_t> all = comm.allgather(mine);
  double same = 0, total = 0;
  for (int64_t q = 0; q < b.local_rows(); ++q) {
    if (b.labels[q] < 0 || !b.valid[q]) continue;
    for (int64_t j = 0; j < g.k; ++j) {
      int64_t nb = g.indices[q * g.k + j];
      if (nb < 0 || all[nb] < 0) continue;
      same += all[nb] == b.labels[q];
      total += 1;
    }
  }
  same = comm.sum(same);
  total = comm.sum(total);
  return total > 0 ? same / total : -1.0;
}

}  // namespace distclust
