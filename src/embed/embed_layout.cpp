// The SGD of UMAP's layout (umap-learn's optimize_layout_euclidean) across
// ranks.
//
// Each rank owns its rows' coordinates and samples its rows' edges. Every
// rank holds the previous epoch's whole layout [N x D] (an allgather per
// epoch): the negative samples are drawn uniformly from all N rows, about
// negative_sample_rate x the sampled edges per epoch, so after a few epochs
// a rank would have fetched nearly every row anyway, and one allgather of
// N x D floats (8 MB at N = 1M, D = 2) is cheaper than request lists.
//
// Within an epoch a row moves only itself: umap-learn moves both ends of a
// sampled edge (i, j) and samples each direction, so a sampled symmetric
// edge pulls i twice (as head and as the moved tail). Here row i's copy of
// the edge pulls i by twice the clipped gradient and row j's copy (on j's
// owner) pulls j, against the epoch's snapshot: the attraction to repulsion
// balance is umap-learn's, and a row's update depends only on the snapshot,
// its own coordinates and draws keyed by (seed, epoch, row), so the layout is
// the same bits for any rank count and thread count (umap-learn's parallel
// mode updates in place without locks and is not reproducible).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/fault.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "embed/embed.h"
#include "io/state_file.h"

namespace distclust {
namespace {

/// Checkpoint: the layout after `epochs_done` epochs (io/state_file.h).
struct EmbedState {
  std::string key;         ///< settings and inputs: must match to resume
  int64_t epochs_done = 0; ///< epochs whose updates are in y
  std::vector<float> y;    ///< [N x D] the whole layout
  template <class V> void visit(V& v) {
    v("key", key);
    v("epochs_done", epochs_done);
    v("y", y);
  }
};

inline float clip4(float v) { return std::max(-4.0f, std::min(4.0f, v)); }

/// One epoch of row-local updates of rows [0, nloc) into `mine`, reading
/// the snapshot `all` [N x D].
struct Epoch {
  const FuzzyGraph& g;
  const std::vector<float>& eps;     ///< [edges] epochs per sample (-1: pruned)
  const std::vector<uint8_t>& valid; ///< [N]
  const std::vector<float>& all;     ///< [N x D] snapshot
  CurveAB ab;
  int dim;
  int neg_rate;
  uint64_t seed;

  void row(int64_t i, int64_t n, float alpha, float* cur) const {
    const int64_t gi = g.rows.begin + i;
    const uint64_t N = uint64_t(g.n);
    // The row's stream for this epoch: splitmix64 from a state keyed by
    // (seed, epoch, row): one mix per draw.
    uint64_t state = key_hash(seed, uint64_t(n), uint64_t(gi));
    const float a = float(ab.a), b = float(ab.b);
    for (int64_t e = g.offsets[size_t(i)]; e < g.offsets[size_t(i) + 1]; ++e) {
      const double ep = eps[size_t(e)];
      const int64_t j = g.cols[size_t(e)];
      if (ep < 0 || !valid[size_t(j)]) continue;
      // Due when a multiple of ep falls in (n - 1, n] (umap-learn's
      // epoch_of_next_sample <= n, without its float drift).
      if (n < 1 || std::floor(double(n) / ep) == std::floor(double(n - 1) / ep)) continue;
      const float* o = all.data() + j * dim;
      float d2 = 0;
      for (int c = 0; c < dim; ++c) d2 += (cur[c] - o[c]) * (cur[c] - o[c]);
      if (d2 > 0) {
        const float pb = std::pow(d2, b);  // d2^(b-1) = pb / d2
        const float gc = -2.0f * a * b * (pb / d2) / (a * pb + 1.0f);
        for (int c = 0; c < dim; ++c) cur[c] += 2.0f * clip4(gc * (cur[c] - o[c])) * alpha;
      }
      for (int s = 0; s < neg_rate; ++s) {
        state += 0x9e3779b97f4a7c15ull;
        const int64_t k = int64_t(mix64(state) % N);
        if (k == gi || !valid[size_t(k)]) continue;
        const float* q = all.data() + k * dim;
        float q2 = 0;
        for (int c = 0; c < dim; ++c) q2 += (cur[c] - q[c]) * (cur[c] - q[c]);
        if (q2 <= 0) continue;
        const float gc = 2.0f * b / ((0.001f + q2) * (a * std::pow(q2, b) + 1.0f));
        for (int c = 0; c < dim; ++c) cur[c] += clip4(gc * (cur[c] - q[c])) * alpha;
      }
    }
  }
};

/// Epochs per sample of each edge (umap-learn's make_epochs_per_sample after
/// pruning edges below max weight / epochs): max weight / w, -1 = pruned.
std::vector<float> epochs_per_sample(const FuzzyGraph& g, int epochs, Communicator& comm) {
  float wmax = 0;
  for (float w : g.weights) wmax = std::max(wmax, w);
  wmax = comm.max(wmax);
  std::vector<float> eps(g.weights.size(), -1.0f);
  for (size_t e = 0; e < eps.size(); ++e)
    if (g.weights[e] >= wmax / float(epochs) && g.weights[e] > 0) eps[e] = wmax / g.weights[e];
  return eps;
}

/// A layout spans tens of units (its start is scaled to 10, the attraction
/// curve to min_dist and spread ~1): a coordinate past this, or not finite,
/// means the steps diverged (embed.learning_rate 1e30 wrote coordinates of
/// 6e33 with exit 0, which the next stage then refused).
constexpr float kMaxLayoutCoordinate = 1e5f;

/// Throws on every rank when any rank's rows y [rows x D] of the layout
/// have diverged. Each rank scans only its own rows (scanning the gathered
/// layout cost every rank N x D an epoch: 50-115 s over a run at N = 1e8),
/// then one max over the ranks.
void require_converging(const std::vector<float>& y, const std::vector<uint8_t>& valid_all, RowRange rows, int D,
                        int64_t epoch, double learning_rate, Communicator& comm) {
  int64_t bad = 0;
  for (int64_t i = 0; i < rows.size() && !bad; ++i) {
    if (!valid_all[size_t(rows.begin + i)]) continue;
    for (int j = 0; j < D; ++j)
      if (!(std::fabs(y[size_t(i * D + j)]) <= kMaxLayoutCoordinate)) bad = 1;  // NaN fails too
  }
  require(comm.max(bad) == 0, "embed: the layout diverged after epoch ", epoch,
          " (a coordinate past 1e5 or not finite; a layout spans tens of units): lower embed.learning_rate (now ",
          learning_rate, ")");
}

}  // namespace

double embed_layout(const FuzzyGraph& g, const EmbedParams& p, const std::vector<uint8_t>& valid_all,
                    std::vector<float>& y, Communicator& comm, const std::string& ckpt, const std::string& key) {
  const int64_t N = g.n, nloc = g.rows.size();
  const int D = p.dim, E = embed_epochs(p, N);
  require(int64_t(y.size()) == nloc * D, "embed: layout of ", y.size(), " values for ", nloc, " rows x ", D);
  const std::vector<float> eps = epochs_per_sample(g, E, comm);
  std::vector<size_t> counts(size_t(comm.size()));
  for (int r = 0; r < comm.size(); ++r) counts[r] = size_t(row_block(N, r, comm.size()).size() * D);
  EmbedState st;
  st.key = key;
  auto usable = [&](const EmbedState& s) -> std::string {
    if (s.key != key) return "made with other settings or inputs";
    if (int64_t(s.y.size()) != N * D || s.epochs_done < 0 || s.epochs_done > E) return "its layout has another shape";
    return "";
  };
  std::vector<float> all;
  if (!ckpt.empty() && load_state<EmbedState>(ckpt, st, comm, usable)) {
    all.swap(st.y);
    log::info("embed: resuming from ", ckpt, " after ", st.epochs_done, " of ", E, " epochs");
  } else {
    st.epochs_done = 0;
    all.assign(size_t(N * D), 0.0f);
    std::copy(y.begin(), y.end(), all.begin() + g.rows.begin * D);
    comm.allgather_blocks(all.data(), counts, DType::f32);
  }
  const Epoch ep{g, eps, valid_all, all, fit_ab(p.min_dist, p.spread), D, p.negative_sample_rate,
                 uint64_t(p.seed)};
  log::info("embed: curve a ", ep.ab.a, ", b ", ep.ab.b, " (min_dist ", p.min_dist, ", spread ", p.spread, "), ", E,
            " epochs");
  std::copy(all.begin() + g.rows.begin * D, all.begin() + g.rows.end * D, y.begin());
  Progress progress("embed", "epochs", E - st.epochs_done, comm.rank() == 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t first = st.epochs_done;
  for (int64_t n = st.epochs_done; n < E; ++n) {
    const float alpha = float(p.learning_rate * (1.0 - double(n) / double(E)));
#pragma omp parallel for schedule(dynamic, 256) num_threads(compute_threads())
    for (int64_t i = 0; i < nloc; ++i)
      if (valid_all[size_t(g.rows.begin + i)]) ep.row(i, n, alpha, y.data() + i * D);
    std::copy(y.begin(), y.end(), all.begin() + g.rows.begin * D);
    comm.allgather_blocks(all.data(), counts, DType::f32);
    require_converging(y, valid_all, g.rows, D, n + 1, p.learning_rate, comm);
    progress.update(n + 1 - first);
    if (!ckpt.empty() && p.checkpoint_every > 0 && (n + 1) % p.checkpoint_every == 0 && n + 1 < E) {
      st.epochs_done = n + 1;
      st.y.swap(all);
      save_state(ckpt, st, comm);
      st.y.swap(all);
      fault_point("DISTCLUST_FAULT_AFTER_EPOCHS", n + 1, &comm);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return E > first ? secs / double(E - first) : 0.0;
}

}  // namespace distclust
